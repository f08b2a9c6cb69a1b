"""The narrow query layer: the only door from `web` (and the CLI) to the database.

Every function is one transaction and returns plain frozen dataclasses. Expected refusals
raise `QueryError` subclasses whose message is fit to show; nothing here knows about HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import Connection

from db import (
    accounts,
    booklist,
    catalog,
    catalog_write,
    circulation,
    clock,
    engine,
    holds,
    mail,
    migrate,
    notices,
    patrons,
    retention,
    rules,
    search_cache,
    seed,
    staff_patrons,
    staff_policy,
)
from db import sessions as web_sessions
from db import staff as staff_accounts
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
from db.passwords import PasswordRejected, configure_password_hashing
from db.retention import RetentionReport
from db.sessions import SessionInfo, SessionListing, Timeouts

__all__ = [
    "BOOKLIST_MIN_ITERATIONS",
    "HOLD_MAX_SUSPEND_DAYS",
    "HOLD_REMINDER_DAYS",
    "RENEWAL_REFUSALS",
    "RULES",
    "AuditQuery",
    "AuditRow",
    "BooklistData",
    "BooklistLossUnconfirmed",
    "BooklistPasswordWrap",
    "BooklistRecoveryWrap",
    "BooklistRefused",
    "BooklistSealed",
    "BooklistVersionConflict",
    "Branch",
    "CatalogStats",
    "CheckoutReceipt",
    "CirculationRefused",
    "CodeRefused",
    "Copy",
    "CounterState",
    "DailyCountView",
    "EnrolLinkRefused",
    "FactsRefused",
    "FailedMail",
    "HoldForm",
    "HoldRefused",
    "HoldRouting",
    "HoldView",
    "HoldsDailyReport",
    "ImportRefused",
    "ImportReport",
    "LoanView",
    "LoginFailed",
    "LoginResult",
    "MailCounts",
    "MaterialType",
    "MyAccount",
    "NotFound",
    "NoticePrefs",
    "PasswordRejected",
    "PatronEdit",
    "PatronRecord",
    "PatronSummary",
    "QueryError",
    "Record",
    "RecordAvailability",
    "RenewAllReport",
    "RenewalRefused",
    "ResetLinkRefused",
    "RetentionReport",
    "ReturnReceipt",
    "Scan",
    "SearchHit",
    "SearchParams",
    "SearchResult",
    "SecondFactorFailed",
    "SendReport",
    "SessionInfo",
    "SessionListing",
    "SmtpSettings",
    "StaffActor",
    "StaffFormRefused",
    "StaffInput",
    "StaffLogin",
    "StaffLoginFailed",
    "StaffLook",
    "StaffRefused",
    "StaffSessionInfo",
    "StaffView",
    "Timeouts",
    "TotpEnrolment",
    "begin_totp_enrolment",
    "cancel_hold",
    "change_hold_pickup",
    "change_password",
    "change_password_with_booklist",
    "change_staff_password",
    "check_staff_enrol_link",
    "checkout",
    "clear_counter",
    "configure",
    "configure_holds",
    "configure_password_hashing",
    "configure_search_cache",
    "confirm_totp",
    "counter_scan",
    "create_booklist",
    "create_first_manager",
    "create_staff_account",
    "discard_booklist",
    "dispose",
    "end_my_other_sessions",
    "end_my_session",
    "end_staff_account",
    "enrol_staff",
    "ensure_demo_patrons",
    "ensure_reference_data",
    "expire_holds",
    "generate_demo_copies",
    "get_booklist",
    "get_booklist_reset_outlook",
    "get_catalog_stats",
    "get_counter_state",
    "get_hold",
    "get_hold_form",
    "get_mail_counts",
    "get_my_account",
    "get_notice_prefs",
    "get_patron_for_staff",
    "get_record",
    "get_session",
    "get_staff_account",
    "get_staff_session",
    "give_demo_loans",
    "hold_limit",
    "import_catalog_file",
    "issue_activation_code",
    "list_branches",
    "list_daily_counts",
    "list_failed_mail",
    "list_holds",
    "list_loans",
    "list_material_types",
    "list_my_sessions",
    "list_record_availability",
    "list_staff_accounts",
    "list_staff_looks_at_me",
    "local_time",
    "log_in",
    "log_out",
    "lookup_patrons",
    "migrate_database",
    "pass_second_factor",
    "place_hold",
    "queue_due_reminders",
    "rebuild_search_index",
    "receive_item",
    "record_staff_refusal",
    "reissue_staff_enrol_link",
    "renew_all_loans",
    "renew_loan",
    "request_password_reset",
    "reset_password",
    "reset_password_with_booklist",
    "restore_booklist_key",
    "resume_hold",
    "return_item",
    "run_daily_holds",
    "run_mail_worker",
    "run_retention",
    "save_booklist",
    "search_staff_audit",
    "search_works",
    "send_due_mail",
    "set_booklist_recovery",
    "set_clock",
    "set_first_password",
    "set_notice_prefs",
    "set_password_with_code",
    "staff_log_in",
    "staff_log_out",
    "staff_policy_data",
    "suspend_hold",
    "synthesize_catalog",
    "update_patron_for_staff",
    "update_staff_account",
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
    search_cache.clear()


def configure_search_cache(seconds: float) -> None:
    """Keep ranked search pages this long in each process (0 turns the cache off)."""
    search_cache.configure(seconds)


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
    search_cache.clear()
    return report


def generate_demo_copies(seed_value: int = 20261121) -> int:
    """Give every work without copies 0–5 copies (seeded, reproducible). Returns copies made."""
    with engine.write() as conn:
        made = seed.generate_copies(conn, seed_value)
    search_cache.clear()
    return made


def synthesize_catalog(works: int, seed_value: int = 1) -> int:
    """Add `works` synthetic works (with copies) for benchmarks. Returns works made."""
    made = seed.synthesize(engine.write, works, seed_value, clock.now())
    search_cache.clear()
    return made


def rebuild_search_index() -> int:
    with engine.write() as conn:
        count = catalog_write.SearchIndex(conn).rebuild()
    search_cache.clear()
    return count


# Accounts and sessions -----------------------------------------------------------------


def log_in(
    card: str, password: str, address: str, device: str, kiosk: bool, timeouts: Timeouts
) -> LoginResult:
    """A new session for the right card and password; `LoginFailed` for anything else."""
    return accounts.log_in(card, password, address, device, kiosk, timeouts, clock.now())


def get_session(token: str, timeouts: Timeouts, kiosk_timeouts: Timeouts) -> SessionInfo | None:
    """The live session of a cookie token. A write happens only to end a stale session or,
    at most once a minute, to record use."""
    now = clock.now()
    with engine.read() as conn:
        info, action = web_sessions.inspect(conn, token, now, timeouts, kiosk_timeouts)
    if action:
        with engine.write() as conn:
            web_sessions.upkeep(conn, token, action, now)
    return info


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


# My Booklist (ciphertext only: see db/booklist.py) ------------------------------------

BooklistData = booklist.BooklistData
BooklistRefused = booklist.BooklistRefused
BooklistLossUnconfirmed = booklist.BooklistLossUnconfirmed
BooklistVersionConflict = booklist.VersionConflict
BooklistPasswordWrap = booklist.PasswordWrap
BooklistRecoveryWrap = booklist.RecoveryWrap
BooklistSealed = booklist.Sealed
RecordAvailability = booklist.Availability
BOOKLIST_MIN_ITERATIONS = booklist.MIN_ITERATIONS


def get_booklist(patron_id: int) -> BooklistData | None:
    with engine.read() as conn:
        return booklist.get(conn, patron_id)


def create_booklist(patron_id: int, wrap: BooklistPasswordWrap, sealed: BooklistSealed) -> int:
    """The first version; `BooklistVersionConflict` when another device created it first."""
    with engine.write() as conn:
        return booklist.create(conn, patron_id, wrap, sealed, clock.now())


def save_booklist(patron_id: int, key_id: str, base_version: int, sealed: BooklistSealed) -> int:
    """A new version when `base_version` is current; else `BooklistVersionConflict`."""
    with engine.write() as conn:
        return booklist.save(conn, patron_id, key_id, base_version, sealed, clock.now())


def set_booklist_recovery(patron_id: int, key_id: str, wrap: BooklistRecoveryWrap | None) -> None:
    with engine.write() as conn:
        booklist.set_recovery(conn, patron_id, wrap, key_id)


def restore_booklist_key(patron_id: int, wrap: BooklistPasswordWrap) -> None:
    with engine.write() as conn:
        booklist.restore_password_wrap(conn, patron_id, wrap)


def discard_booklist(patron_id: int) -> bool:
    with engine.write() as conn:
        return booklist.discard(conn, patron_id)


def get_booklist_reset_outlook(patron_id: int) -> str:
    """ "none", "recoverable" or "lost": what a password reset would do to the list."""
    with engine.read() as conn:
        return booklist.reset_outlook(conn, patron_id)


def list_record_availability(record_ids: tuple[int, ...]) -> tuple[RecordAvailability, ...]:
    with engine.read() as conn:
        return booklist.availability(conn, record_ids)


def change_password_with_booklist(
    patron_id: int,
    current: str,
    new_password: str,
    end_other_sessions: bool,
    current_token: str,
    booklist_wrap: BooklistPasswordWrap | None,
) -> int:
    """`change_password` that also stores the browser's re-wrapped booklist key."""
    return accounts.change_password(
        patron_id,
        current,
        new_password,
        end_other_sessions,
        current_token,
        clock.now(),
        booklist_wrap,
    )


