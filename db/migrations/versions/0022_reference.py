"""the reference service: questions, their threads and sources, anonymised cases, counts

`reference_question` holds the personal link (patron, category) of a question; its thread
(`reference_message`, with `internal` staff notes) and cited sources (`reference_source`)
go with it. `reference_case` is the anonymised, second-staff-approved text for the public
collection and the CRD export; `reference_count` the anonymous statistics (db.reference).

Revision ID: 0022_reference
Revises: 0020_loan_rules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_reference"
down_revision = "0020_loan_rules"
branch_labels = None
depends_on = None


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "reference_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        _text("question"),
        _text("checked"),
        sa.Column("useful_by", sa.Date(), nullable=True),
        sa.Column("notify_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("assigned_staff_id", sa.Integer(), nullable=True),
        sa.Column("notice_mail_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["assigned_staff_id"], ["staff_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_reference_question_patron", "reference_question", ["patron_id", "created_at"]
    )
    op.create_index("ix_reference_question_status", "reference_question", ["status", "created_at"])
    op.create_index("ix_reference_question_closed", "reference_question", ["closed_at"])

    op.create_table(
        "reference_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        _text("body"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["reference_question.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_reference_message_question", "reference_message", ["question_id", "created_at"]
    )

    op.create_table(
        "reference_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=True),
        _text("text"),
        sa.ForeignKeyConstraint(["message_id"], ["reference_message.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reference_source_message", "reference_source", ["message_id", "position"])

    op.create_table(
        "reference_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        _text("question"),
        _text("answer"),
        _text("answer_process"),
        _text("pre_research"),
        _text("bibliography"),
        _text("note"),
        _text("keywords"),
        sa.Column("ndc", sa.String(length=100), nullable=False),
        sa.Column("solved", sa.Boolean(), nullable=False),
        _text("search_text"),
        sa.Column("written_by", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["question_id"], ["reference_question.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["written_by"], ["staff_account.id"]),
        sa.ForeignKeyConstraint(["approved_by"], ["staff_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reference_case_status", "reference_case", ["status", "published_at"])

    op.create_table(
        "reference_count",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "category", "event"),
    )


def downgrade() -> None:
    op.drop_table("reference_count")
    op.drop_index("ix_reference_case_status", table_name="reference_case")
    op.drop_table("reference_case")
    op.drop_index("ix_reference_source_message", table_name="reference_source")
    op.drop_table("reference_source")
    op.drop_index("ix_reference_message_question", table_name="reference_message")
    op.drop_table("reference_message")
    for name in ("closed", "status", "patron"):
        op.drop_index(f"ix_reference_question_{name}", table_name="reference_question")
    op.drop_table("reference_question")
