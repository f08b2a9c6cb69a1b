"""library kiosks: the terminals a manager registered and enrolled

Revision ID: 0023_terminals
Revises: 0022_reference
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_terminals"
down_revision = "0022_reference"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terminal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("floor_guide", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("enrol_hash", sa.String(length=64), nullable=True),
        sa.Column("enrol_expires_at", sa.DateTime(), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enrol_hash"),
    )


def downgrade() -> None:
    op.drop_table("terminal")