def reset_password_with_booklist(
    patron_id: int, fingerprint: str, new_password: str, booklist_loss_confirmed: bool
) -> None:
    """`reset_password` that refuses to delete an unrecoverable booklist unconfirmed."""
    accounts.reset_password(
        patron_id, fingerprint, new_password, clock.now(), booklist_loss_confirmed
    )


# Staff console (issue 4) -------------------------------------------------------------------

StaffActor = staff_accounts.StaffActor
StaffSessionInfo = staff_accounts.StaffSessionInfo
StaffLogin = staff_accounts.StaffLogin
StaffInput = staff_accounts.StaffInput
StaffView = staff_accounts.StaffView
TotpEnrolment = staff_accounts.TotpEnrolment
StaffLoginFailed = staff_accounts.StaffLoginFailed
SecondFactorFailed = staff_accounts.SecondFactorFailed
EnrolLinkRefused = staff_accounts.EnrolLinkRefused
StaffFormRefused = staff_accounts.StaffFormRefused
StaffRefused = staff_patrons.StaffRefused
PatronSummary = staff_patrons.PatronSummary
PatronRecord = staff_patrons.PatronRecord
PatronEdit = staff_patrons.PatronEdit
AuditRow = staff_patrons.AuditRow
AuditQuery = staff_patrons.AuditQuery
StaffLook = staff_patrons.StaffLook
Scan = staff_patrons.Scan
CounterState = staff_patrons.CounterState


