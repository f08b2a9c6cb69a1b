"""`shiori …` commands: migrate, import, demo data, serve (synthetic catalogs: bench/synth.py)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from db import queries
from web import (
    alerts_cli,
    backup_cli,
    forms,
    import_cli,
    library_cli,
    reference_cli,
    refusals,
    serve,
)
from web.i18n import Catalogues, Translator
from web.mail import MailComposer
from web.settings import Settings, SettingsError, load, smtp_settings
from web.staff import cli as staff_cli

DEMO_FILES = (
    "aozora_works.csv.gz",
    "marc/ndl_japanmarc_marc21_233.mrc",
    "marc/loc_multiscript_30.mrc",
)


SHOWN_PROBLEMS = 50

# `shiori import` exit codes (README, `shiori import --help`): the worst over all files.
IMPORT_ALL_LOADED = 0
IMPORT_FILE_REFUSED = 2  # a file refused, or stopped partway (truncated, unreadable, too big)
IMPORT_SOME_REFUSED = 3  # some records refused or loaded damaged; the rest loaded
IMPORT_EXIT_CODES = """exit status (the worst over all files):
  0  every record of every file loaded
  2  a file was refused (not a catalogue, not found), or stopped partway (truncated,
     unreadable, over a size bound): what came before the damage is loaded
  3  some records were refused or loaded damaged (listed with their position); the rest
     loaded
