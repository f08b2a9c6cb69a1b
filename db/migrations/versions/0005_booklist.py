"""booklist: one encrypted My Booklist per patron (ciphertext and wrapped keys only)

Revision ID: 0005_booklist
Revises: 0002_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_booklist"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booklist",
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("kdf_salt", sa.String(length=64), nullable=True),
        sa.Column("kdf_iterations", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.String(length=128), nullable=True),
        sa.Column("recovery_salt", sa.String(length=64), nullable=True),
        sa.Column("recovery_wrapped_key", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patron_id"),
    )


def downgrade() -> None:
    op.drop_table("booklist")
