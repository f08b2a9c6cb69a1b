"""The narrow query layer: the only door from `web` (and the CLI) to the database.

Every function is one transaction and returns plain frozen dataclasses. Expected refusals
raise `QueryError` subclasses whose message is fit to show; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from db import catalog, catalog_write, clock, engine, migrate, rules, seed
from db.catalog import (
    Branch,
    Copy,
    MaterialType,
    Record,
    SearchHit,
    SearchParams,
    SearchResult,
)
from db.catalog_write import ImportReport
from db.errors import ImportRefused, NotFound, QueryError
from db.importers import detect

__all__ = [
    "RULES",
    "Branch",
    "CatalogStats",
    "Copy",
    "ImportRefused",
    "ImportReport",
    "MaterialType",
    "NotFound",
    "QueryError",
    "Record",
    "SearchHit",
    "SearchParams",
    "SearchResult",
    "configure",
    "dispose",
    "ensure_reference_data",
    "generate_demo_copies",
    "get_catalog_stats",
    "get_record",
    "import_catalog_file",
    "list_branches",
    "list_material_types",
    "migrate_database",
    "rebuild_search_index",
    "search_works",
    "set_clock",
    "synthesize_catalog",
]

RULES = rules
CatalogStats = seed.CatalogStats


def configure(url: str) -> None:
    """Point the query layer at a database URL (sqlite:///… or postgresql+psycopg://…)."""
    engine.configure(url)


def dispose() -> None:
    engine.dispose()


def set_clock(now: Callable[[], object] | None) -> None:
    """Replace the clock (tests travel in time); None restores the real one."""
    clock.set_clock(now)  # type: ignore[arg-type]


def migrate_database() -> None:
    migrate.upgrade()


def ensure_reference_data(branches: tuple[rules.BranchSpec, ...] = rules.DEFAULT_BRANCHES) -> None:
    """Create or update the branches and material types (idempotent)."""
    with engine.write() as conn:
        seed.ensure_reference_data(conn, branches)


def search_works(params: SearchParams) -> SearchResult:
    with engine.read() as conn:
        return catalog.search_works(conn, params)


def get_record(work_id: int) -> Record:
    with engine.read() as conn:
        record = catalog.get_record(conn, work_id)
    if record is None:
        raise NotFound("資料が見つかりません。 / Record not found.")
    return record


def list_branches() -> tuple[Branch, ...]:
    with engine.read() as conn:
        return catalog.list_branches(conn)


def list_material_types() -> tuple[MaterialType, ...]:
    with engine.read() as conn:
        return catalog.list_material_types(conn)


def get_catalog_stats() -> seed.CatalogStats:
    with engine.read() as conn:
        return seed.catalog_stats(conn)


def import_catalog_file(path: Path, source: str | None = None) -> ImportReport:
    """Import an Aozora CSV or a MARC file (binary or XML), idempotently.

    A file that is neither is refused (`ImportRefused`) before anything is written; bad
    records are listed in the report with their position and the rest are loaded.
    """
    reader = detect.open_reader(path, source)
    report = ImportReport()
    for batch in reader.batches(report):
        with engine.write() as conn:
            catalog_write.upsert_works(conn, batch, report, clock.now())
    return report


def generate_demo_copies(seed_value: int = 20261121) -> int:
    """Give every work without copies 0–5 copies (seeded, reproducible). Returns copies made."""
    with engine.write() as conn:
        return seed.generate_copies(conn, seed_value)


def synthesize_catalog(works: int, seed_value: int = 1) -> int:
    """Add `works` synthetic works (with copies) for benchmarks. Returns works made."""
    return seed.synthesize(engine.write, works, seed_value, clock.now())


def rebuild_search_index() -> int:
    with engine.write() as conn:
        return catalog_write.SearchIndex(conn).rebuild()
