"""merge the staff, holds and booklist branches (each was built on 0002_accounts)

Revision ID: 0006_merge_features
Revises: 0003_staff, 0004_holds, 0005_booklist
"""

from __future__ import annotations

revision = "0006_merge_features"
down_revision = ("0003_staff", "0004_holds", "0005_booklist")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only joins the three heads into one."""


def downgrade() -> None:
    """Nothing to change: downgrading splits the heads again."""
