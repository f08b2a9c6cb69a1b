"""The narrow query layer: the only door from `web` (and the CLI) to the database.

Every function is one transaction and returns plain frozen dataclasses. Expected refusals
raise `QueryError` subclasses whose message is fit to show; nothing here knows about HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import Connection

from db import (
    accounts,
    catalog,
    catalog_write,
    circulation,
    clock,
    engine,
    mail,
    migrate,
    notices,
    patrons,
    rules,
    seed,
)
from db import sessions as web_sessions
from db.accounts import (
    CodeRefused,
    FactsRefused,
    LoginFailed,
    LoginResult,
    MyAccount,
    ResetLinkRefused,
)
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
from db.circulation import (
    CheckoutReceipt,
    CirculationRefused,
    DailyCountView,
    LoanView,
    RenewAllReport,
    RenewalRefused,
    ReturnReceipt,
)
from db.errors import ImportRefused, NotFound, QueryError
from db.importers import detect
from db.mail import MailCounts, SendReport, SmtpSettings
from db.passwords import PasswordRejected
from db.sessions import SessionInfo, SessionListing, Timeouts

__all__ = [
    "RENEWAL_REFUSALS",
    "RULES",
    "Branch",
    "CatalogStats",
    "CheckoutReceipt",
    "CirculationRefused",
    "CodeRefused",
    "Copy",
    "DailyCountView",
    "FactsRefused",
    "ImportRefused",
    "ImportReport",
    "LoanView",
    "LoginFailed",
    "LoginResult",
    "MailCounts",
    "MaterialType",
    "MyAccount",
    "NotFound",
    "PasswordRejected",
    "QueryError",
    "Record",
    "RenewAllReport",
    "RenewalRefused",
    "ResetLinkRefused",
    "ReturnReceipt",
    "SearchHit",
    "SearchParams",
    "SearchResult",
    "SendReport",
    "SessionInfo",
    "SessionListing",
    "SmtpSettings",
    "Timeouts",
    "change_password",
    "checkout",
    "configure",
    "dispose",
    "end_my_other_sessions",
    "end_my_session",
    "ensure_demo_patrons",
    "ensure_reference_data",
    "generate_demo_copies",
    "get_catalog_stats",
    "get_mail_counts",
    "get_my_account",
    "get_record",
    "get_session",
    "give_demo_loans",
    "import_catalog_file",
    "issue_activation_code",
    "list_branches",
    "list_daily_counts",
    "list_loans",
    "list_material_types",
    "list_my_sessions",
    "local_time",
    "log_in",
    "log_out",
    "migrate_database",
    "rebuild_search_index",
    "renew_all_loans",
    "renew_loan",
    "request_password_reset",
    "reset_password",
    "return_item",
    "run_mail_worker",
    "search_works",
    "send_due_mail",
    "set_clock",
    "set_first_password",
    "set_password_with_code",
    "synthesize_catalog",
]

RULES = rules
T = TypeVar("T")
RENEWAL_REFUSALS = circulation.REFUSAL_MESSAGES
local_time = notices.local
CatalogStats = seed.CatalogStats


def configure(url: str) -> None:
    """Point the query layer at a database URL (sqlite:///… or postgresql+psycopg://…)."""
    engine.configure(url)
    _code_tables.clear()


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
    _code_tables.clear()


def search_works(params: SearchParams) -> SearchResult:
    with engine.read() as conn:
        return catalog.search_works(conn, params)


def get_record(work_id: int) -> Record:
    with engine.read() as conn:
        record = catalog.get_record(conn, work_id)
    if record is None:
        raise NotFound("資料が見つかりません。 / Record not found.")
    return record


# Code tables change rarely and are read on every search page: each process keeps them for
# CODE_TABLE_SECONDS (a change made in another process shows within that time).
CODE_TABLE_SECONDS = 60.0
_code_tables: dict[str, tuple[float, tuple[object, ...]]] = {}


def _code_table(name: str, load: Callable[[Connection], tuple[T, ...]]) -> tuple[T, ...]:
    cached = _code_tables.get(name)
    if cached is not None and time.monotonic() - cached[0] < CODE_TABLE_SECONDS:
        return cached[1]  # type: ignore[return-value]
    with engine.read() as conn:
        rows = load(conn)
    _code_tables[name] = (time.monotonic(), rows)
    return rows


def list_branches() -> tuple[Branch, ...]:
    return _code_table("branch", catalog.list_branches)


def list_material_types() -> tuple[MaterialType, ...]:
    return _code_table("material_type", catalog.list_material_types)


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


# Accounts and sessions -----------------------------------------------------------------


def log_in(
    card: str, password: str, address: str, device: str, kiosk: bool, timeouts: Timeouts
) -> LoginResult:
    """A new session for the right card and password; `LoginFailed` for anything else."""
    return accounts.log_in(card, password, address, device, kiosk, timeouts, clock.now())


def get_session(token: str, timeouts: Timeouts, kiosk_timeouts: Timeouts) -> SessionInfo | None:
    with engine.write() as conn:
        return web_sessions.load(conn, token, clock.now(), timeouts, kiosk_timeouts)


def log_out(token: str) -> None:
    with engine.write() as conn:
        web_sessions.end(conn, token)


def list_my_sessions(patron_id: int, current_token: str) -> tuple[SessionListing, ...]:
    with engine.read() as conn:
        return web_sessions.listing(conn, patron_id, current_token)


def end_my_session(patron_id: int, handle: str) -> None:
    with engine.write() as conn:
        if not web_sessions.end_by_handle(conn, patron_id, handle):
            raise NotFound("そのログインは見つかりません。 / No such session.")


def end_my_other_sessions(patron_id: int, current_token: str) -> int:
    with engine.write() as conn:
        return web_sessions.end_all(conn, patron_id, current_token)


def get_my_account(patron_id: int) -> MyAccount:
    with engine.read() as conn:
        return accounts.get_my_account(conn, patron_id)


def set_first_password(
    card: str, birth_date: date, phone: str, new_password: str, address: str
) -> None:
    accounts.set_first_password(card, birth_date, phone, new_password, address, clock.now())


def issue_activation_code(card: str) -> str:
    return accounts.issue_activation_code(card, clock.now())


def set_password_with_code(card: str, code: str, new_password: str, address: str) -> None:
    accounts.set_password_with_code(card, code, new_password, address, clock.now())


def request_password_reset(
    card: str, email: str, address: str, make_link: Callable[[int, str], str]
) -> None:
    accounts.request_password_reset(card, email, address, make_link, clock.now())


def reset_password(patron_id: int, fingerprint: str, new_password: str) -> None:
    accounts.reset_password(patron_id, fingerprint, new_password, clock.now())


def change_password(
    patron_id: int, current: str, new_password: str, end_other_sessions: bool, current_token: str
) -> int:
    return accounts.change_password(
        patron_id, current, new_password, end_other_sessions, current_token, clock.now()
    )


def ensure_demo_patrons() -> int:
    """Create the README's demo patrons where missing (never in production: see web.cli)."""
    with engine.write() as conn:
        return len(patrons.ensure_demo_patrons(conn, clock.now()))


# Circulation ---------------------------------------------------------------------------


def list_loans(patron_id: int) -> tuple[LoanView, ...]:
    with engine.read() as conn:
        return circulation.list_loans(conn, patron_id, clock.now())


def renew_loan(patron_id: int, loan_id: int) -> LoanView:
    """Renew one of the patron's loans; `RenewalRefused` says why not, `NotFound` if not theirs."""
    with engine.write() as conn:
        return circulation.renew(conn, patron_id, loan_id, clock.now())


def renew_all_loans(patron_id: int) -> RenewAllReport:
    with engine.write() as conn:
        return circulation.renew_all(conn, patron_id, clock.now())


def checkout(card_number: str, barcode: str) -> CheckoutReceipt:
    with engine.write() as conn:
        return circulation.checkout(conn, card_number, barcode, clock.now())


def return_item(barcode: str) -> ReturnReceipt:
    """Deletes the loan: afterwards nothing links the patron to the item."""
    with engine.write() as conn:
        return circulation.return_item(conn, barcode, clock.now())


def give_demo_loans() -> int:
    with engine.write() as conn:
        return circulation.give_demo_loans(conn, clock.now())


def list_daily_counts(day_from: date, day_to: date) -> tuple[DailyCountView, ...]:
    with engine.read() as conn:
        return circulation.daily_counts(conn, day_from, day_to)


# Mail ----------------------------------------------------------------------------------


def send_due_mail(settings: SmtpSettings, limit: int = 50) -> SendReport:
    return mail.send_due(settings, clock.now(), limit)


def run_mail_worker(settings: SmtpSettings, interval_seconds: float) -> None:
    mail.run_worker(settings, interval_seconds)


def get_mail_counts() -> MailCounts:
    with engine.read() as conn:
        return mail.mail_queue_counts(conn)
