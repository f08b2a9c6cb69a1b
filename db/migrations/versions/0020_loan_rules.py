"""Loan rules per patron category x material type

A new table `loan_rule` (loan period, items of the type a patron may have out, renewals,
"block" or "warn" at the counter), seeded with what the code did until now: each material
type's `loan_days`, the global loan limit (20) and renewal limit (1), refusing at the
counter. A fresh database gets its rows from `ensure_reference_data` (db.loan_rules),
since its material types are created after the migrations.

Revision ID: 0020_loan_rules
Revises: 0019_series_holds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_loan_rules"
down_revision = "0019_series_holds"
branch_labels = None
depends_on = None

# db.rules as of this migration (a migration never imports code that may change later).
CATEGORIES = ("general", "university", "high_school", "junior_high", "elementary", "other")
LOAN_LIMIT = 20
RENEWAL_LIMIT = 1


def upgrade() -> None:
    rule = op.create_table(
        "loan_rule",
        sa.Column("category", sa.String(20), primary_key=True),
        sa.Column(
            "material_type",
            sa.String(20),
            sa.ForeignKey("material_type.code", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("loan_days", sa.Integer(), nullable=False),
        sa.Column("max_items", sa.Integer(), nullable=False),
        sa.Column("max_renewals", sa.Integer(), nullable=False),
        sa.Column("enforce", sa.String(10), nullable=False),
    )
    bind = op.get_bind()
    types = bind.execute(sa.text("SELECT code, loan_days FROM material_type")).all()
    rows = [
        {
            "category": category,
            "material_type": code,
            "loan_days": loan_days,
            "max_items": LOAN_LIMIT,
            "max_renewals": RENEWAL_LIMIT,
            "enforce": "block",
        }
        for code, loan_days in types
        for category in CATEGORIES
    ]
    if rows:
        op.bulk_insert(rule, rows)


def downgrade() -> None:
    op.drop_table("loan_rule")
