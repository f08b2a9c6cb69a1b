"""My data (issue 16): what the library holds about the patron, correcting it, their
notice settings, and deleting their account. Every function takes `patron_id` first and
touches only that patron's rows.

- `get_my_data`: the patron's registered values in plain fields, with the day the 3-year
  rule would delete the record (db.erasure.purge_date) and any change waiting.
- Email: a typed address is used for nothing until the single-use link mailed to it is
  opened (`request_email_change` / `confirm_email_change`; only the SHA-256 of the link's
  random token is kept, as for applications). Asking takes the current password; the old
  address is told when the change is asked for and when it is confirmed (db.patrons).
- Phone: corrected at once, normalised as registration does (db.japanese_input).
- Address: requested online (`request_address_change`), confirmed at a counter with ID
  (db.queries.staff_address_changes).
- Notice settings are per kind (db.notice_prefs.KINDS): mailed or not (連絡不要), titles or
  not.
- Deleting the account takes the password again; with nothing on loan everything goes at
  once (db.erasure) and one last mail, queued to no patron, says so; with items out the
  refusal names how many, and the page lists them (`list_deletion_blockers`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import EllipsisType
from typing import Any

from sqlalchemy import DateTime, func, literal, select
from sqlalchemy.engine import Connection

from db import (
    circulation,
    erasure,
    japanese_input,
    models,
    notice_prefs,
    outbox,
    passwords,
    patrons,
    throttle,
)
from db.applications import ADDRESS_MAX_CHARS
from db.circulation import LoanView
from db.clock import aware_utc, aware_utc_or_none, naive_utc
from db.emails import is_email
from db.engine import erase_after_commit, reads, writes
from db.errors import NotFound, QueryError, Refusal, TooManyAttempts
from db.localized import Localized
from db.notice_prefs import KINDS as NOTICE_KINDS
from db.notice_prefs import REMINDER_DAYS as NOTICE_REMINDER_DAYS
from db.notice_prefs import NoticeSetting
from db.sessions import digest

__all__ = [
    "ACCOUNT_DELETED_KIND",
    "EMAIL_LINK_HOURS",
    "NOTICE_KINDS",
    "AccountDeleted",
    "AddressChangeRequest",
    "MyData",
    "MyDataFieldsRefused",
    "MyDataRefused",
    "NoticeSetting",
    "NoticeSettings",
    "cancel_email_change",
    "confirm_email_change",
    "delete_my_account",
    "get_my_data",
    "get_notice_settings",
    "list_deletion_blockers",
    "request_address_change",
    "request_email_change",
    "set_my_phone",
    "set_notice_settings",
    "withdraw_address_change",
]

ACCOUNT_DELETED_KIND = "account_deleted"
EMAIL_CONFIRM_KIND = "email_confirm"
EMAIL_LINK_HOURS = 24  # a link to confirm a new address works this long, once

_T = models.Patron.metadata.tables
_patron_table = _T["patron"]
_patron = _patron_table.c
_pref = _T["notice_preference"].c
_loan = _T["loan"].c
_branch = _T["branch"].c
_confirm_table = _T["email_confirmation"]
_confirm = _confirm_table.c
_change_table = _T["address_change"]
_change = _change_table.c


class MyDataRefused(QueryError):
    """A change to the patron's own data that cannot be made (a code of db.errors.CODES)."""


class MyDataFieldsRefused(QueryError):
    """Fields that cannot be saved; `errors` maps each field to its refusal."""

    def __init__(self, errors: dict[str, Refusal]) -> None:
        super().__init__("check_fields")
        self.errors = errors


@dataclass(frozen=True)
class AddressChangeRequest:
    postal_code: str  # seven digits
    address: str
    requested_at: datetime  # aware UTC


@dataclass(frozen=True)
class MyData:
    """Every value of the patron's record, as stored."""

    card_number: str
    name: str
    name_kana: str
    birth_date: date
    address: str
    phone: str
    email: str | None
    email_waiting: str | None  # typed by the patron, waiting for its link to be opened
    email_recorded: str | None  # recorded by staff, waiting for the patron (My Library)
    category: str
    home_branch: Localized
    lang: str
    registered_on: date
    expires_on: date
    last_used_at: datetime | None  # aware UTC
    last_loan_on: date | None
    purge_on: date  # the 3-year rule deletes the record on this day unless they borrow
    address_change: AddressChangeRequest | None


@dataclass(frozen=True)
class NoticeSettings:
    has_email: bool
    due_reminder_days: int | None  # when the due-soon mail comes (holds page); None: never
    settings: tuple[NoticeSetting, ...]  # one per kind, in NOTICE_KINDS order


