"""Branch and material type names per language: one JSON `names` column {"ja": …, "en": …}

Replaces name_ja / name_en, so a third language is one more key and no new column. The
existing names are copied over before the old columns go.

Revision ID: 0008_localized_names
Revises: 0007_reminder_mail
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_localized_names"
down_revision = "0007_reminder_mail"
branch_labels = None
depends_on = None

_KEYS = {"branch": "id", "material_type": "code"}


def upgrade() -> None:
    conn = op.get_bind()
    for name, key in _KEYS.items():
        # NOT NULL needs a default for the rows already there (SQLite adds columns so).
        op.add_column(
            name, sa.Column("names", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        table = sa.table(
            name,
            sa.column(key),
            sa.column("name_ja"),
            sa.column("name_en"),
            sa.column("names", sa.JSON()),
        )
        for row in conn.execute(sa.select(table.c[key], table.c.name_ja, table.c.name_en)).all():
            conn.execute(
                table.update()
                .where(table.c[key] == row[0])
                .values(names={"ja": row.name_ja, "en": row.name_en})
            )
        # Plain columns: SQLite (3.35+) drops them in place, without rebuilding the table
        # that patrons, items and staff accounts refer to.
        op.drop_column(name, "name_en")
        op.drop_column(name, "name_ja")


def downgrade() -> None:
    conn = op.get_bind()
    for name, key in _KEYS.items():
        for column in ("name_ja", "name_en"):
            op.add_column(
                name,
                sa.Column(column, sa.String(100), nullable=False, server_default=sa.text("''")),
            )
        table = sa.table(
            name,
            sa.column(key),
            sa.column("name_ja"),
            sa.column("name_en"),
            sa.column("names", sa.JSON()),
        )
        for row in conn.execute(sa.select(table.c[key], table.c.names)).all():
            names = row.names or {}
            conn.execute(
                table.update()
                .where(table.c[key] == row[0])
                .values(name_ja=names.get("ja", ""), name_en=names.get("en", ""))
            )
        op.drop_column(name, "names")
