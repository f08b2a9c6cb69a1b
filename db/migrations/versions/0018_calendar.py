"""calendar: each branch's weekly opening hours and its dated closures (開館日カレンダー)

`branch_hours` holds one row per branch and weekday (0 = Monday): closed, or the hours as
"HH:MM" text ("" when not stated). A weekday without a row is open (hours not stated), so a
library that never keeps a calendar lends as before. `branch_closure` holds dated closures,
a day or a range (年末年始, 特別整理期間, other). New tables only: nothing existing changes.

Revision ID: 0018_calendar
Revises: 0016_import_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_calendar"
down_revision = "0016_import_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branch_hours",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=False),
        sa.Column("closes", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("branch_id", "weekday"),
    )
    op.create_table(
        "branch_closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_branch_closure_branch_ends", "branch_closure", ["branch_id", "ends_on", "starts_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_branch_closure_branch_ends", table_name="branch_closure")
    op.drop_table("branch_closure")
    op.drop_table("branch_hours")
