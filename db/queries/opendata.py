"""The catalogue for other software: records by identifier (ISBN, NDL bibliographic id),
copy availability per ISBN and branch, and record ids for sitemaps. Public catalogue data
only: nothing here reads a patron, a loan or a reservation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, bindparam, text
from sqlalchemy.engine import Connection

from db import rules, search
from db.clock import aware_utc
from db.engine import replica_reads
from db.localized import Localized

__all__ = [
    "AVAILABILITY_STATES",
    "MAX_AVAILABILITY_ISBNS",
    "BranchAvailability",
    "IsbnAvailability",
    "RecordAvailabilityByBranch",
    "SitemapChunk",
    "find_works_by_isbn",
    "find_works_by_ndl",
    "list_isbn_availability",
    "list_sitemap_chunks",
    "list_sitemap_entries",
    "list_work_updated",
    "ndl_ids_of",
    "normalise_isbn",
]

# Per branch, in this order of use to a reader: a copy to borrow on the shelf, a copy to read
# in the library, copies that exist but are not on the shelf now, no copy.
ON_SHELF = "on_shelf"
REFERENCE_ONLY = "reference_only"
ON_LOAN = "on_loan"
NONE = "none"
AVAILABILITY_STATES = (ON_SHELF, ON_LOAN, REFERENCE_ONLY, NONE)

# ISBNs one availability request may ask about (each is one indexed lookup).
MAX_AVAILABILITY_ISBNS = 20


@dataclass(frozen=True)
class BranchAvailability:
    code: str
    name: Localized
    state: str  # one of AVAILABILITY_STATES
    copies: int  # copies held there, missing ones left out
    on_shelf: int  # of those, on the shelf now (lendable or reference)


@dataclass(frozen=True)
class RecordAvailabilityByBranch:
    work_id: int
    title: str
    branches: tuple[BranchAvailability, ...]  # every branch, in the library's order


@dataclass(frozen=True)
class IsbnAvailability:
    isbn13: str
    records: tuple[RecordAvailabilityByBranch, ...]  # empty: no record has this ISBN


@dataclass(frozen=True)
class SitemapChunk:
    number: int  # 0-based: works with id in (number * size, (number + 1) * size]
    works: int
    updated: datetime


def normalise_isbn(raw: str) -> str | None:
    """ISBN-13 digits of an ISBN-10 or -13 as typed (hyphens, full-width digits), if valid."""
    return search.isbn13_of(raw)


def ndl_ids_of(raw: str) -> tuple[str, ...]:
    """The stored forms of an NDL bibliographic id in an address (/ndl/…), read as the search
    box reads one (db.search), leading zeros optional; () if it cannot be one."""
    return search.ndl_ids_of(raw, named=True)


@replica_reads
def find_works_by_isbn(conn: Connection, now: datetime, isbn13: str) -> tuple[int, ...]:
    return tuple(
        r.work_id
        for r in conn.execute(
            text("SELECT work_id FROM work_isbn WHERE isbn13 = :isbn ORDER BY work_id"),
            {"isbn": isbn13},
        )
    )


@replica_reads
def find_works_by_ndl(conn: Connection, now: datetime, ndl_ids: tuple[str, ...]) -> tuple[int, ...]:
    """`ndl_ids`: the forms of one number (ndl_ids_of)."""
    if not ndl_ids:
        return ()
    return tuple(
        r.id
        for r in conn.execute(
            text(
                "SELECT id FROM work WHERE source = 'ndl' AND source_id IN :ids ORDER BY id"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": list(ndl_ids)},
        )
    )


def _state(copies: int, lendable_on_shelf: int, reference_on_shelf: int) -> str:
    if lendable_on_shelf:
        return ON_SHELF
    if reference_on_shelf:
        return REFERENCE_ONLY
    return ON_LOAN if copies else NONE


@replica_reads
def list_isbn_availability(
    conn: Connection, now: datetime, isbn13s: tuple[str, ...]
) -> tuple[IsbnAvailability, ...]:
    """For each ISBN-13 (at most MAX_AVAILABILITY_ISBNS), its records and, per branch, what
    a reader finds there now. A copy of a material type not lent (loan days 0) is reference
    only; missing copies count nowhere."""
    wanted = tuple(dict.fromkeys(isbn13s))[:MAX_AVAILABILITY_ISBNS]
    if not wanted:
        return ()
    matches = conn.execute(
        text(
            "SELECT wi.isbn13, w.id, w.title FROM work_isbn wi JOIN work w ON w.id = wi.work_id "
            "WHERE wi.isbn13 IN :isbns ORDER BY w.id"
        ).bindparams(bindparam("isbns", expanding=True)),
        {"isbns": list(wanted)},
    ).all()
    work_ids = sorted({m.id for m in matches})
    counts: dict[tuple[int, str], tuple[int, int, int]] = {}
    if work_ids:
        for r in conn.execute(
            text(
                "SELECT it.work_id, b.code, count(*) AS copies, "
                "sum(CASE WHEN it.status = :available AND m.loan_days > 0 THEN 1 ELSE 0 END) "
                "AS lendable, "
                "sum(CASE WHEN it.status = :available AND m.loan_days = 0 THEN 1 ELSE 0 END) "
                "AS reference "
                "FROM item it JOIN branch b ON b.id = it.branch_id "
                "JOIN material_type m ON m.code = it.material_type "
                "WHERE it.work_id IN :ids AND it.status <> :missing "
                "GROUP BY it.work_id, b.code"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": work_ids, "available": rules.AVAILABLE, "missing": rules.MISSING},
        ):
            counts[(r.work_id, r.code)] = (
                int(r.copies),
                int(r.lendable or 0),
                int(r.reference or 0),
            )
    branches = [
        (r.code, Localized.of(r.names))
        for r in conn.execute(text("SELECT code, names FROM branch ORDER BY sort_order"))
    ]

    def record(work_id: int, title: str) -> RecordAvailabilityByBranch:
        per_branch = []
        for code, name in branches:
            copies, lendable, reference = counts.get((work_id, code), (0, 0, 0))
            per_branch.append(
                BranchAvailability(
                    code, name, _state(copies, lendable, reference), copies, lendable + reference
                )
            )
        return RecordAvailabilityByBranch(work_id, title, tuple(per_branch))

    return tuple(
        IsbnAvailability(isbn, tuple(record(m.id, m.title) for m in matches if m.isbn13 == isbn))
        for isbn in wanted
    )


@replica_reads
def list_sitemap_chunks(conn: Connection, now: datetime, size: int) -> tuple[SitemapChunk, ...]:
    """The sitemap files: works grouped by id range of `size`, so a file never holds more
    than `size` addresses and each is read by a range of the primary key (no OFFSET)."""
    return tuple(
        SitemapChunk(int(r.chunk), int(r.works), aware_utc(r.updated))
        for r in conn.execute(
            text(
                "SELECT (id - 1) / :size AS chunk, count(*) AS works, max(updated_at) AS updated "
                "FROM work GROUP BY (id - 1) / :size ORDER BY chunk"
            ).columns(chunk=Integer, works=Integer, updated=DateTime),
            {"size": size},
        )
    )


@replica_reads
def list_sitemap_entries(
    conn: Connection, now: datetime, after_id: int, up_to_id: int, limit: int
) -> tuple[tuple[int, datetime], ...]:
    """(work id, last change) for works with after_id < id <= up_to_id, at most `limit`, by
    id: a sitemap file is read in batches of these, so it is streamed, never held whole."""
    return tuple(
        (int(r.id), aware_utc(r.updated_at))
        for r in conn.execute(
            text(
                "SELECT id, updated_at FROM work WHERE id > :after AND id <= :upto "
                "ORDER BY id LIMIT :limit"
            ).columns(id=Integer, updated_at=DateTime),
            {"after": after_id, "upto": up_to_id, "limit": limit},
        )
    )


@replica_reads
def list_work_updated(
    conn: Connection, now: datetime, work_ids: tuple[int, ...]
) -> dict[int, datetime]:
    """When each work last changed (Atom entries need it; search hits do not carry it)."""
    if not work_ids:
        return {}
    return {
        int(r.id): aware_utc(r.updated_at)
        for r in conn.execute(
            text("SELECT id, updated_at FROM work WHERE id IN :ids")
            .bindparams(bindparam("ids", expanding=True))
            .columns(id=Integer, updated_at=DateTime),
            {"ids": list(work_ids)},
        )
    }
