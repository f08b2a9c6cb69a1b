"""patron.email_pending: an address staff entered waits for the patron's confirmation

An email address entered by staff is no longer used at once (it could be used to take over
the web account through a password reset): it is kept in `email_pending` with the time it
was recorded, until the patron confirms it in My Library. `email_changed_at` is when the
confirmed address last changed, shown to the patron. Existing addresses stay confirmed.

Revision ID: 0011_email_pending
Revises: 0010_notice_links
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_email_pending"
down_revision = "0010_notice_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patron") as batch:
        batch.add_column(sa.Column("email_pending", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("email_pending_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("email_changed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # An unconfirmed address was never in use: it goes with its columns.
    with op.batch_alter_table("patron") as batch:
        batch.drop_column("email_changed_at")
        batch.drop_column("email_pending_at")
        batch.drop_column("email_pending")
