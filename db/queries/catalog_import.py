"""Catalogue writes: importing files, bulk additions, the search index, catalogue counts.

An import runs in batches, each batch one transaction, so a large file never holds the
write lock for long and a bad record costs only its own row in the report.

An import killed midway (SIGKILL, power cut) resumes rather than rolls back: every batch is
whole (its works, ISBN and NDC rows and search index entries commit together, keyed by
(source, source_id)), so what was committed is consistent, and importing the file again
loads the rest (what was loaded counts as unchanged). An `import_run` row says an import is
unfinished: written before the first batch, counted with every batch, deleted after the
last. The next import of that file reports that it resumes the interrupted one
(`ImportReport.resumed`); `list_unfinished_imports` names the others, and `shiori demo load`
finishes the demo catalogue when its import was cut short. (Rolling the whole file back
instead would hold the write lock for the whole import.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import DateTime, text
from sqlalchemy.engine import Connection

from db import catalog_write, clock, search_cache, seed
from db.catalog_write import ImportProblem, ImportReport, InterruptedImport, WorkRecord
from db.engine import cache_scope, reads, writes
from db.errors import ImportRefused
from db.importers import detect

__all__ = [
    "CatalogStats",
    "ImportProblem",
    "ImportRefused",
    "ImportReport",
    "InterruptedImport",
    "WorkRecord",
    "add_works",
    "get_about_stats",
    "get_catalog_stats",
    "import_catalog_file",
    "list_unfinished_imports",
    "optimize_search_index",
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


def get_about_stats() -> CatalogStats:
    """The catalogue's size for the public About page, kept per process for the ranking
    cache's time (db.search_cache): counting every work and copy takes about 40 ms at
    1,000,000 works, on a page anyone may ask for as often as they like."""
    key = ("about_stats", cache_scope())
    cached = search_cache.get(key)
    if isinstance(cached, CatalogStats):
        return cached
    stats = get_catalog_stats()
    search_cache.put(key, stats)
    return stats


def import_catalog_file(path: Path, source: str | None = None) -> ImportReport:
    """Import an Aozora CSV or a MARC file (binary or XML), idempotently.

    A file that is neither is refused (`ImportRefused`) before anything is written; bad
    records are listed in the report with their position and the rest are loaded.
    """
    reader = detect.open_reader(path, source)
    report = ImportReport()
    run_id, report.resumed = _begin_run(str(Path(path).resolve()))
    for batch in reader.batches(report):
        _upsert_batch(batch, report, run_id)
    _end_run(run_id, report.added + report.updated)
    search_cache.clear()
    return report


_UNFINISHED = text(
    "SELECT file_path, started_at, records_done FROM import_run ORDER BY started_at, id"
).columns(started_at=DateTime())


def _interrupted(row: object) -> InterruptedImport:
    return InterruptedImport(
        row.file_path,  # type: ignore[attr-defined]
        clock.aware_utc(row.started_at),  # type: ignore[attr-defined]
        row.records_done,  # type: ignore[attr-defined]
    )


@writes
def _begin_run(
    conn: Connection, now: datetime, file_path: str
) -> tuple[int, InterruptedImport | None]:
    """Register the import; the last unfinished import of the same file, which it resumes."""
    earlier = [_interrupted(r) for r in conn.execute(_UNFINISHED) if r.file_path == file_path]
    conn.execute(text("DELETE FROM import_run WHERE file_path = :p"), {"p": file_path})
    run_id: int = conn.execute(
        text(
            "INSERT INTO import_run (file_path, started_at, records_done) "
            "VALUES (:p, :now, 0) RETURNING id"
        ),
        {"p": file_path, "now": clock.naive_utc(now)},
    ).scalar_one()
    return run_id, earlier[-1] if earlier else None


@writes
def _upsert_batch(
    conn: Connection, now: datetime, batch: Sequence[WorkRecord], report: ImportReport, run_id: int
) -> None:
    before = report.loaded
    catalog_write.upsert_works(conn, batch, report, now)
    conn.execute(
        text("UPDATE import_run SET records_done = records_done + :n WHERE id = :id"),
        {"n": report.loaded - before, "id": run_id},
    )


# An import that wrote at least this share of the catalogue merges the full-text index
# after it (a bulk load leaves it in many segments; merging costs about as much as writing
# the whole index, so a small import into a big catalogue does not).
OPTIMIZE_SHARE = 0.1


@writes
def _end_run(conn: Connection, now: datetime, run_id: int, written: int) -> None:
    conn.execute(text("DELETE FROM import_run WHERE id = :id"), {"id": run_id})
    works = conn.execute(text("SELECT count(*) FROM work")).scalar_one()
    if written and written >= OPTIMIZE_SHARE * works:
        catalog_write.SearchIndex(conn).optimize()


@reads
def list_unfinished_imports(conn: Connection, now: datetime) -> tuple[InterruptedImport, ...]:
    """Imports that were interrupted and not run again since, oldest first."""
    return tuple(_interrupted(r) for r in conn.execute(_UNFINISHED))


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
    seed.add_copies(conn, rows, copies_seed, clock.library_today(now))
    return len(rows)


@writes
def optimize_search_index(conn: Connection, now: datetime) -> None:
    """Merge the full-text index after a bulk load (db.catalog_write.SearchIndex.optimize)."""
    catalog_write.SearchIndex(conn).optimize()


def rebuild_search_index() -> int:
    count = _rebuild()
    search_cache.clear()
    return count


@writes
def _rebuild(conn: Connection, now: datetime) -> int:
    return catalog_write.SearchIndex(conn).rebuild()