def staff_policy_data() -> staff_policy.Policy:
    """The role × action × field-group policy (db/data/staff_policy.json)."""
    return staff_policy.policy()


def create_first_manager(data: StaffInput) -> str:
    """A manager account (CLI only); returns the one-time enrolment token."""
    with engine.write() as conn:
        return staff_accounts.create_staff(conn, data, clock.now())[1]


def create_staff_account(data: StaffInput) -> tuple[int, str]:
    """(new staff id, one-time enrolment token)."""
    with engine.write() as conn:
        return staff_accounts.create_staff(conn, data, clock.now())


def update_staff_account(actor_id: int, staff_id: int, data: StaffInput) -> None:
    with engine.write() as conn:
        staff_accounts.update_staff(conn, actor_id, staff_id, data, clock.now())


def end_staff_account(actor_id: int, staff_id: int) -> None:
    with engine.write() as conn:
        staff_accounts.end_staff(conn, actor_id, staff_id, clock.now())


def reissue_staff_enrol_link(actor_id: int, staff_id: int) -> str:
    with engine.write() as conn:
        return staff_accounts.reissue_enrol_link(conn, actor_id, staff_id, clock.now())


def list_staff_accounts() -> tuple[StaffView, ...]:
    with engine.read() as conn:
        return staff_accounts.list_staff(conn, clock.now())


