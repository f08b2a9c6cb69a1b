"""the library's statistics: registrations by category and age band, searches, zero-hit queries

`registration_count` and `search_count` are anonymous counts like `daily_count`;
`zero_hit_search` keeps a day's zero-hit queries with a keyed hash of the visitor (its
daily salt derived from the server's secret key, never stored) until `shiori retention run`
aggregates them into `zero_hit_query` (distinct visitors per query and day) and deletes
them (db.stats).

Revision ID: 0025_stats
Revises: 0024_my_data
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_stats"
down_revision = "0024_my_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_count",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("age_band", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.PrimaryKeyConstraint("day", "branch_id", "category", "age_band"),
    )
    op.create_table(
        "search_count",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "event"),
    )
    op.create_table(
        "zero_hit_search",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("query", sa.String(length=100), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", "query", "session_hash"),
    )
    op.create_table(
        "zero_hit_query",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("query", sa.String(length=100), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "query"),
    )


def downgrade() -> None:
    op.drop_table("zero_hit_query")
    op.drop_table("zero_hit_search")
    op.drop_table("search_count")
    op.drop_table("registration_count")
