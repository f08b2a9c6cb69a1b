"""staff_audit also records managers' actions on staff accounts

A manager creating an account, changing its role, branch or dates, issuing an enrolment link
or ending it writes an audit row (patron_id NULL) naming the account acted on in the new
column `target_staff_code`. A plain ADD COLUMN on both engines: the table is not rebuilt, so
its append-only triggers stay.

Revision ID: 0014_staff_admin_audit
Revises: 0013_ids_never_reused
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_staff_admin_audit"
down_revision = "0013_ids_never_reused"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_audit", sa.Column("target_staff_code", sa.String(20), nullable=True))


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite; the rows of account actions go with it.
    op.drop_column("staff_audit", "target_staff_code")