"""


def _print_report(settings: Settings, path: Path, report: queries.ImportReport) -> None:
    def summary(tr: Translator) -> str:
        return tr.gettext(
            "added %(added)s, updated %(updated)s, unchanged %(unchanged)s, problems %(problems)s",
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            problems=report.problem_count,
        )

    print(f"{path.name}: {refusals.in_every_language(settings.locale_dir, summary)}")
    resumed = report.resumed
    if resumed is not None:
        line = refusals.in_every_language(
            settings.locale_dir,
            lambda tr: tr.gettext(
                "This import resumed the one of this file interrupted after %(count)s records"
                " (started %(started)s); the records loaded then count as unchanged.",
                count=resumed.records_done,
                started=tr.datetime(resumed.started_at),
            ),
        )
        print(f"  {line}")
    if report.copies_added or report.copies_unknown_branch:
        line = refusals.in_every_language(
            settings.locale_dir,
            lambda tr: tr.gettext(
                "copies added %(added)s; copies for a branch the library does not have,"
                " not added: %(unknown)s",
                added=report.copies_added,
                unknown=report.copies_unknown_branch,
            ),
        )
        print(f"  {line}")
    for problem in report.problems[:SHOWN_PROBLEMS]:
        words = partial(refusals.problem_words, problem=problem)
        print(f"  {refusals.in_every_language(settings.locale_dir, words)}")
    more = report.problem_count - min(len(report.problems), SHOWN_PROBLEMS)
    if more > 0:
        line = refusals.in_every_language(
            settings.locale_dir, lambda tr: tr.gettext("… %(count)s more", count=more)
        )
        print(f"  {line}")


def _print_unfinished(settings: Settings) -> None:
    """Imports killed midway and not run again: their files are loaded only in part."""

    def warning(run: queries.InterruptedImport, tr: Translator) -> str:
        return tr.gettext(
            "The import of %(file)s (started %(started)s) was interrupted after %(count)s"
            " records: import that file again to finish it.",
            file=run.file_path,
            started=tr.datetime(run.started_at),
            count=run.records_done,
        )

    for run in queries.list_unfinished_imports():
        print(
            refusals.in_every_language(settings.locale_dir, partial(warning, run)), file=sys.stderr
        )


def _words(settings: Settings, refused: queries.QueryError) -> str:
    return refusals.for_console(settings.locale_dir, refused)


def _setup(settings: Settings) -> None:
    queries.configure(settings.database_url, settings.connections, settings.database_read_url)
    queries.check_database()  # DatabaseUnavailable: one line from main(), no traceback
    queries.configure_holds(settings.hold_limit, settings.hold_shelf_days)
    queries.configure_reference(settings.reference_retention_days)
    queries.configure_password_hashing(settings.password_hashing, settings.password_threads)
    queries.migrate_database()
    queries.ensure_reference_data(settings.branches)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    _setup(settings)
    print("データベースは最新です。 / The database schema is up to date.")
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    worst = IMPORT_ALL_LOADED
    for name in args.files:
        path = Path(name)
        try:
            report = queries.import_catalog_file(path, args.source)
        except queries.ImportRefused as refused:
            print(f"{path}: {_words(settings, refused)}", file=sys.stderr)
            worst = IMPORT_FILE_REFUSED
            continue
        _print_report(settings, path, report)
        if report.stopped:
            worst = IMPORT_FILE_REFUSED
        elif report.problem_count and worst == IMPORT_ALL_LOADED:
            worst = IMPORT_SOME_REFUSED
    _print_unfinished(settings)
    return worst


def cmd_demo_load(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    # An interrupted load is finished by loading again (imports are idempotent).
    unfinished = queries.list_unfinished_imports()
    if queries.get_catalog_stats().works and not args.force and not unfinished:
        print("デモ目録は読み込み済みです。 / The demo catalog is already loaded.")
        return _demo_patrons(settings)
    data_dir = Path(args.data_dir) if args.data_dir else settings.data_dir
    missing = [n for n in DEMO_FILES if not (data_dir / n).exists()]
    if missing:
        print(
            f"デモデータが見つかりません / Demo data not found in {data_dir}: {', '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    for name in DEMO_FILES:
        report = queries.import_catalog_file(data_dir / name)
        _print_report(settings, data_dir / name, report)
    made = queries.generate_demo_copies()
    print(f"所蔵 copies generated: {made}")
    return _demo_patrons(settings)


def _demo_patrons(settings: Settings) -> int:
    # Known passwords are for the demo only: a production database never gets them.
    if settings.production:
        print("本番環境にはデモ利用者を作りません。 / No demo patrons in production.")
        return 0
    print(f"デモ利用者 demo patrons created: {queries.ensure_demo_patrons()}")
    print(f"デモ貸出 demo loans made: {queries.give_demo_loans()}")
    # After the loans: it moves their due dates to open days, but never an overdue one, so
    # the README's overdue demo loan stays overdue even in the New Year closure.
    print(f"デモ開館日カレンダー demo calendars made: {queries.ensure_demo_calendar()}")
    # After the calendar: the borrowers' due dates are computed on open days.
    print(f"デモ利用者の貸出 demo borrowers' loans made: {queries.lend_to_demo_borrowers()}")
    return 0


def cmd_reindex(settings: Settings, _args: argparse.Namespace) -> int:
    _setup(settings)
    print(f"reindexed works: {queries.rebuild_search_index()}")
    return 0


def cmd_activation_code(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    try:
        code = queries.issue_activation_code(args.card)
    except queries.NotFound as missing:
        print(_words(settings, missing), file=sys.stderr)
        return 2
    hours = queries.ACTIVATION_CODE_HOURS
    print(f"登録コード activation code: {code}  ({hours} 時間有効 / valid {hours} hours, once)")
    return 0


def cmd_checkout(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    try:
        receipt = queries.checkout(args.card, args.barcode, args.confirm)
    except queries.QueryError as refused:
        print(_words(settings, refused), file=sys.stderr)
        return 2
    print(f"貸出 checked out: {receipt.title} — 返却期限 due {receipt.due_on}")
    return 0


def cmd_return(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    try:
        receipt = queries.return_item(args.barcode)
    except queries.QueryError as refused:
        print(_words(settings, refused), file=sys.stderr)
        return 2
    late = " (延滞 overdue)" if receipt.was_overdue else ""
    print(f"返却 returned: {receipt.title}{late}")
    if receipt.found == "to_pull":
        print("（抜き取りリストの資料 / it was on the pull list for a reservation）")
    elif receipt.found == "missing":
        print("（所在不明だった資料を利用可能に / it was missing: back in circulation）")
    elif receipt.found == "in_transit":
        print(
            "（回送中の資料を受け取り・返却ではありません / received from transit: not a return）"
        )
    if receipt.route == "ready":
        print("→ 予約棚へ（予約者に連絡します） / to the hold shelf here (the patron is notified)")
    elif receipt.route == "in_transit":
        names = receipt.route_branch or queries.Localized(())
        print(f"→ {names.get('ja')}へ回送 / in transit to {names.get('en')}")
    return 0


# `mail send` when the SMTP server was unavailable: sysexits' EX_TEMPFAIL, so a timer
# shows the outage; the mail keeps its place and the next run sends it.
EXIT_MAIL_DEFERRED = 75


def cmd_mail_send(settings: Settings, _args: argparse.Namespace) -> int:
    _setup(settings)
    compose = MailComposer(Catalogues(settings.locale_dir), settings)
    report = queries.send_due_mail(
        smtp_settings(settings), compose=compose, retry_days=settings.mail_retry_days
    )
    print(f"sent {report.sent}, retry later {report.retried}, failed {report.failed}")
    if report.deferred:
        print(
            f"SMTP サーバーに送れません / SMTP server unavailable ({report.server_error}): "
            f"{report.deferred} waiting for the next run",
            file=sys.stderr,
        )
        return EXIT_MAIL_DEFERRED
    return 0


def cmd_mail_worker(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    compose = MailComposer(Catalogues(settings.locale_dir), settings)
    queries.run_mail_worker(
        smtp_settings(settings),
        args.interval,
        compose=compose,
        retry_days=settings.mail_retry_days,
        # Without --library: every library's mail, in turn (db.tenancy).
        every_library=args.library is None,
    )
    return 0


def cmd_holds_daily(settings: Settings, _args: argparse.Namespace) -> int:
    """Expire uncollected reservations (copies go to the next in line), queue reminders."""
    _setup(settings)
    report = queries.run_daily_holds()
    print(
        f"期限切れの予約 expired reservations: {report.expired}, "
        f"返却期限のお知らせ due-date reminders queued: {report.reminders}, "
        f"延滞のお知らせ overdue notices queued: {report.overdue}"
    )
    # Suspensions that ended, copies added or found: waiting reservations they can serve.
    listed = queries.refill_pull_lists()
    print(f"抜き取りリストに追加 copies put on pull lists: {listed}")
    return 0


def cmd_holds_receive(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    try:
        routing = queries.receive_item(args.barcode)
    except queries.QueryError as refused:
        print(_words(settings, refused), file=sys.stderr)
        return 2
    if routing.state == "ready":
        names = routing.branch or queries.Localized(())
        print(f"予約棚へ put on the hold shelf: {names.get('ja')} / {names.get('en')}")
    else:
        print("書架へ戻す reshelve: no reservation is waiting for it")
    return 0


def _retention(settings: Settings) -> queries.RetentionReport:
    """The retention job (`shiori retention run`; `shiori restore` runs it too)."""
    staff_idle = queries.staff_policy_data().settings["session_idle_minutes"]
    return queries.run_retention(settings.session_idle_minutes, int(staff_idle))


def cmd_retention(settings: Settings, _args: argparse.Namespace) -> int:
    _setup(settings)
    report = _retention(settings)
    print(
        f"利用者 patrons purged (3 years without borrowing): {report.patrons}, "
        f"sessions: {report.sessions}, staff sessions: {report.staff_sessions}, "
        f"throttles: {report.throttles}, codes: {report.activation_codes}, "
        f"reset links: {report.reset_links}, mail: {report.mail}, "
        f"レファレンス reference questions past retention: {report.reference_questions}, "
        f"仮登録申請 applications expired: {report.applications}, "
        f"削除予定のお知らせ purge reminders queued: {report.purge_reminders}, "
        f"0件検索 zero-hit searches made anonymous counts: {report.zero_hit_searches}, "
        f"予約取り消しの「元に戻す」 used undo notes past their time: {report.undo_notes}"
    )
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    _setup(settings)
    try:
        queries.check_runtime_role()
    except queries.LibraryRefused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    if not os.environ.get("SHIORI_SECRET_KEY"):
        # Demo only (production refuses to start without a key): every worker must sign
        # with the same key, or a form made by one is refused by another.
        os.environ["SHIORI_SECRET_KEY"] = settings.secret_key
    limits = serve.timeouts(
        settings,
        worker_healthcheck=args.timeout_worker_healthcheck,
        keep_alive=args.timeout_keep_alive,
        graceful_shutdown=args.timeout_graceful_shutdown,
    )
    serve.run(settings, args.workers, limits)
    return 0


def _seconds(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError("1〜3600 の整数 / a whole number from 1 to 3600")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shiori", description="Shiori WebOPAC")
    library_cli.add_option(p)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the schema").set_defaults(fn=cmd_migrate)
    imp = sub.add_parser(
        "import",
        help="import Aozora CSV or MARC (binary/XML) files; `shiori import "
        "items|patrons|loans|holds|withdrawals FILE` imports the system being replaced "
        "(`shiori import items --help`)",
        epilog=IMPORT_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("files", nargs="+")
    imp.add_argument("--source", choices=["aozora", "ndl", "loc", "marc"])
    imp.set_defaults(fn=cmd_import)
    demo = sub.add_parser("demo", help="demo data")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    load_p = demo_sub.add_parser("load", help="load the demo catalog if the database is empty")
    load_p.add_argument("--data-dir")
    load_p.add_argument("--force", action="store_true")
    load_p.set_defaults(fn=cmd_demo_load)
    cat = sub.add_parser("catalog", help="catalog maintenance")
    cat_sub = cat.add_subparsers(dest="catalog_command", required=True)
    cat_sub.add_parser("reindex", help="rebuild the search index").set_defaults(fn=cmd_reindex)
    patron = sub.add_parser("patron", help="patron accounts")
    patron_sub = patron.add_subparsers(dest="patron_command", required=True)
    code = patron_sub.add_parser("code", help="issue a single-use password activation code")
    code.add_argument("card", type=forms.as_card)
    code.set_defaults(fn=cmd_activation_code)
    circ = sub.add_parser("circ", help="circulation at the counter")
    circ_sub = circ.add_subparsers(dest="circ_command", required=True)
    out = circ_sub.add_parser("checkout", help="lend an item")
    out.add_argument("card", type=forms.as_card)
    out.add_argument("barcode", type=forms.as_barcode)
    out.add_argument(
        "--confirm",
        action="store_true",
        help="lend although the patron has overdue items or is at a limit, where the loan "
        'rule only warns ("warn"; a "block" rule still refuses)',
    )
    out.set_defaults(fn=cmd_checkout)
    back = circ_sub.add_parser("return", help="take an item back (deletes the loan)")
    back.add_argument("barcode", type=forms.as_barcode)
    back.set_defaults(fn=cmd_return)
    mail = sub.add_parser("mail", help="the mail outbox")
    mail_sub = mail.add_subparsers(dest="mail_command", required=True)
    send = mail_sub.add_parser("send", help="deliver due mail once")
    send.set_defaults(fn=cmd_mail_send)
    library_cli.every_library(send)
    worker = mail_sub.add_parser("worker", help="deliver mail until stopped")
    worker.add_argument("--interval", type=float, default=10.0)
    worker.set_defaults(fn=cmd_mail_worker)
    holds_p = sub.add_parser("holds", help="reservations")
    holds_sub = holds_p.add_subparsers(dest="holds_command", required=True)
    daily = holds_sub.add_parser(
        "daily",
        help="expire uncollected reservations, queue due-date reminders, refill pull lists",
    )
    daily.set_defaults(fn=cmd_holds_daily)
    library_cli.every_library(daily)
    receive = holds_sub.add_parser("receive", help="a copy in transit arrived at its pickup")
    receive.add_argument("barcode", type=forms.as_barcode)
    receive.set_defaults(fn=cmd_holds_receive)
    staff_cli.add_parser(sub, _setup)
    reference_cli.add_parser(sub, _setup)
    alerts_cli.add_parser(sub, _setup)
    backup_cli.add_parser(sub, _setup, _retention)
    keep = sub.add_parser("retention", help="privacy retention")
    keep_sub = keep.add_subparsers(dest="retention_command", required=True)
    keep_run = keep_sub.add_parser(
        "run", help="purge patrons 3 years without borrowing, dead sessions, old mail"
    )
    keep_run.set_defaults(fn=cmd_retention)
    library_cli.every_library(keep_run)
    library_cli.add_parser(sub, _setup)
    srv = sub.add_parser("serve", help="serve the site")
    srv.add_argument("--workers", type=int, default=1)
    srv.add_argument(
        "--timeout-worker-healthcheck",
        type=_seconds,
        metavar="S",
        help="seconds a worker may take to answer the master's health ping "
        "(SHIORI_WORKER_HEALTHCHECK_SECONDS, default 30)",
    )
    srv.add_argument(
        "--timeout-keep-alive",
        type=_seconds,
        metavar="S",
        help="seconds an idle keep-alive connection stays open (SHIORI_KEEP_ALIVE_SECONDS, "
        "default 5)",
    )
    srv.add_argument(
        "--timeout-graceful-shutdown",
        type=_seconds,
        metavar="S",
        help="seconds a stop waits for requests in flight (SHIORI_GRACEFUL_SHUTDOWN_SECONDS, "
        "default 30)",
    )
    srv.set_defaults(fn=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    library, words = library_cli.split_library(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["import"] and words[1:2] and words[1] in (*import_cli.KINDS, "catalogue"):
        args = import_cli.parser(_setup, cmd_import, _print_unfinished).parse_args(words[1:])
    else:
        args = parser().parse_args(words)
    try:
        settings = load()
    except SettingsError as err:
        print(f"設定エラー / Configuration error: {err}", file=sys.stderr)
        return 2
    try:
        status: int = library_cli.run(settings, args, library, _setup)
    except queries.DatabaseUnavailable as unusable:
        print(_words(settings, unusable), file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
