"""Writing bibliographic records: idempotent upsert of works with their search tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from db import clock, rules, search
from db.errors import Refusal

SEP = " | "


def split_values(value: str) -> tuple[str, ...]:
    """The values of a multi-valued work column (joined with SEP)."""
    return tuple(v for v in value.split(SEP) if v)


@dataclass(frozen=True)
class CopyRecord:
    """A copy that came with a record (MARC 852 with its 876 item data)."""

    barcode: str
    branch: str  # the branch's code
    call_number: str = ""
    shelf_location: str = ""
    acquired_on: date | None = None  # 受入日; None: the day of the import


@dataclass(frozen=True)
class WorkRecord:
    """A bibliographic record as an importer produces it (before it has an id)."""

    source: str
    source_id: str
    title: str
    title_yomi: str = ""
    title_romaji: str = ""
    subtitle: str = ""
    responsibility: str = ""
    authors: tuple[str, ...] = ()
    authors_yomi: tuple[str, ...] = ()
    publisher: str = ""
    publisher_yomi: str = ""
    pub_place: str = ""
    pub_year: int | None = None
    edition: str = ""
    extent: str = ""
    series: str = ""
    ndc: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    subjects_yomi: tuple[str, ...] = ()
    isbns: tuple[str, ...] = ()
    language: str = ""
    notes: str = ""
    source_url: str = ""
    copies: tuple[CopyRecord, ...] = ()


# Where a problem is: a CSV line, a MARC record (counted from 1), or the file as a whole.
PROBLEM_KINDS = frozenset({"line", "record", "file"})


@dataclass(frozen=True)
class ImportProblem:
    """A row or record that did not load (or loaded damaged): where it is and why, as a
    refusal code with parameters (`web` words it)."""

    kind: str  # one of PROBLEM_KINDS
    number: int | None  # the line or record number; None for the file as a whole
    reason: Refusal

    def __post_init__(self) -> None:
        if self.kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown problem position {self.kind!r}")


@dataclass(frozen=True)
class InterruptedImport:
    """An import that was killed before its last batch (db.queries.catalog_import): the
    batches it committed are loaded, whole; importing the file again completes it."""

    file_path: str
    started_at: datetime
    records_done: int


# Problems placed at a record that end the reading of the file there.
_STOPPING = frozenset({"import_malformed_xml"})


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # The first IMPORT_MAX_LISTED_PROBLEMS problems (and every file problem); the rest are
    # counted in more_problems, so a file of bad records cannot fill the memory.
    problems: list[ImportProblem] = field(default_factory=list)
    copies_added: int = 0
    copies_unknown_branch: int = 0  # copies naming a branch the library does not have
    more_problems: int = 0
    # This import completes one of the same file that was interrupted.
    resumed: InterruptedImport | None = None

    @property
    def loaded(self) -> int:
        return self.added + self.updated + self.unchanged

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.more_problems

    @property
    def stopped(self) -> bool:
        """The file could not be read to its end (what came before it is loaded)."""
        return any(p.kind == "file" or p.reason.code in _STOPPING for p in self.problems)

    def note(self, problem: ImportProblem) -> None:
        if problem.kind == "file" or len(self.problems) < rules.IMPORT_MAX_LISTED_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1


_NDC_PATTERN = re.compile(r"^K?\d{1,3}(\.\d+)?$")


def ndc_classes(values: Iterable[str]) -> list[tuple[str, str]]:
    """(ndc, main class) pairs of the valid NDC numbers given; K marks children's."""
    seen: list[tuple[str, str]] = []
    for value in values:
        code = value.strip().upper()
        if _NDC_PATTERN.match(code) and code not in {c for c, _ in seen}:
            seen.append((code, "K" if code.startswith("K") else code[0]))
    return seen


