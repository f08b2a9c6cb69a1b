"""series reservations, step back and the estimate memo on holds

`hold_request` groups holds placed as one series request (mode `in_order` or `together`);
each hold names its request and its place in it (`sequence`). `step_back_passes` and
`step_back_until` let a patron let others go first without losing the reservation. The
`est_*` columns remember the last estimate window the patron acknowledged, so the page can
say when and why it changed (positions and estimates themselves stay derived). Plain ADD
COLUMNs on both engines: the hold table is not rebuilt.

Revision ID: 0019_series_holds
Revises: 0018_calendar
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_series_holds"
down_revision = "0018_calendar"
branch_labels = None
depends_on = None

_MEMO = ("est_from", "est_to", "est_ahead", "est_on")


def upgrade() -> None:
    op.create_table(
        "hold_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paused_on", sa.Date(), nullable=True),
        sa.Column("released_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_hold_request_patron", "hold_request", ["patron_id"])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline REFERENCES (alembic would rebuild the table).
        op.execute("ALTER TABLE hold ADD COLUMN request_id INTEGER REFERENCES hold_request (id)")
    else:
        op.add_column("hold", sa.Column("request_id", sa.Integer(), nullable=True))
        op.create_foreign_key(None, "hold", "hold_request", ["request_id"], ["id"])
    op.create_index("ix_hold_request_id", "hold", ["request_id"])
    op.add_column("hold", sa.Column("sequence", sa.Integer(), nullable=True))
    op.add_column(
        "hold",
        sa.Column("step_back_passes", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("hold", sa.Column("step_back_until", sa.Date(), nullable=True))
    op.add_column("hold", sa.Column("est_from", sa.Date(), nullable=True))
    op.add_column("hold", sa.Column("est_to", sa.Date(), nullable=True))
    op.add_column("hold", sa.Column("est_ahead", sa.Integer(), nullable=True))
    op.add_column("hold", sa.Column("est_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hold") as batch:
        for name in (*_MEMO, "step_back_until", "step_back_passes", "sequence"):
            batch.drop_column(name)
        batch.drop_index("ix_hold_request_id")
        batch.drop_column("request_id")
    op.drop_index("ix_hold_request_patron", table_name="hold_request")
    op.drop_table("hold_request")
