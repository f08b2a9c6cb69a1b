"""Catalogue writes: importing files, bulk additions, the search index, catalogue counts.

An import runs in batches, each batch one transaction, so a large file never holds the
write lock for long and a bad record costs only its own row in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import catalog_write, search_cache, seed
from db.catalog_write import ImportProblem, ImportReport, WorkRecord
from db.engine import reads, writes
from db.errors import ImportRefused
from db.importers import detect

__all__ = [
    "CatalogStats",
    "ImportProblem",
    "ImportRefused",
    "ImportReport",
    "WorkRecord",
    "add_works",
    "get_catalog_stats",
    "import_catalog_file",
    "rebuild_search_index",
]


@dataclass(frozen=True)
class CatalogStats:
    works: int
    items: int
    by_source: tuple[tuple[str, int], ...]  # (source, works), sorted by source


@reads
def get_catalog_stats(conn: Connection, now: datetime) -> CatalogStats:
    by_source = tuple(
        (row.source, row.n)
        for row in conn.execute(
            text("SELECT source, count(*) AS n FROM work GROUP BY source ORDER BY source")
        )
    )
    items = conn.execute(text("SELECT count(*) FROM item")).scalar_one()
    return CatalogStats(sum(n for _, n in by_source), items, by_source)


def import_catalog_file(path: Path, source: str | None = None) -> ImportReport:
    """Import an Aozora CSV or a MARC file (binary or XML), idempotently.

    A file that is neither is refused (`ImportRefused`) before anything is written; bad
    records are listed in the report with their position and the rest are loaded.
    """
    reader = detect.open_reader(path, source)
    report = ImportReport()
    for batch in reader.batches(report):
        _upsert_batch(batch, report)
    search_cache.clear()
    return report


@writes
def _upsert_batch(
    conn: Connection, now: datetime, batch: Sequence[WorkRecord], report: ImportReport
) -> None:
    catalog_write.upsert_works(conn, batch, report, now)


def add_works(records: Sequence[WorkRecord], copies_seed: int) -> int:
    """Add works that are all new in one transaction, fast (no per-row lookups: a record
    already present is an error), with copies made as the demo catalogue's are (seeded by
    `copies_seed`). For bulk loads such as bench/synth.py; returns the works added."""
    added = _insert_works(records, copies_seed)
    search_cache.clear()
    return added


@writes
def _insert_works(
    conn: Connection, now: datetime, records: Sequence[WorkRecord], copies_seed: int
) -> int:
    rows = catalog_write.insert_new_works(conn, records, now)
    seed.add_copies(conn, rows, copies_seed)
    return len(rows)


def rebuild_search_index() -> int:
    count = _rebuild()
    search_cache.clear()
    return count


@writes
def _rebuild(conn: Connection, now: datetime) -> int:
    return catalog_write.SearchIndex(conn).rebuild()