def _row(rec: WorkRecord, now: datetime) -> dict[str, Any]:
    return {
        "source": rec.source,
        "source_id": rec.source_id,
        "title": rec.title,
        "title_yomi": rec.title_yomi,
        "title_romaji": rec.title_romaji,
        "subtitle": rec.subtitle,
        "responsibility": rec.responsibility,
        "authors": SEP.join(rec.authors),
        "authors_yomi": SEP.join(rec.authors_yomi),
        "publisher": rec.publisher,
        "publisher_yomi": rec.publisher_yomi,
        "pub_place": rec.pub_place[:200],
        "pub_year": rec.pub_year,
        "edition": rec.edition[:200],
        "extent": rec.extent[:200],
        "series": rec.series,
        "ndc": SEP.join(rec.ndc)[:100],
        "subjects": SEP.join(rec.subjects),
        "subjects_yomi": SEP.join(rec.subjects_yomi),
        "isbn": SEP.join(rec.isbns)[:100],
        "language": rec.language[:10],
        "notes": rec.notes,
        "source_url": rec.source_url[:500],
        **_norms({"title": rec.title, "title_yomi": rec.title_yomi}),
        "updated_at": now,
    }


def _norms(row: dict[str, Any]) -> dict[str, str]:
    """The normalised title and reading, for ranking and sorting."""
    return {
        "title_norm": search.normalise(row["title"])[:1000],
        "yomi_norm": search.normalise(row["title_yomi"])[:1000],
        "sort_key": search.normalise(row["title_yomi"] or row["title"])[:1000],
        "title_words": search.title_words(row["title"], row["title_yomi"]),
    }


_COMPARED = (
    "title",
    "title_yomi",
    "title_romaji",
    "subtitle",
    "responsibility",
    "authors",
    "authors_yomi",
    "publisher",
    "publisher_yomi",
    "pub_place",
    "pub_year",
    "edition",
    "extent",
    "series",
    "ndc",
    "subjects",
    "subjects_yomi",
    "isbn",
    "language",
    "notes",
    "source_url",
)


def _search_fields(row: dict[str, Any]) -> list[tuple[str, list[list[str]]]]:
    """The token runs of the four searchable fields of a stored work row: (weight, runs).
    The title field is word-bounded (db.search.title_runs); the others are not."""

    def split(value: str) -> list[str]:
        return [v for v in value.split(SEP) if v]

    return [
        (
            "A",
            search.title_runs(
                row["title"],
                row["subtitle"],
                row["title_yomi"],
                row["title_romaji"],
                split(row["series"]),
            ),
        ),
        (
            "B",
            search.name_runs(
                [*split(row["authors"]), row["responsibility"]], split(row["authors_yomi"])
            ),
        ),
        ("C", search.name_runs([row["publisher"]], [row["publisher_yomi"]])),
        ("D", search.name_runs(split(row["subjects"]), split(row["subjects_yomi"]))),
    ]


def _fts_values(row: dict[str, Any]) -> dict[str, str]:
    cols = ("title", "author", "publisher", "subject")
    return {c: search.fts5_runs(v) for c, (_, v) in zip(cols, _search_fields(row), strict=True)}


