"""catalog: branches, material types, works, items

Revision ID: 0001_catalog
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name_ja", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "material_type",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name_ja", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("loan_days", sa.Integer(), nullable=False),
        sa.Column("reservable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_yomi", sa.Text(), nullable=False),
        sa.Column("title_romaji", sa.Text(), nullable=False),
        sa.Column("subtitle", sa.Text(), nullable=False),
        sa.Column("responsibility", sa.Text(), nullable=False),
        sa.Column("authors", sa.Text(), nullable=False),
        sa.Column("authors_yomi", sa.Text(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=False),
        sa.Column("publisher_yomi", sa.Text(), nullable=False),
        sa.Column("pub_place", sa.String(length=200), nullable=False),
        sa.Column("pub_year", sa.Integer(), nullable=True),
        sa.Column("edition", sa.String(length=200), nullable=False),
        sa.Column("extent", sa.String(length=200), nullable=False),
        sa.Column("series", sa.Text(), nullable=False),
        sa.Column("ndc", sa.String(length=100), nullable=False),
        sa.Column("subjects", sa.Text(), nullable=False),
        sa.Column("subjects_yomi", sa.Text(), nullable=False),
        sa.Column("isbn", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("title_norm", sa.String(length=1000), nullable=False),
        sa.Column("yomi_norm", sa.String(length=1000), nullable=False),
        sa.Column("sort_key", sa.String(length=1000), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_work_source"),
    )
    op.create_index("ix_work_pub_year", "work", ["pub_year"], unique=False)
    for name, column in (
        ("ix_work_sort_key", "sort_key"),
        ("ix_work_title_norm", "title_norm"),
        ("ix_work_yomi_norm", "yomi_norm"),
    ):
        op.create_index(name, "work", [sa.text(f'{column} COLLATE "C"') if _pg() else column])
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("material_type", sa.String(length=20), nullable=False),
        sa.Column("call_number", sa.String(length=100), nullable=False),
        sa.Column("shelf_location", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branch.id"],
        ),
        sa.ForeignKeyConstraint(
            ["material_type"],
            ["material_type.code"],
        ),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("barcode"),
    )
    op.create_index(
        "ix_item_branch_status_work", "item", ["branch_id", "status", "work_id"], unique=False
    )
    op.create_index("ix_item_type_work", "item", ["material_type", "work_id"], unique=False)
    op.create_index("ix_item_work", "item", ["work_id"], unique=False)
    op.create_table(
        "work_isbn",
        sa.Column("isbn13", sa.String(length=13), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("isbn13", "work_id"),
    )
    op.create_index("ix_work_isbn_work", "work_isbn", ["work_id"])
    op.create_table(
        "work_ndc",
        sa.Column("ndc", sa.String(length=20), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("cls", sa.String(length=1), nullable=False),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ndc", "work_id"),
    )
    op.create_index("ix_work_ndc_work", "work_ndc", ["work_id"])
    op.create_index("ix_work_ndc_cls_work", "work_ndc", ["cls", "work_id"])
    _create_search_index()


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_search_index() -> None:
    # The token stream comes from db.search; see db/catalog_index.py.
    if _pg():
        op.execute(
            "CREATE TABLE work_search (work_id integer PRIMARY KEY REFERENCES work(id) "
            "ON DELETE CASCADE, tsv tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX ix_work_search_tsv ON work_search USING gin (tsv)")
    else:
        # Contentless: tokens only. ascii tokenizer = split on spaces (tokens are prebuilt);
        # prefix index of one character serves one-character queries.
        op.execute(
            "CREATE VIRTUAL TABLE work_fts USING fts5(title, author, publisher, subject, "
            "content='', tokenize='ascii', prefix='1', columnsize=0, detail=full)"
        )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS work_search")
    op.execute("DROP TABLE IF EXISTS work_fts")
    op.drop_table("work_ndc")
    op.drop_table("work_isbn")
    op.drop_index("ix_item_work", table_name="item")
    op.drop_index("ix_item_type_work", table_name="item")
    op.drop_index("ix_item_branch_status_work", table_name="item")
    op.drop_table("item")
    op.drop_index("ix_work_yomi_norm", table_name="work")
    op.drop_index("ix_work_title_norm", table_name="work")
    op.drop_index("ix_work_sort_key", table_name="work")
    op.drop_index("ix_work_pub_year", table_name="work")
    op.drop_table("work")
    op.drop_table("material_type")
    op.drop_table("branch")
