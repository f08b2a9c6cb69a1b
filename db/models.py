"""SQLModel tables. Only `db` sees these; `db.queries` hands plain dataclasses to `web`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Branch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name_ja: str = Field(max_length=100)
    name_en: str = Field(max_length=100)
    sort_order: int = 0


class MaterialType(SQLModel, table=True):
    __tablename__ = "material_type"
    code: str = Field(primary_key=True, max_length=20)
    name_ja: str = Field(max_length=100)
    name_en: str = Field(max_length=100)
    loan_days: int = 14  # 0: not for loan (reference only)
    reservable: bool = True


class Work(SQLModel, table=True):
    """A bibliographic record. Multi-valued fields are joined with " | "."""

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_work_source"),
        Index("ix_work_title_norm", "title_norm"),
        Index("ix_work_yomi_norm", "yomi_norm"),
        Index("ix_work_sort_key", "sort_key"),
        Index("ix_work_pub_year", "pub_year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)  # aozora, ndl, loc, marc, synth
    source_id: str = Field(max_length=64)
    title: str = Field(sa_column=Column(Text, nullable=False))
    title_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    title_romaji: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subtitle: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    responsibility: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    authors: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    authors_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    publisher: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    publisher_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    pub_place: str = Field(default="", max_length=200)
    pub_year: int | None = None
    edition: str = Field(default="", max_length=200)
    extent: str = Field(default="", max_length=200)
    series: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    ndc: str = Field(default="", max_length=100)  # as given, e.g. "913" or "K913 | 756"
    subjects: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subjects_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    isbn: str = Field(default="", max_length=100)  # display form(s)
    language: str = Field(default="", max_length=10)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_url: str = Field(default="", max_length=500)
    # Derived by db.search for ranking and sorting; rebuilt by `shiori catalog reindex`.
    title_norm: str = Field(default="", max_length=1000)
    yomi_norm: str = Field(default="", max_length=1000)
    sort_key: str = Field(default="", max_length=1000)
    updated_at: datetime


class WorkIsbn(SQLModel, table=True):
    __tablename__ = "work_isbn"
    isbn13: str = Field(primary_key=True, max_length=13)
    work_id: int = Field(primary_key=True, foreign_key="work.id", ondelete="CASCADE")


class WorkNdc(SQLModel, table=True):
    """One row per NDC class of a work; "K" marks children's material (K913)."""

    __tablename__ = "work_ndc"
    __table_args__ = (Index("ix_work_ndc_cls_work", "cls", "work_id"),)
    ndc: str = Field(primary_key=True, max_length=20)
    work_id: int = Field(primary_key=True, foreign_key="work.id", ondelete="CASCADE")
    cls: str = Field(max_length=1)  # main class 0-9, or K for children's


class Item(SQLModel, table=True):
    """A copy on a shelf of a branch."""

    __table_args__ = (
        Index("ix_item_work", "work_id"),
        Index("ix_item_branch_status_work", "branch_id", "status", "work_id"),
        Index("ix_item_type_work", "material_type", "work_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    barcode: str = Field(max_length=32, unique=True)
    work_id: int = Field(foreign_key="work.id", ondelete="CASCADE")
    branch_id: int = Field(foreign_key="branch.id")
    material_type: str = Field(max_length=20, foreign_key="material_type.code")
    call_number: str = Field(default="", max_length=100)
    shelf_location: str = Field(default="", max_length=100)
    status: str = Field(max_length=20)  # see db.rules.ITEM_STATUSES
