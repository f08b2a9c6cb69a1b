"""a cancelled reservation's undo note works once: the notes used (db.hold_undo)

The database kept nothing of a cancelled reservation, so nothing remembered that its undo
note had been used: once staff (or the patron, in another tab) cancelled the restored
reservation, the same note brought it back again at its old place for the rest of its 10
minutes. `hold_undo_used` keeps the id of each reservation put back and when it was
cancelled (no patron, no title); the primary key on the id makes a second use fail in the
restore's own transaction. The retention job deletes rows past the undo window.

Library-owned (db.tenancy): `library_id` with the transaction's library as its default and,
on PostgreSQL, row-level security as every owned table has (migration 0030). The key stays
the id alone: reservation ids are global serials.

Revision ID: 0033_hold_undo_used
Revises: 0032_word_end_tokens
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_hold_undo_used"
down_revision = "0032_word_end_tokens"
branch_labels = None
depends_on = None

TABLE = "hold_undo_used"
# As migration 0030 for every owned table.
SETTING = "shiori.library"
POLICY = "library_only"
POLICY_EXPRESSION = f"library_id = NULLIF(current_setting('{SETTING}', true), '')::int"
PG_DEFAULT = f"(current_setting('{SETTING}'))::integer"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        TABLE,
        sa.Column("hold_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=False),
        sa.Column(
            "library_id",
            sa.Integer(),
            sa.ForeignKey("library.id", name=f"fk_{TABLE}_library_id_library"),
            nullable=False,
            server_default=sa.text(PG_DEFAULT if pg else "1"),
        ),
        sa.PrimaryKeyConstraint("hold_id", name=f"pk_{TABLE}"),
    )
    if pg:
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY} ON {TABLE} "
            f"USING ({POLICY_EXPRESSION}) WITH CHECK ({POLICY_EXPRESSION})"
        )


def downgrade() -> None:
    op.drop_table(TABLE)
