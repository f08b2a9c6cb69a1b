"""Ids of patrons and other personal rows are never handed out again (SQLite AUTOINCREMENT)

Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so a patron registered after
the newest one was purged would get the purged patron's id, and with it the staff-access
history (staff_audit rows keep the id) and anything else still keyed by it. Each table is
rebuilt in batch mode with its rows, ids and indexes kept. PostgreSQL's sequences never go
back, so nothing changes there.

Revision ID: 0013_ids_never_reused
Revises: 0012_password_reset_link
"""

from __future__ import annotations

from alembic import op

revision = "0013_ids_never_reused"
down_revision = "0012_password_reset_link"
branch_labels = None
depends_on = None

# Rows that belong to a person (or say what was done to one): their ids are never reused.
TABLES = (
    "patron",
    "loan",
    "hold",
    "activation_code",
    "password_reset_link",
    "mail_outbox",
    "staff_account",
    "staff_audit",
)


# A rebuilt table loses its triggers: staff_audit's append-only guard (0003) comes back.
_AUDIT_TRIGGERS = (
    "CREATE TRIGGER staff_audit_no_update BEFORE UPDATE ON staff_audit "
    "BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only'); END",
    "CREATE TRIGGER staff_audit_no_delete BEFORE DELETE ON staff_audit "
    "BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only'); END",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    for statement in _AUDIT_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
