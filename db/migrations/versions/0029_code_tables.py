"""code tables kept by managers in the staff console (issue 19)

Branches get an address and a phone; new tables hold the shelf locations of each branch,
the patron categories (until now db.rules.CATEGORIES, seeded here with the same codes and
order, so nothing changes for existing rows), the card numbering rule (one row, the rule
db.card_numbers applied until now), the library's identity (one row) and the home page's
announcements. staff_audit gets `changes`: a code-table change's before and after values.

Existing databases keep their data: each shelf location in use by a copy becomes a row of
its branch. A fresh database gets its rows here too (the tables are seeded, not the demo).

Revision ID: 0029_code_tables
Revises: 0028_search_tokens
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_code_tables"
down_revision = "0028_search_tokens"
branch_labels = None
depends_on = None

# db.rules.CATEGORIES as of this migration, with the words web/labels.py gave them.
CATEGORIES = (
    ("general", "一般", "General"),
    ("university", "大学生", "University student"),
    ("high_school", "高校生", "High school student"),
    ("junior_high", "中学生", "Junior high school student"),
    ("elementary", "小学生以下", "Elementary school or younger"),
    ("other", "その他", "Other"),
)
LIBRARY_NAMES = {"ja": "藤沢市図書館", "en": "Fujisawa City Libraries"}
LIBRARY_SHORT_NAMES = {"ja": "藤沢市図書館", "en": "Fujisawa Libraries"}


def _names() -> sa.Column[object]:
    return sa.Column("names", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))


def upgrade() -> None:
    op.add_column("branch", sa.Column("address", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "branch", sa.Column("phone", sa.String(length=30), nullable=False, server_default="")
    )
    # A plain ADD COLUMN: a batch rebuild would drop the append-only triggers.
    op.add_column("staff_audit", sa.Column("changes", sa.Text(), nullable=True))
    shelf = op.create_table(
        "shelf_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        _names(),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("branch_id", "code", name="uq_shelf_location_branch_code"),
    )
    category = op.create_table(
        "patron_category",
        sa.Column("code", sa.String(length=20), nullable=False),
        _names(),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    card_rule = op.create_table(
        "card_number_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=10), nullable=False),
        sa.Column("serial_digits", sa.Integer(), nullable=False),
        sa.Column("check_digit", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    identity = op.create_table(
        "library_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        _names(),
        sa.Column("short_names", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("address", sa.Text(), nullable=False, server_default=""),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_announcement_window", "announcement", ["starts_on", "ends_on"])

    op.bulk_insert(
        category,
        [
            {"code": code, "names": {"ja": ja, "en": en}, "sort_order": n}
            for n, (code, ja, en) in enumerate(CATEGORIES)
        ],
    )
    op.bulk_insert(
        card_rule, [{"id": 1, "prefix": "21", "serial_digits": 7, "check_digit": "luhn"}]
    )
    op.bulk_insert(
        identity,
        [
            {
                "id": 1,
                "names": LIBRARY_NAMES,
                "short_names": LIBRARY_SHORT_NAMES,
                "address": "",
                "phone": "",
                "email": "",
                "logo_type": "",
            }
        ],
    )
    used = op.get_bind().execute(
        sa.text(
            "SELECT DISTINCT branch_id, shelf_location FROM item WHERE shelf_location <> '' "
            "ORDER BY branch_id, shelf_location"
        )
    )
    rows = [
        {"branch_id": branch_id, "code": code, "names": {"ja": code}, "sort_order": 0}
        for branch_id, code in used
    ]
    if rows:
        op.bulk_insert(shelf, rows)


def downgrade() -> None:
    op.drop_index("ix_announcement_window", table_name="announcement")
    op.drop_table("announcement")
    op.drop_table("library_identity")
    op.drop_table("card_number_rule")
    op.drop_table("patron_category")
    op.drop_table("shelf_location")
    op.drop_column("staff_audit", "changes")
    with op.batch_alter_table("branch") as batch:
        batch.drop_column("phone")
        batch.drop_column("address")
