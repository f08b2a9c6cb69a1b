"""`shiori import items|patrons|loans|holds|withdrawals FILE`: the system being replaced.

`shiori import FILE…` (and `shiori import catalogue FILE…`) stays the catalogue import of
web/cli.py; web/cli.py hands the row kinds to `parser()` here. The report names rows by
their line (or MARC record) and at most a card number or barcode: never a name, address or
phone. Messages are in every language, as the rest of the command line (web.refusals).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from db import queries
from web import labels, refusals
from web.i18n import Translator
from web.settings import Settings

KINDS = queries.ROW_IMPORT_KINDS
SHOWN = 200  # refused rows and notes listed; the rest are counted

EXIT_ALL_IMPORTED = 0
EXIT_FILE_REFUSED = 2
EXIT_ROWS_REFUSED = 3
EXIT_CODES = """exit status:
  0  every row imported (or, with --dry-run, every row would be)
  2  the file was refused (not of this kind, unreadable): nothing was written
  3  some rows were refused (listed with their line): without --partial nothing was
     written; with --partial the other rows were
"""

Setup = Callable[[Settings], None]  # web/cli.py's set-up, and its warning of catalogue
# imports left unfinished (the works a copy file names may be missing because of one)


class _RowRate(ProgressColumn):
    """Rows per second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


@contextmanager
def _progress_bar(label: str) -> Iterator[queries.ImportProgress | None]:
    """A bar with rows/s and the time left on a terminal; nothing when stdout is not one
    (a log, a pipe, cron)."""
    if not sys.stdout.isatty():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RowRate(),
        TimeRemainingColumn(),
        console=Console(file=sys.stdout),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            if done == 1 or done == total or done % 200 == 0:
                bar.update(task, completed=done, total=total)

        yield advance


def _say(settings: Settings, words: Callable[[Translator], str]) -> str:
    return refusals.in_every_language(settings.locale_dir, words)


def _summary(report: queries.RowImportReport, tr: Translator) -> str:
    values = {
        "read": report.read,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "refused": len(report.refused),
    }
    if report.kind == "withdrawals":
        return _withdrawals(report, tr, values)
    if report.dry_run:
        return tr.gettext(
            "dry run: rows read %(read)s; would create %(created)s, update %(updated)s, "
            "skip (unchanged) %(unchanged)s; refused %(refused)s",
            **values,
        )
    if not report.partial and report.refused:  # nothing was written: say so, then "would"
        return tr.gettext(
            "rows read %(read)s; nothing written because rows were refused (it would "
            "have created %(created)s, updated %(updated)s, skipped %(unchanged)s); "
            "refused %(refused)s",
            **values,
        )
    return tr.gettext(
        "rows read %(read)s; created %(created)s, updated %(updated)s, unchanged "
        "%(unchanged)s; refused %(refused)s",
        **values,
    )


def _withdrawals(report: queries.RowImportReport, tr: Translator, values: dict[str, int]) -> str:
    """A withdrawal deletes a copy: "withdrawn", not "created"."""
    if report.dry_run:
        return tr.gettext(
            "dry run: rows read %(read)s; would withdraw %(created)s, not held %(unchanged)s; "
            "refused %(refused)s",
            **values,
        )
    if not report.partial and report.refused:
        return tr.gettext(
            "rows read %(read)s; would withdraw %(created)s, not held %(unchanged)s; refused "
            "%(refused)s",
            **values,
        )
    return tr.gettext(
        "rows read %(read)s; withdrawn %(created)s, not held %(unchanged)s; refused %(refused)s",
        **values,
    )