class SearchIndex:
    """Keeps the full-text index in step with the work table, per dialect."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.pg:
            self.conn.execute(
                text(
                    "INSERT INTO work_search (work_id, tsv) VALUES (:id, CAST(:tsv AS tsvector)) "
                    "ON CONFLICT (work_id) DO UPDATE SET tsv = EXCLUDED.tsv"
                ),
                [{"id": r["id"], "tsv": search.tsvector_runs(_search_fields(r))} for r in rows],
            )
        else:
            self.conn.execute(
                text(
                    "INSERT INTO work_fts (rowid, title, author, publisher, subject) "
                    "VALUES (:id, :title, :author, :publisher, :subject)"
                ),
                [{"id": r["id"], **_fts_values(r)} for r in rows],
            )

    def remove(self, old_rows: Sequence[dict[str, Any]]) -> None:
        """Drop old tokens (contentless FTS5 needs the values that were indexed)."""
        if not old_rows or self.pg:
            return  # PostgreSQL: add() overwrites
        self.conn.execute(
            text(
                "INSERT INTO work_fts (work_fts, rowid, title, author, publisher, subject) "
                "VALUES ('delete', :id, :title, :author, :publisher, :subject)"
            ),
            [{"id": r["id"], **_fts_values(r)} for r in old_rows],
        )

    def rebuild(self, batch: int = 5000) -> int:
        """Recreate every work's tokens from the stored rows (after a tokenizer change),
        then merge the SQLite index into one segment."""
        if self.pg:
            self.conn.execute(text("DELETE FROM work_search"))
        else:
            self.conn.execute(text("INSERT INTO work_fts (work_fts) VALUES ('delete-all')"))
        last, count = 0, 0
        while True:
            rows = [
                dict(r._mapping)
                for r in self.conn.execute(
                    text("SELECT * FROM work WHERE id > :last ORDER BY id LIMIT :n"),
                    {"last": last, "n": batch},
                )
            ]
            if not rows:
                self.optimize()
                return count
            # The normal form may have changed too (the ranking compares with it).
            norms = [{"id": r["id"], **_norms(r)} for r in rows]
            changed = [n for n, r in zip(norms, rows, strict=True) if any(r[k] != n[k] for k in n)]
            if changed:
                self.conn.execute(
                    text(
                        "UPDATE work SET title_norm = :title_norm, yomi_norm = :yomi_norm, "
                        "sort_key = :sort_key, title_words = :title_words WHERE id = :id"
                    ),
                    changed,
                )
            self.add(rows)
            last, count = rows[-1]["id"], count + len(rows)

    def optimize(self) -> None:
        """Merge SQLite's full-text index into one segment. A rebuild writes it out in
        many (11 on 100,000 works), and every token of a query is read from each, so a
        query of several tokens read its common ones a dozen times. (PostgreSQL's GIN index
        has no segments.)"""
        if not self.pg:
            self.conn.execute(text("INSERT INTO work_fts (work_fts) VALUES ('optimize')"))


def _insert_children(conn: Connection, works: Iterable[tuple[int, Iterable[str], str]]) -> None:
    """The ISBN and NDC rows of (work id, raw ISBNs, stored NDC) triples."""
    isbn_rows: list[dict[str, Any]] = []
    ndc_rows: list[dict[str, Any]] = []
    for work_id, rec_isbns, ndc in works:
        isbns = {isbn for raw in rec_isbns for isbn in search.isbns_in(raw)}
        isbn_rows += [{"isbn": i, "id": work_id} for i in sorted(isbns)]
        classes = ndc_classes(ndc.split(SEP)) if ndc else []
        ndc_rows += [{"ndc": c, "id": work_id, "cls": k} for c, k in classes]
    if isbn_rows:
        conn.execute(text("INSERT INTO work_isbn (isbn13, work_id) VALUES (:isbn, :id)"), isbn_rows)
    if ndc_rows:
        conn.execute(
            text("INSERT INTO work_ndc (ndc, work_id, cls) VALUES (:ndc, :id, :cls)"), ndc_rows
        )


def upsert_works(
    conn: Connection, records: Sequence[WorkRecord], report: ImportReport, now: datetime | None
) -> list[int]:
    """Insert new works, update changed ones, leave identical ones alone. Returns work ids."""
    now = now or datetime.now(UTC)
    index = SearchIndex(conn)
    keys = [(r.source, r.source_id) for r in records]
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for source in {s for s, _ in keys}:
        source_ids = [i for s, i in keys if s == source]
        stmt = text("SELECT * FROM work WHERE source = :s AND source_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        for found in conn.execute(stmt, {"s": source, "ids": source_ids}):
            existing[(found.source, found.source_id)] = dict(found._mapping)
    ids: list[int] = []
    for rec in records:
        row = _row(rec, now)
        old = existing.get((rec.source, rec.source_id))
        if old is not None and all(old[c] == row[c] for c in _COMPARED):
            report.unchanged += 1
            ids.append(old["id"])
            continue
        if old is None:
            cols = ", ".join(row)
            work_id = conn.execute(
                text(
                    f"INSERT INTO work ({cols}) VALUES ({', '.join(':' + c for c in row)}) "
                    "RETURNING id"
                ),
                row,
            ).scalar_one()
            report.added += 1
        else:
            work_id = old["id"]
            index.remove([old])
            sets = ", ".join(f"{c} = :{c}" for c in row if c not in ("source", "source_id"))
            conn.execute(text(f"UPDATE work SET {sets} WHERE id = :id"), {**row, "id": work_id})
            conn.execute(text("DELETE FROM work_isbn WHERE work_id = :id"), {"id": work_id})
            conn.execute(text("DELETE FROM work_ndc WHERE work_id = :id"), {"id": work_id})
            report.updated += 1
        _insert_children(conn, [(work_id, rec.isbns, row["ndc"])])
        index.add([{**row, "id": work_id}])
        ids.append(work_id)
    _insert_copies(conn, list(zip(records, ids, strict=True)), report, now)
    return ids


def _insert_copies(
    conn: Connection, works: Sequence[tuple[WorkRecord, int]], report: ImportReport, now: datetime
) -> None:
    """Add the copies that came with the records, once: a barcode already held is left as
    it is (importing a file again changes no copy). A copy arrives on its 876 $d date (a
    date after today counts as today), else on the day of the import."""
    wanted = [(rec, work_id, c) for rec, work_id in works for c in rec.copies]
    if not wanted:
        return
    branches = {r.code: r.id for r in conn.execute(text("SELECT id, code FROM branch"))}
    held = {
        r.barcode
        for r in conn.execute(
            text("SELECT barcode FROM item WHERE barcode IN :codes").bindparams(
                bindparam("codes", expanding=True)
            ),
            {"codes": sorted({c.barcode for _, _, c in wanted})},
        )
    }
    today = clock.library_today(now)
    rows = []
    for rec, work_id, copy in wanted:
        if copy.barcode in held:
            continue
        if copy.branch not in branches:
            report.copies_unknown_branch += 1
            continue
        held.add(copy.barcode)
        children = any(k == "K" for _, k in ndc_classes(rec.ndc))
        rows.append(
            {
                "barcode": copy.barcode,
                "work_id": work_id,
                "branch_id": branches[copy.branch],
                "material_type": "children" if children else "book",
                "call_number": copy.call_number,
                "shelf_location": copy.shelf_location,
                "status": rules.AVAILABLE,
                "acquired_on": min(copy.acquired_on or today, today),
            }
        )
    if rows:
        conn.execute(
            text(
                "INSERT INTO item (barcode, work_id, branch_id, material_type, call_number, "
                "shelf_location, status, acquired_on) VALUES (:barcode, :work_id, :branch_id, "
                ":material_type, :call_number, :shelf_location, :status, :acquired_on)"
            ),
            rows,
        )
    report.copies_added += len(rows)


def insert_new_works(
    conn: Connection, records: Sequence[WorkRecord], now: datetime
) -> list[dict[str, Any]]:
    """Bulk-insert works that are all new, without per-row lookups (a (source, source_id)
    already present is an IntegrityError), with their ISBN and NDC rows and search index
    entries. Returns the rows as stored, ids included."""
    if not records:
        return []
    if conn.dialect.name == "postgresql":  # ids are assigned here, not by the sequence
        conn.execute(text("LOCK TABLE work IN SHARE ROW EXCLUSIVE MODE"))
    first_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM work")).scalar_one() + 1
    rows = [{**_row(rec, now), "id": first_id + n} for n, rec in enumerate(records)]
    cols = list(rows[0])
    conn.execute(
        text(f"INSERT INTO work ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
        rows,
    )
    _insert_children(
        conn, [(row["id"], rec.isbns, row["ndc"]) for rec, row in zip(records, rows, strict=True)]
    )
    SearchIndex(conn).add(rows)
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('work', 'id'), (SELECT max(id) FROM work))")
        )
    return rows
