"""My data (issue 16): what the library holds about the patron, their notice settings,
and deleting their account.

Notice settings are per kind (db.notice_prefs.KINDS): mailed or not (連絡不要), titles or
not. Deleting the account takes the password again; with nothing on loan everything goes
at once (db.erasure) and one last mail, queued to no patron, says so; with items out the
refusal names how many, and the page lists them (`list_deletion_blockers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from db import circulation, erasure, models, notice_prefs, outbox, passwords, throttle
from db.circulation import LoanView
from db.engine import erase_after_commit, reads, writes
from db.errors import NotFound, QueryError, TooManyAttempts
from db.notice_prefs import KINDS as NOTICE_KINDS
from db.notice_prefs import NoticeSetting

__all__ = [
    "ACCOUNT_DELETED_KIND",
    "NOTICE_KINDS",
    "AccountDeleted",
    "MyDataRefused",
    "NoticeSetting",
    "NoticeSettings",
    "delete_my_account",
    "get_notice_settings",
    "list_deletion_blockers",
    "set_notice_settings",
]

ACCOUNT_DELETED_KIND = "account_deleted"

_T = models.Patron.metadata.tables
_patron = _T["patron"].c
_pref = _T["notice_preference"].c
_loan = _T["loan"].c


class MyDataRefused(QueryError):
    """A change to the patron's own data that cannot be made (a code of db.errors.CODES)."""


@dataclass(frozen=True)
class NoticeSettings:
    has_email: bool
    due_reminder_days: int | None  # when the due-soon mail comes (holds page); None: never
    settings: tuple[NoticeSetting, ...]  # one per kind, in NOTICE_KINDS order


@dataclass(frozen=True)
class AccountDeleted:
    mailed: bool  # a last mail was queued to the address the account had


def _settings(conn: Connection, patron_id: int) -> NoticeSettings:
    row = conn.execute(
        select(_patron.email, _pref.due_reminder_days)
        .select_from(_T["patron"].outerjoin(_T["notice_preference"], _pref.patron_id == _patron.id))
        .where(_patron.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    return NoticeSettings(
        has_email=bool(row.email),
        due_reminder_days=row.due_reminder_days,
        settings=tuple(notice_prefs.settings_of(conn, patron_id).values()),
    )


@reads
def get_notice_settings(conn: Connection, now: datetime, patron_id: int) -> NoticeSettings:
    return _settings(conn, patron_id)


@writes
def set_notice_settings(
    conn: Connection, now: datetime, patron_id: int, choices: Mapping[str, tuple[bool, bool]]
) -> NoticeSettings:
    """Store `{kind: (email, titles)}` for the kinds given; the others are left as they are."""
    _settings(conn, patron_id)  # NotFound first
    for kind, (email, titles) in choices.items():
        notice_prefs.set_setting(conn, patron_id, kind, email=email, titles=titles)
    return _settings(conn, patron_id)


@reads
def list_deletion_blockers(conn: Connection, now: datetime, patron_id: int) -> tuple[LoanView, ...]:
    """What must be returned before the account can be deleted: the loans."""
    return circulation.list_loans(conn, patron_id, now)


@writes
def _check_password_allowed(
    conn: Connection, now: datetime, patron_id: int
) -> tuple[str | None, str]:
    try:
        throttle.reserve(conn, [(throttle.CHANGE_PATRON, str(patron_id))], now)
    except throttle.Throttled:
        raise TooManyAttempts() from None
    row = conn.execute(
        select(_patron.password_hash, _patron.card_number).where(_patron.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    return row.password_hash, row.card_number


@writes
def _erase(conn: Connection, now: datetime, patron_id: int) -> AccountDeleted:
    row = conn.execute(
        select(_patron.email, _patron.lang).where(_patron.id == patron_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    on_loan = conn.execute(
        select(func.count()).select_from(_T["loan"]).where(_loan.patron_id == patron_id)
    ).scalar_one()
    if on_loan:
        raise MyDataRefused("items_on_loan", count=int(on_loan))
    erasure.erase_patrons(conn, [patron_id], now)
    # The last mail names no patron (the row is gone, and nothing may link back to it).
    mailed = False
    if row.email:
        mailed = (
            outbox.enqueue_notice(
                conn,
                kind=ACCOUNT_DELETED_KIND,
                to_addr=row.email,
                now=now,
                patron_id=None,
                lang=row.lang,
                params={"when": now.isoformat()},
            )
            is not None
        )
    erase_after_commit(conn)
    return AccountDeleted(mailed=mailed)


def delete_my_account(patron_id: int, password: str) -> AccountDeleted:
    """Delete the patron and everything of theirs, after the password again. Refused with
    `wrong_current_password` (throttled like a password change) or `items_on_loan`."""
    stored, _card = _check_password_allowed(patron_id)
    if not passwords.verify(stored, password):
        raise MyDataRefused("wrong_current_password")
    return _erase(patron_id)
