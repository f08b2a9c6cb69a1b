"""Importing the system being replaced: copies, patrons, loans, reservations, withdrawals.

`import_rows(kind, path, …)` reads the whole file first: a file that is not of that kind
(or cannot be read) is `ImportRefused` before anything is written. Then, in ONE writing
transaction, every row is checked (db.importers.apply) and the writes are made:

* all of them when no row was refused;
* with `partial`, those of the valid rows (the refused ones are listed);
* none for a dry run, nor when a row was refused without `partial` (all or nothing).

The transaction commits whole or not at all, so an import that is killed midway leaves
nothing behind (unlike the catalogue's batched import, there is nothing to resume). Holding
the write lock for one file is the price: imports are made at the cut-over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection

from db import search_cache
from db.catalog_write import ImportProblem
from db.engine import writes
from db.errors import ImportRefused
from db.importers import apply, rows

__all__ = ["ROW_IMPORT_KINDS", "ImportProgress", "RowImportReport", "import_rows"]

ROW_IMPORT_KINDS = rows.KINDS

# progress(done, total): called as rows are checked (the command line draws a bar).
ImportProgress = Callable[[int, int], None]


@dataclass
class RowImportReport:
    """What an import did (or, for a dry run, would do)."""

    kind: str
    dry_run: bool
    partial: bool
    read: int = 0  # rows read (a MARC record with several copies gives several)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[ImportProblem] = field(default_factory=list)
    # Rows accepted with a remark (full-width digits normalised, a copy not held …).
    notes: list[ImportProblem] = field(default_factory=list)
    written: bool = False  # whether the changes were committed

    @property
    def changed(self) -> int:
        return self.created + self.updated


def import_rows(
    kind: str,
    path: Path,
    *,
    dry_run: bool = False,
    partial: bool = False,
    progress: ImportProgress | None = None,
) -> RowImportReport:
    """Import a file of `kind` (one of ROW_IMPORT_KINDS); see the module docstring."""
    source = rows.open_rows(Path(path), kind)
    read = list(source.rows())  # ImportRefused here: nothing written
    if not read:
        raise ImportRefused("import_empty")
    report = RowImportReport(kind, dry_run, partial, read=len(read))
    _apply(kind, read, report, progress)
    if report.written:
        search_cache.clear()  # copies' availability shows in search results
    return report


@writes
def _apply(
    conn: Connection,
    now: datetime,
    kind: str,
    read: list[rows.SourceRow],
    report: RowImportReport,
    progress: ImportProgress | None,
) -> None:
    checker = apply.Checker(conn, now)
    check = apply.CHECKS[kind]
    writes_: list[tuple[tuple[object, ...], int, apply.Write]] = []
    for done, row in enumerate(read, start=1):
        checker.notes = []
        try:
            outcome = check(checker, row)
        except apply.Refused as refused:
            report.refused.append(ImportProblem(row.kind, row.number, refused.reason))
        else:
            setattr(report, outcome.effect, getattr(report, outcome.effect) + 1)
            for note in [*checker.notes, *outcome.notes]:
                report.notes.append(ImportProblem(row.kind, row.number, note))
            if outcome.write is not None:
                writes_.append((outcome.order, done, outcome.write))
        if progress is not None:
            progress(done, len(read))
    if report.dry_run or (report.refused and not report.partial):
        return  # nothing is written: a dry run, or a refused row without --partial
    for _, _, write in sorted(writes_, key=lambda w: (w[0], w[1])):
        write(conn)
    finish = apply.FINISH.get(kind)
    if finish is not None:
        finish(conn)
    report.written = bool(writes_)