def get_staff_account(staff_id: int) -> StaffView:
    with engine.read() as conn:
        return staff_accounts.get_staff(conn, staff_id, clock.now())


def staff_log_in(staff_code: str, password: str, address: str, timeouts: Timeouts) -> StaffLogin:
    return staff_accounts.log_in(staff_code, password, address, clock.now(), timeouts)


def get_staff_session(token: str, timeouts: Timeouts) -> StaffSessionInfo | None:
    with engine.write() as conn:
        return staff_accounts.load_session(conn, token, clock.now(), timeouts)


def staff_log_out(token: str) -> None:
    with engine.write() as conn:
        staff_accounts.end_session(conn, token)


def begin_totp_enrolment(token: str) -> TotpEnrolment:
    return staff_accounts.begin_totp_enrolment(token)


def confirm_totp(token: str, code: str, timeouts: Timeouts) -> tuple[StaffLogin, tuple[str, ...]]:
    return staff_accounts.confirm_totp(token, code, clock.now(), timeouts)


def pass_second_factor(token: str, code: str, timeouts: Timeouts) -> StaffLogin:
    return staff_accounts.pass_second_factor(token, code, clock.now(), timeouts)


def check_staff_enrol_link(token: str, address: str) -> str:
    return staff_accounts.check_enrol_link(token, address, clock.now())


def enrol_staff(token: str, new_password: str, timeouts: Timeouts) -> StaffLogin:
    return staff_accounts.enrol(token, new_password, clock.now(), timeouts)


def change_staff_password(staff_id: int, current: str, new_password: str, token: str) -> None:
    staff_accounts.change_password(staff_id, current, new_password, token, clock.now())


def lookup_patrons(actor: StaffActor, card: str, name: str) -> tuple[PatronSummary, ...]:
    """Audited: every hit whose name is shown writes an audit row; refusals too."""
    by_name = not card.strip() and bool(name.strip())
    if by_name and not staff_policy.policy().may(actor.role, actor.duties, "patron.search_name"):
        record_staff_refusal(actor, None, ("name",), "patron_lookup", "search")
        raise StaffRefused()
    with engine.write() as conn:
        return staff_patrons.lookup_patrons(conn, actor, card, name, clock.now())


def get_patron_for_staff(actor: StaffActor, patron_id: int, screen: str) -> PatronRecord:
    """The patron as this role may see them (masked fields are None), with the audit row."""
    with engine.write() as conn:
        return staff_patrons.get_patron_record(conn, actor, patron_id, screen, clock.now())


def update_patron_for_staff(actor: StaffActor, patron_id: int, data: PatronEdit) -> None:
    with engine.write() as conn:
        staff_patrons.update_patron(conn, actor, patron_id, data, clock.now())


def record_staff_refusal(
    actor: StaffActor, patron_id: int | None, groups: tuple[str, ...], screen: str, action: str
) -> None:
    with engine.write() as conn:
        staff_patrons.refuse(conn, actor, patron_id, groups, screen, action, clock.now())


def search_staff_audit(query: AuditQuery) -> tuple[AuditRow, ...]:
    with engine.read() as conn:
        return staff_patrons.search_audit(conn, query, clock.now())


def list_staff_looks_at_me(patron_id: int) -> tuple[StaffLook, ...]:
    with engine.read() as conn:
        return staff_patrons.staff_looks_at_me(conn, patron_id)


def get_counter_state(token: str) -> CounterState:
    with engine.read() as conn:
        return staff_patrons.counter_state(conn, staff_accounts.session_key(token))


def counter_scan(token: str, kind: str, card: str, barcode: str) -> CounterState:
    """Checkout, return or renew one item; the scan list survives every refusal."""
    with engine.write() as conn:
        return staff_patrons.counter_scan(
            conn, staff_accounts.session_key(token), kind, card, barcode, clock.now()
        )


def clear_counter(token: str) -> None:
    with engine.write() as conn:
        staff_patrons.clear_counter(conn, staff_accounts.session_key(token))


# Holds (issue 5) -----------------------------------------------------------------------

