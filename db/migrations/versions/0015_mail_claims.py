"""mail_outbox: who holds a claim, how often a message was left in doubt, staff re-queues

`claimed_by` names the sending run that holds a row's short, renewed claim (lease), so a
run whose lease ran out cannot record a row another run has taken since. `doubts` counts
how often the sender lost sight of a message after its final "." (in doubt): such a message
is re-sent with the same Message-ID a bounded number of times (db.queries.mail).
`retry_from` is when staff re-queued a given-up row: its retry period counts from then
(NULL: from `created_at`, which also names the Message-ID and so is never changed).

Revision ID: 0015_mail_claims
Revises: 0014_staff_admin_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_mail_claims"
down_revision = "0014_staff_admin_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mail_outbox", sa.Column("claimed_by", sa.String(40), nullable=True))
    op.add_column(
        "mail_outbox", sa.Column("doubts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("mail_outbox", sa.Column("retry_from", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN on both engines: the table is not rebuilt.
    op.drop_column("mail_outbox", "retry_from")
    op.drop_column("mail_outbox", "doubts")
    op.drop_column("mail_outbox", "claimed_by")