@dataclass(frozen=True)
class AccountDeleted:
    mailed: bool  # a last mail was queued to the address the account had


def _stamp(moment: datetime) -> Any:
    """A time bound as naive UTC with a plain DateTime (the columns are naive; the model's
    type wants aware values and PostgreSQL would cast those through its session TimeZone)."""
    return literal(naive_utc(moment), DateTime())


@reads
def get_my_data(conn: Connection, now: datetime, patron_id: int) -> MyData:
    row = conn.execute(
        select(_patron_table, _branch.names.label("branch_names"))
        .join(_T["branch"], _branch.id == _patron.home_branch_id)
        .where(_patron.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    waiting = conn.execute(
        select(_confirm.address).where(
            _confirm.patron_id == patron_id, _confirm.expires_at > _stamp(now)
        )
    ).scalar()
    change = conn.execute(
        select(_change.postal_code, _change.address, _change.requested_at).where(
            _change.patron_id == patron_id
        )
    ).first()
    return MyData(
        card_number=row.card_number,
        name=row.name,
        name_kana=row.name_kana,
        birth_date=row.birth_date,
        address=row.address,
        phone=row.phone,
        email=row.email,
        email_waiting=waiting,
        email_recorded=row.email_pending,
        category=row.category,
        home_branch=Localized.of(row.branch_names),
        lang=row.lang,
        registered_on=row.registered_on,
        expires_on=row.expires_on,
        last_used_at=aware_utc_or_none(row.last_used_at),
        last_loan_on=row.last_loan_on,
        purge_on=erasure.purge_date(row.registered_on, row.last_loan_on),
        address_change=(
            AddressChangeRequest(change.postal_code, change.address, aware_utc(change.requested_at))
            if change is not None
            else None
        ),
    )


def _withdraw_link(conn: Connection, patron_id: int) -> None:
    mail_id = conn.execute(select(_confirm.mail_id).where(_confirm.patron_id == patron_id)).scalar()
    if mail_id is not None:
        outbox.withdraw(conn, outbox.mail_outbox.c.id == mail_id)
    conn.execute(_confirm_table.delete().where(_confirm.patron_id == patron_id))


def request_email_change(
    patron_id: int, address: str, password: str, make_link: Callable[[str], str]
) -> None:
    """Mail a single-use link to `address`; it becomes the patron's address only when the
    link is opened (`confirm_email_change`). A newer request replaces an older link. The
    address receives password reset links, so the current password is asked again, checked
    as for account deletion (throttled): refused on the field `email_password` with
    `wrong_current_password` or `too_many_attempts`. The address in use is told at once."""
    address = japanese_input.email(address)
    if not address or not is_email(address):
        raise MyDataFieldsRefused({"email": Refusal("email_format")})
    try:
        stored, _card = _check_password_allowed(patron_id)
    except TooManyAttempts:
        raise MyDataFieldsRefused({"email_password": Refusal("too_many_attempts")}) from None
    if not passwords.verify(stored, password):
        raise MyDataFieldsRefused({"email_password": Refusal("wrong_current_password")})
    _request_email_change(patron_id, address, make_link)


@writes
def _request_email_change(
    conn: Connection, now: datetime, patron_id: int, address: str, make_link: Callable[[str], str]
) -> None:
    throttle.succeeded(conn, [(throttle.CHANGE_PATRON, str(patron_id))])
    row = conn.execute(
        select(_patron.email, _patron.lang).where(_patron.id == patron_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    if row.email and row.email.casefold() == address.casefold():
        raise MyDataFieldsRefused({"email": Refusal("email_same")})
    try:
        throttle.reserve(conn, [(throttle.EMAIL_LINK_PATRON, str(patron_id))], now)
    except throttle.Throttled:
        raise MyDataFieldsRefused({"email": Refusal("too_many_attempts")}) from None
    _withdraw_link(conn, patron_id)
    token = secrets.token_urlsafe(32)
    mail_id = outbox.enqueue(
        conn,
        kind=EMAIL_CONFIRM_KIND,
        to_addr=address,
        now=now,
        patron_id=patron_id,
        lang=row.lang,
        params={"link": make_link(token), "hours": EMAIL_LINK_HOURS},
    )
    conn.execute(
        _confirm_table.insert().values(
            patron_id=patron_id,
            address=address,
            token_hash=digest(token),
            created_at=_stamp(now),
            expires_at=_stamp(now + timedelta(hours=EMAIL_LINK_HOURS)),
            mail_id=mail_id,
        )
    )
    # Told now, not only once confirmed: whoever holds the session cannot hide the change.
    patrons.notify_email_change(conn, patron_id, row.email, row.lang, patrons.EMAIL_REQUESTED, now)


@writes
def confirm_email_change(conn: Connection, now: datetime, token: str) -> None:
    """The link was opened: its address becomes the patron's (used for mail and password
    resets from now on) and the old address is told. Works once; `email_link_invalid` for an
    unknown, used, replaced or expired link."""
    row = conn.execute(
        select(_confirm.patron_id, _confirm.address)
        .where(_confirm.token_hash == digest(token[:200]), _confirm.expires_at > _stamp(now))
        .with_for_update()
    ).first()
    if row is None:
        raise MyDataRefused("email_link_invalid")
    old = conn.execute(
        select(_patron.email, _patron.lang).where(_patron.id == row.patron_id).with_for_update()
    ).one()
    conn.execute(_confirm_table.delete().where(_confirm.patron_id == row.patron_id))
    conn.execute(
        _patron_table.update()
        .where(_patron.id == row.patron_id)
        .values(
            email=row.address,
            # A pending address staff recorded is superseded by the one the patron proved.
            email_pending=None,
            email_pending_at=None,
            # A plain DateTime bind: the model's type wants aware values; the column is naive.
            email_changed_at=_stamp(now),
        )
    )
    if old.email and old.email.casefold() != row.address.casefold():
        patrons.notify_email_change(
            conn, row.patron_id, old.email, old.lang, patrons.EMAIL_CONFIRMED, now
        )


@writes
def cancel_email_change(conn: Connection, now: datetime, patron_id: int) -> None:
    """Drop the address waiting for its link (and the link's unsent mail)."""
    _withdraw_link(conn, patron_id)


@writes
def set_my_phone(conn: Connection, now: datetime, patron_id: int, phone: str) -> None:
    """Correct the phone number, stored as registration stores it."""
    digits = japanese_input.phone(phone)
    if digits is None:
        raise MyDataFieldsRefused({"phone": Refusal("phone_format")})
    done = conn.execute(
        _patron_table.update()
        .where(_patron.id == patron_id)
        .values(phone=japanese_input.phone_text(phone)[:30], phone_digits=digits[:20])
    )
    if not done.rowcount:
        raise NotFound("patron_not_found")


@writes
def request_address_change(
    conn: Connection, now: datetime, patron_id: int, postal_code: str, address: str
) -> None:
    """Ask for a new address; it is used once staff confirm it at a counter with ID.
    `address_change_open` while an earlier request waits."""
    errors: dict[str, Refusal] = {}
    code = japanese_input.postal_code(postal_code)
    if code is None:
        errors["postal_code"] = Refusal("postal_code_format")
    cleaned = japanese_input.address(address)
    if not cleaned:
        errors["address"] = Refusal("address_required")
    elif len(cleaned) > ADDRESS_MAX_CHARS:
        errors["address"] = Refusal("address_too_long")
    if errors:
        raise MyDataFieldsRefused(errors)
    found = conn.execute(
        select(_patron.id).where(_patron.id == patron_id).with_for_update()
    ).first()
    if found is None:
        raise NotFound("patron_not_found")
    if conn.execute(select(_change.id).where(_change.patron_id == patron_id)).first():
        raise MyDataRefused("address_change_open")
    conn.execute(
        _change_table.insert().values(
            patron_id=patron_id, postal_code=code, address=cleaned, requested_at=_stamp(now)
        )
    )


@writes
def withdraw_address_change(conn: Connection, now: datetime, patron_id: int) -> bool:
    """Withdraw the waiting address change. → whether there was one."""
    done = conn.execute(_change_table.delete().where(_change.patron_id == patron_id))
    return bool(done.rowcount)


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
    conn: Connection,
    now: datetime,
    patron_id: int,
    choices: Mapping[str, tuple[bool, bool]],
    due_reminder_days: int | EllipsisType | None = ...,
) -> NoticeSettings:
    """Store `{kind: (email, titles)}` for the kinds given (the others are left as they are)
    and, unless `...`, how many days before the due date the reminder comes (None: the
    default), all in one transaction: a day not offered (`choose_option`) or an unknown kind
    (ValueError) saves nothing."""
    if due_reminder_days is not ... and due_reminder_days not in (None, *NOTICE_REMINDER_DAYS):
        raise MyDataRefused("choose_option")
    _settings(conn, patron_id)  # NotFound first
    for kind, (email, titles) in choices.items():
        notice_prefs.set_setting(conn, patron_id, kind, email=email, titles=titles)
    if due_reminder_days is not ...:
        notice_prefs.set_reminder_days(conn, patron_id, due_reminder_days)
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
