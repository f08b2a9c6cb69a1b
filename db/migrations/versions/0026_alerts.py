"""new arrivals and alerts: copies' acquisition date, saved conditions, what was mailed

`item.acquired_on` (受入日) is the library-local day a copy arrived; a work is new while its
first copy is recent (db.queries.new_arrivals). `alert_condition` holds a patron's saved
conditions and `alert_sent` the (condition, work) pairs already mailed (db.queries.alerts).

Revision ID: 0026_alerts
Revises: 0025_stats
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_alerts"
down_revision = "0025_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("item", sa.Column("acquired_on", sa.Date(), nullable=True))
    op.create_index("ix_item_acquired_work", "item", ["acquired_on", "work_id"])
    op.create_index("ix_item_work_acquired", "item", ["work_id", "acquired_on"])
    op.create_table(
        "alert_condition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_condition_patron", "alert_condition", ["patron_id", "id"])
    op.create_table(
        "alert_sent",
        sa.Column("condition_id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["condition_id"], ["alert_condition.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("condition_id", "work_id"),
    )
    op.create_index("ix_alert_sent_at", "alert_sent", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_sent_at", table_name="alert_sent")
    op.drop_table("alert_sent")
    op.drop_index("ix_alert_condition_patron", table_name="alert_condition")
    op.drop_table("alert_condition")
    op.drop_index("ix_item_work_acquired", table_name="item")
    op.drop_index("ix_item_acquired_work", table_name="item")
    op.drop_column("item", "acquired_on")
