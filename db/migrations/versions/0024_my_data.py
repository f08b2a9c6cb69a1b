"""my data: notice settings per kind, email confirmation links, address change requests

`notice_setting` holds, per patron and kind of notice, whether it is mailed (else 連絡不要)
and whether the mail names titles; `notice_preference.hold_ready` moves into it (kind
"ready") and is dropped. `email_confirmation` is an address the patron typed, waiting for
its single-use link; `address_change` a new address waiting for the counter. And
`patron.purge_reminded_for`: the purge date the patron was last reminded of. And
`overdue_notice`: the overdue mail queued for a loan (once per loan, gone with the loan).

Revision ID: 0024_my_data
Revises: 0023_terminals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_my_data"
down_revision = "0023_terminals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_setting",
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("titles", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patron_id", "kind"),
    )
    # Only a refusal needs a row; mail names no title unless the patron asks (issue 16).
    op.execute(
        "INSERT INTO notice_setting (patron_id, kind, email, titles) "
        "SELECT patron_id, 'ready', false, false FROM notice_preference WHERE NOT hold_ready"
    )
    with op.batch_alter_table("notice_preference") as batch:
        batch.drop_column("hold_ready")
    op.create_table(
        "email_confirmation",
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patron_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "address_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("postal_code", sa.String(length=7), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patron_id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("patron") as batch:
        batch.add_column(sa.Column("purge_reminded_for", sa.Date(), nullable=True))
    op.create_table(
        "overdue_notice",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("loan_id"),
    )


def downgrade() -> None:
    op.drop_table("overdue_notice")
    with op.batch_alter_table("patron") as batch:
        batch.drop_column("purge_reminded_for")
    op.drop_table("address_change")
    op.drop_table("email_confirmation")
    with op.batch_alter_table("notice_preference") as batch:
        batch.add_column(
            sa.Column("hold_ready", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute(
        "UPDATE notice_preference SET hold_ready = false WHERE patron_id IN "
        "(SELECT patron_id FROM notice_setting WHERE kind = 'ready' AND NOT email)"
    )
    op.drop_table("notice_setting")
