"""holds: reservations, notice preferences, loan reminders, mail delivery-in-doubt marker

Revision ID: 0004_holds
Revises: 0002_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_holds"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("pickup_branch_id", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("ready_until", sa.Date(), nullable=True),
        sa.Column("suspended_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pickup_branch_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patron_id", "work_id", name="uq_hold_patron_work"),
        sa.UniqueConstraint("item_id", name="uq_hold_item"),
    )
    op.create_index("ix_hold_work_queue", "hold", ["work_id", "placed_at", "id"])
    op.create_index("ix_hold_patron", "hold", ["patron_id"])
    op.create_index("ix_hold_state_ready_until", "hold", ["state", "ready_until"])
    op.create_table(
        "notice_preference",
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("hold_ready", sa.Boolean(), nullable=False),
        sa.Column("due_reminder_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patron_id"),
    )
    op.create_table(
        "loan_reminder",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("loan_id"),
    )
    # Set just before the end of SMTP DATA; a row with it and no sent_at is "in doubt".
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("send_started_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("send_started_at")
    op.drop_table("loan_reminder")
    op.drop_table("notice_preference")
    op.drop_index("ix_hold_state_ready_until", table_name="hold")
    op.drop_index("ix_hold_patron", table_name="hold")
    op.drop_index("ix_hold_work_queue", table_name="hold")
    op.drop_table("hold")
