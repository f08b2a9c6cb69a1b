"""loan_reminder remembers its outbox row, so a return can withdraw an unsent reminder

Revision ID: 0007_reminder_mail
Revises: 0006_merge_features
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_reminder_mail"
down_revision = "0006_merge_features"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan_reminder") as batch:
        batch.add_column(sa.Column("mail_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loan_reminder") as batch:
        batch.drop_column("mail_id")
