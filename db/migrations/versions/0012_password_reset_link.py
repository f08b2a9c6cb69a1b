"""password_reset_link: reset links carry a random token whose digest is stored

The token in an emailed link used to be a signed (patron id, password fingerprint) pair:
readable by anyone who saw the link, and usable until the password changed. Now it is a
random value; the row holds its SHA-256 digest, the patron and the expiry, and goes when
the link is used. Links sent before this revision stop working (they expire within the
hour in any case).

Revision ID: 0012_password_reset_link
Revises: 0011_email_pending
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_password_reset_link"
down_revision = "0011_email_pending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_reset_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_password_reset_link_patron_id"),
        "password_reset_link",
        ["patron_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_password_reset_link_patron_id"), table_name="password_reset_link")
    op.drop_table("password_reset_link")
