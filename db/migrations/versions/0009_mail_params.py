"""mail_outbox stores a notice's language and parameters; the web composes its text

A row queued from now on holds `lang` and `params` (JSON text) and an empty subject; the
sender composes subject and body at delivery. Rows queued before this revision keep their
finished subject and body (and `params` NULL): the sender delivers those as they are, so
mail waiting in the queue during the upgrade is still sent.

Revision ID: 0009_mail_params
Revises: 0008_localized_names
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_mail_params"
down_revision = "0008_localized_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("lang", sa.String(length=10), nullable=False, server_default=""))
        batch.add_column(sa.Column("params", sa.Text(), nullable=True))


def downgrade() -> None:
    # Unsent rows with parameters have no text an older sender could deliver: they go.
    op.execute("DELETE FROM mail_outbox WHERE params IS NOT NULL AND sent_at IS NULL")
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("params")
        batch.drop_column("lang")