HoldView = holds.HoldView
HoldForm = holds.HoldForm
HoldRefused = holds.HoldRefused
HoldRouting = holds.Routing
HoldsDailyReport = holds.DailyReport
NoticePrefs = holds.NoticePrefs
FailedMail = mail.FailedMail
HOLD_REMINDER_DAYS = holds.REMINDER_DAY_CHOICES
HOLD_MAX_SUSPEND_DAYS = holds.MAX_SUSPEND_DAYS


def hold_limit() -> int:
    """Active reservations allowed per patron (SHIORI_HOLD_LIMIT, default 10)."""
    return holds.hold_limit()


def configure_holds(limit: int, shelf_days: int) -> None:
    """The library's reservation limits: per patron, and days a ready item waits."""
    holds.configure(limit, shelf_days)


def place_hold(patron_id: int, work_id: int, pickup_code: str) -> HoldView:
    """Reserve a title; `HoldRefused` says why not. A double submit makes one reservation."""
    with engine.write() as conn:
        return holds.place_hold(conn, patron_id, work_id, pickup_code, clock.now())


def list_holds(patron_id: int) -> tuple[HoldView, ...]:
    with engine.read() as conn:
        return holds.list_holds(conn, patron_id, clock.now())


def get_hold(patron_id: int, hold_id: int) -> HoldView:
    with engine.read() as conn:
        return holds.get_hold(conn, patron_id, hold_id, clock.now())


def get_hold_form(patron_id: int, work_id: int) -> HoldForm:
    with engine.read() as conn:
        return holds.get_hold_form(conn, patron_id, work_id, clock.now())


def cancel_hold(patron_id: int, hold_id: int) -> str:
    """Delete the reservation (its copy goes to the next in line); returns the title."""
    with engine.write() as conn:
        return holds.cancel_hold(conn, patron_id, hold_id, clock.now())


def change_hold_pickup(patron_id: int, hold_id: int, pickup_code: str) -> HoldView:
    with engine.write() as conn:
        return holds.change_pickup(conn, patron_id, hold_id, pickup_code, clock.now())


def suspend_hold(patron_id: int, hold_id: int, until: date) -> HoldView:
    with engine.write() as conn:
        return holds.suspend_hold(conn, patron_id, hold_id, until, clock.now())


def resume_hold(patron_id: int, hold_id: int) -> HoldView:
    with engine.write() as conn:
        return holds.resume_hold(conn, patron_id, hold_id, clock.now())


def get_notice_prefs(patron_id: int) -> NoticePrefs:
    with engine.read() as conn:
        return holds.get_notice_prefs(conn, patron_id)


def set_notice_prefs(
    patron_id: int, hold_ready: bool, due_reminder_days: int | None
) -> NoticePrefs:
    with engine.write() as conn:
        return holds.set_notice_prefs(conn, patron_id, hold_ready, due_reminder_days)


def receive_item(barcode: str, at_branch_id: int | None = None) -> HoldRouting:
    """A copy in transit arrived at its pickup branch: its reservation becomes ready.
    `at_branch_id` (the counter's branch) refuses a copy that arrived at the wrong branch."""
    with engine.write() as conn:
        return holds.receive_item(conn, barcode, clock.now(), at_branch_id)


def expire_holds() -> int:
    with engine.write() as conn:
        return holds.expire_holds(conn, clock.now())


def queue_due_reminders() -> int:
    with engine.write() as conn:
        return holds.queue_due_reminders(conn, clock.now())


def run_daily_holds() -> HoldsDailyReport:
    """The daily job: expire uncollected reservations, then queue due-date reminders."""
    expired = expire_holds()
    return holds.DailyReport(expired=expired, reminders=queue_due_reminders())


def list_failed_mail(limit: int = 200) -> tuple[FailedMail, ...]:
    """Mail given up on (or in doubt), for staff: kind, times, error — no address or body."""
    with engine.read() as conn:
        return mail.list_failed_mail(conn, limit)


# Retention -----------------------------------------------------------------------------


def run_retention(patron_idle_minutes: int, staff_idle_minutes: int) -> RetentionReport:
    """Delete what the privacy rules keep only for a while (see db/retention.py)."""
    with engine.write() as conn:
        return retention.run(
            conn,
            clock.now(),
            patron_idle=timedelta(minutes=patron_idle_minutes),
            staff_idle=timedelta(minutes=staff_idle_minutes),
        )