def _outcome(report: queries.RowImportReport, tr: Translator) -> str:
    if report.dry_run:
        if report.refused and not report.partial:
            return tr.gettext(
                "Nothing was written (dry run). As it is, the import would write nothing: "
                "fix the refused rows, or import with --partial to load the others."
            )
        return tr.gettext("Nothing was written (dry run).")
    if report.refused and not report.partial:
        return tr.gettext(
            "Nothing was written: rows were refused. Fix them, or import with --partial to "
            "load the valid rows."
        )
    if report.refused and not report.changed:
        return tr.gettext(
            "No change: the valid rows are already imported; the refused rows were not."
        )
    if report.refused:
        return tr.gettext("The valid rows were written; the refused rows were not.")
    if not report.changed:
        return tr.gettext("No change: every row is already imported.")
    return tr.gettext("Imported.")


def print_report(settings: Settings, path: Path, report: queries.RowImportReport) -> None:
    kind = report.kind
    head = _say(
        settings, lambda tr: f"{labels.label(tr, 'import_kind', kind)}: " + _summary(report, tr)
    )
    print(f"{path.name}: {head}")
    print(f"  {_say(settings, partial(_outcome, report))}")
    listed = [*report.refused, *report.notes][:SHOWN]
    for problem in sorted(listed, key=lambda p: p.number or 0):
        print(f"  {_say(settings, partial(refusals.problem_words, problem=problem))}")
    more = len(report.refused) + len(report.notes) - len(listed)
    if more > 0:
        print(f"  {_say(settings, lambda tr: tr.gettext('… %(count)s more', count=more))}")


def run(settings: Settings, args: argparse.Namespace, setup: Setup, unfinished: Setup) -> int:
    setup(settings)
    unfinished(settings)
    path = Path(args.file)
    try:
        with _progress_bar(f"{args.kind} {path.name}") as progress:
            report = queries.import_rows(
                args.kind, path, dry_run=args.dry_run, partial=args.partial, progress=progress
            )
    except queries.ImportRefused as refused:
        print(f"{path}: {refusals.for_console(settings.locale_dir, refused)}", file=sys.stderr)
        return EXIT_FILE_REFUSED
    print_report(settings, path, report)
    if args.kind == "holds" and report.written:
        # Reservations for titles with a copy on the shelf go onto the pull lists now,
        # not at the next daily run.
        listed = queries.refill_pull_lists()
        print(f"抜き取りリストに追加 copies put on pull lists: {listed}")
    return EXIT_ROWS_REFUSED if report.refused else EXIT_ALL_IMPORTED


def parser(
    setup: Setup, catalogue: Callable[[Settings, argparse.Namespace], int], unfinished: Setup
) -> argparse.ArgumentParser:
    """`shiori import KIND …`: the row kinds, and `catalogue` (the same as `shiori import
    FILE…`)."""
    p = argparse.ArgumentParser(
        prog="shiori import",
        description="import the data of the system being replaced (README: Importing from "
        "the system being replaced)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="kind", required=True)
    helps = {
        "items": "copies (所蔵): CSV, or MARC 21 holdings (852 with 876-878, or 949)",
        "patrons": "patrons (利用者): CSV; no passwords (patrons set their own)",
        "loans": "open loans (貸出) at the cut-over: CSV",
        "holds": "reservations (予約) with their queue order: CSV",
        "withdrawals": "withdrawals (除籍): barcodes, one a line, or a CSV with a barcode column",
    }
    for kind in KINDS:
        one = sub.add_parser(
            kind,
            help=helps[kind],
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        one.add_argument("file")
        one.add_argument(
            "--dry-run", action="store_true", help="check every row and report; write nothing"
        )
        one.add_argument(
            "--partial",
            action="store_true",
            help="write the valid rows even if some are refused (default: all or nothing)",
        )
        one.set_defaults(fn=partial(_run_kind, setup=setup, unfinished=unfinished))
    cat = sub.add_parser("catalogue", help="catalogue files (the same as `shiori import FILE…`)")
    cat.add_argument("files", nargs="+")
    cat.add_argument("--source", choices=["aozora", "ndl", "loc", "marc"])
    cat.set_defaults(fn=catalogue)
    return p


def _run_kind(settings: Settings, args: argparse.Namespace, setup: Setup, unfinished: Setup) -> int:
    return run(settings, args, setup, unfinished)
