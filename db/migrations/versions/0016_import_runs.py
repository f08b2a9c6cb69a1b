"""import_run: catalogue imports in progress, so an interrupted one is known and resumed

`shiori import` writes a row before its first batch, counts loaded records in it with every
batch (same transaction) and deletes it after the last. A row left behind is an import that
was killed: the next import of that file says it resumes it, and other commands can say that
the catalogue is incomplete (db/queries/catalog_import.py).

Revision ID: 0016_import_runs
Revises: 0015_mail_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_import_runs"
down_revision = "0015_mail_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_path", sa.String(1000), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("records_done", sa.Integer(), nullable=False),
    )
    op.create_index("ix_import_run_file_path", "import_run", ["file_path"])


def downgrade() -> None:
    op.drop_index("ix_import_run_file_path", table_name="import_run")
    op.drop_table("import_run")
