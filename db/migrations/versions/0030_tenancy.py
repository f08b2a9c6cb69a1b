"""many libraries on one PostgreSQL (issue 21, seed 002)

Tables `library` and `library_host`; library 1 ("default") owns every existing row. Every
library-owned table (db.tenancy.OWNED, as of this migration) gets `library_id` NOT NULL
referencing library; business keys become unique per library (codes that are primary keys
become (library_id, code), and the references to a material type follow). On PostgreSQL
the column's default is the transaction's library and row-level security (ENABLE + FORCE,
one policy per table) keeps each transaction to its library. SQLite stays one library: its
default is 1 and it has no policies.

Revision ID: 0030_tenancy
Revises: 0029_code_tables
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0030_tenancy"
down_revision = "0029_code_tables"
branch_labels = None
depends_on = None

SETTING = "shiori.library"
POLICY = "library_only"
POLICY_EXPRESSION = f"library_id = NULLIF(current_setting('{SETTING}', true), '')::int"
PG_DEFAULT = f"(current_setting('{SETTING}'))::integer"

# db.tenancy.OWNED as of this migration.
OWNED = (
    "announcement",
    "branch",
    "card_number_rule",
    "import_run",
    "library_identity",
    "mail_outbox",
    "material_type",
    "patron_category",
    "reference_count",
    "search_count",
    "staff_audit",
    "throttle",
    "zero_hit_query",
    "zero_hit_search",
    "application",
    "branch_closure",
    "branch_hours",
    "daily_count",
    "item",
    "loan_rule",
    "patron",
    "registration_count",
    "shelf_location",
    "staff_account",
    "terminal",
    "activation_code",
    "address_change",
    "alert_condition",
    "booklist",
    "email_confirmation",
    "hold_request",
    "loan",
    "notice_preference",
    "notice_setting",
    "password_reset_link",
    "reference_question",
    "staff_password_history",
    "staff_recovery_code",
    "staff_session",
    "web_session",
    "alert_sent",
    "hold",
    "loan_reminder",
    "overdue_notice",
    "reference_case",
    "reference_message",
    "reference_source",
)

# Primary keys that gain the library (before: the same without it).
PRIMARY_KEYS = {
    "material_type": ("code",),
    "patron_category": ("code",),
    "throttle": ("key",),
    "reference_count": ("day", "category", "event"),
    "search_count": ("day", "event"),
    "zero_hit_search": ("day", "query", "session_hash"),
    "zero_hit_query": ("day", "query"),
    "card_number_rule": ("id",),
    "library_identity": ("id",),
    "loan_rule": ("category", "material_type"),
}
# Unique business keys that become unique per library: table -> (column, new name).
UNIQUE = {
    "branch": ("code", "uq_branch_library_code"),
    "item": ("barcode", "uq_item_library_barcode"),
    "patron": ("card_number", "uq_patron_library_card_number"),
    "staff_account": ("staff_code", "uq_staff_account_library_code"),
    "application": ("receipt_number", "uq_application_library_receipt"),
}
# References to a material type: table -> ondelete.
MATERIAL_TYPE_REFS = {"item": None, "loan_rule": "CASCADE"}

# SQLite rebuilds (batch) lose AUTOINCREMENT unless told (0013) and staff_audit's triggers.
NEVER_REUSED = {
    "patron",
    "loan",
    "hold",
    "hold_request",
    "activation_code",
    "password_reset_link",
    "mail_outbox",
    "staff_account",
    "staff_audit",
    "reference_question",
    "reference_message",
    "application",
    "address_change",
    "alert_condition",
}
_AUDIT_TRIGGERS = (
    "CREATE TRIGGER staff_audit_no_update BEFORE UPDATE ON staff_audit "
    "BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only'); END",
    "CREATE TRIGGER staff_audit_no_delete BEFORE DELETE ON staff_audit "
    "BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only'); END",
)
# Names for SQLite's unnamed constraints, so a rebuild can drop them.
_CONVENTION = {
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _library_name() -> str:
    row = op.get_bind().execute(sa.text("SELECT names FROM library_identity")).first()
    names: Any = row[0] if row else {}
    if isinstance(names, str):
        names = json.loads(names)
    return str(names.get("ja") or names.get("en") or "default")


def _create_tables() -> None:
    library = op.create_table(
        "library",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "library_host",
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["library_id"], ["library.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("host"),
    )
    op.create_index("ix_library_host_library_id", "library_host", ["library_id"])
    op.bulk_insert(library, [{"id": 1, "code": "default", "name": _library_name()}])
    if _is_pg():
        op.execute("SELECT setval(pg_get_serial_sequence('library', 'id'), 1)")


def _pg_constraint(table: str, kind: str, columns: tuple[str, ...]) -> str:
    """The name of a constraint PostgreSQL gave (p: primary key, u: unique, f: foreign key)
    on exactly `columns` of `table`."""
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT c.conname, array_agg(a.attname::text ORDER BY a.attname) FROM pg_constraint c "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
                "WHERE c.conrelid = CAST(:table AS regclass) AND c.contype = :kind "
                "GROUP BY c.conname"
            ),
            {"table": table, "kind": kind},
        )
        .all()
    )
    for name, cols in rows:
        if sorted(cols) == sorted(columns):
            return str(name)
    raise RuntimeError(f"no {kind} constraint on {table} {columns}")


def _upgrade_pg() -> None:
    for table in OWNED:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN library_id INTEGER NOT NULL DEFAULT 1 "
            f"CONSTRAINT {table}_library_id_fkey REFERENCES library (id)"
        )
    for table in MATERIAL_TYPE_REFS:
        name = _pg_constraint(table, "f", ("material_type",))
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table, columns in PRIMARY_KEYS.items():
        name = _pg_constraint(table, "p", columns)
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(columns)}, library_id)")
    for table, (column, new) in UNIQUE.items():
        name = _pg_constraint(table, "u", (column,))
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {new} UNIQUE (library_id, {column})")
    for table, ondelete in MATERIAL_TYPE_REFS.items():
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_library_id_material_type_fkey "
            "FOREIGN KEY (library_id, material_type) REFERENCES material_type (library_id, code)"
            + (f" ON DELETE {ondelete}" if ondelete else "")
        )
    for table in OWNED:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN library_id SET DEFAULT {PG_DEFAULT}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} "
            f"USING ({POLICY_EXPRESSION}) WITH CHECK ({POLICY_EXPRESSION})"
        )


def _library_column(table: str) -> sa.Column[int]:
    # In a primary key that gains the library, the column says so too (a rebuild checks
    # the key against its columns).
    return sa.Column(
        "library_id",
        sa.Integer(),
        sa.ForeignKey("library.id", name=f"fk_{table}_library_id_library"),
        nullable=False,
        server_default=sa.text("1"),
        primary_key=table in PRIMARY_KEYS,
    )


def _rebuilt() -> set[str]:
    return set(PRIMARY_KEYS) | set(UNIQUE) | set(MATERIAL_TYPE_REFS)


def _upgrade_sqlite() -> None:
    # Foreign keys are off during migrations (db.migrate): a plain ADD COLUMN may name one.
    for table in OWNED:
        if table not in _rebuilt():
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN library_id INTEGER NOT NULL DEFAULT 1 "
                "REFERENCES library (id)"
            )
    for table in sorted(_rebuilt()):
        with op.batch_alter_table(
            table,
            recreate="always",
            naming_convention=_CONVENTION,
            table_kwargs={"sqlite_autoincrement": table in NEVER_REUSED},
        ) as batch:
            batch.add_column(_library_column(table))
            if table in PRIMARY_KEYS:
                batch.create_primary_key(f"pk_{table}", [*PRIMARY_KEYS[table], "library_id"])
            if table in UNIQUE:
                column, new = UNIQUE[table]
                batch.drop_constraint(f"uq_{table}_{column}", type_="unique")
                batch.create_unique_constraint(new, ["library_id", column])
            if table in MATERIAL_TYPE_REFS:
                batch.drop_constraint(f"fk_{table}_material_type_material_type", type_="foreignkey")
                batch.create_foreign_key(
                    f"fk_{table}_library_id_material_type",
                    "material_type",
                    ["library_id", "material_type"],
                    ["library_id", "code"],
                    ondelete=MATERIAL_TYPE_REFS[table],
                )


def upgrade() -> None:
    _create_tables()
    if _is_pg():
        _upgrade_pg()
    else:
        _upgrade_sqlite()


def _refuse_many() -> None:
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM library")).scalar_one()
    if count > 1:
        raise RuntimeError("more than one library: a downgrade would merge them; refused")


def _downgrade_pg() -> None:
    for table in OWNED:
        op.execute(f"DROP POLICY {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in MATERIAL_TYPE_REFS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_library_id_material_type_fkey")
    for table, (column, new) in UNIQUE.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {new}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_key UNIQUE ({column})")
    for table, columns in PRIMARY_KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(columns)})")
    for table, ondelete in MATERIAL_TYPE_REFS.items():
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_material_type_fkey "
            "FOREIGN KEY (material_type) REFERENCES material_type (code)"
            + (f" ON DELETE {ondelete}" if ondelete else "")
        )
    for table in OWNED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN library_id")


def _downgrade_sqlite() -> None:
    for table in OWNED:
        with op.batch_alter_table(
            table,
            recreate="always",
            naming_convention=_CONVENTION,
            table_kwargs={"sqlite_autoincrement": table in NEVER_REUSED},
        ) as batch:
            if table in MATERIAL_TYPE_REFS:
                batch.drop_constraint(f"fk_{table}_library_id_material_type", type_="foreignkey")
                batch.create_foreign_key(
                    f"fk_{table}_material_type_material_type",
                    "material_type",
                    ["material_type"],
                    ["code"],
                    ondelete=MATERIAL_TYPE_REFS[table],
                )
            if table in UNIQUE:
                column, new = UNIQUE[table]
                batch.drop_constraint(new, type_="unique")
                batch.create_unique_constraint(f"uq_{table}_{column}", [column])
            batch.drop_column("library_id")
    for statement in _AUDIT_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    _refuse_many()
    if _is_pg():
        _downgrade_pg()
    else:
        _downgrade_sqlite()
    op.drop_index("ix_library_host_library_id", table_name="library_host")
    op.drop_table("library_host")
    op.drop_table("library")
