"""library-card applications from the web (利用者仮登録申請, issue 13)

One table, `application`: what an applicant typed (normalised: furigana in katakana, phone
digits, a seven-digit postal code), the receipt number (仮登録番号) shown to the counter,
the emailed confirmation link's digest, the consent version, a probable-duplicate flag, and
the day after which `shiori retention run` deletes it. Ids are never reused (0013).

Revision ID: 0021_applications
Revises: 0020_loan_rules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_applications"
down_revision = "0020_loan_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_number", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("postal_code", sa.String(length=7), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("phone_digits", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("email_confirmed", sa.Boolean(), nullable=False),
        sa.Column("email_token_hash", sa.String(length=64), nullable=True),
        sa.Column("email_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("home_branch_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("consent_version", sa.String(length=20), nullable=False),
        sa.Column("probable_duplicate", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("counted_at", sa.DateTime(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("confirm_mail_id", sa.Integer(), nullable=True),
        sa.Column("receipt_mail_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["home_branch_id"], ["branch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt_number"),
        sa.UniqueConstraint("email_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_application_counted", "application", ["counted_at"])
    op.create_index("ix_application_phone_digits", "application", ["phone_digits"])


def downgrade() -> None:
    op.drop_index("ix_application_phone_digits", table_name="application")
    op.drop_index("ix_application_counted", table_name="application")
    op.drop_table("application")
