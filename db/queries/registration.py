"""The applicant's side of pre-registration (利用者仮登録申請, issue 13, seed 003-b).

`submit_application` stores what an applicant typed (checked and normalised by
db.applications and db.japanese_input) under a new receipt number (仮登録番号). Without an
email it counts at once: it is in the staff queue and its receipt can be shown. With one, a
single-use link is mailed (only the digest of its random token is stored) and the
application counts only when `confirm_application_email` trades the link in; the receipt
then goes out by mail too. An application with the same name, birth date and phone as a
patron or another application is stored flagged `probable_duplicate`, and the applicant is
told to come to the counter: it is never silently turned into a second record.

Applications are deleted by `shiori retention run` (db.applications.purge_expired) after
their last day, or once an unopened email link has expired; the counter side deletes one
when it becomes a patron.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, insert, select, update
from sqlalchemy.engine import Connection

from db import applications, calendar, clock, codes, japanese_input, outbox, rules, throttle
from db.applications import ApplicationFields, ApplicationRefused
from db.clock import library_today, naive_utc
from db.engine import reads, writes
from db.errors import NotFound, QueryError, Refusal, TooManyAttempts
from db.models import TABLES
from db.postal import PostalArea, area_of

__all__ = [
    "APPLICATION_CATEGORIES",
    "APPLICATION_DAYS",
    "APPLICATION_EMAIL_LINK_HOURS",
    "APPLICATION_FIELDS",
    "ApplicationFields",
    "ApplicationLinkRefused",
    "ApplicationReceipt",
    "ApplicationRefused",
    "PostalArea",
    "SubmitThrottled",
    "check_application_field",
    "confirm_application_email",
    "find_postal_area",
    "format_receipt_number",
    "get_application_receipt",
    "read_receipt_number",
    "submit_application",
    "suggest_category",
]

APPLICATION_FIELDS = applications.FIELDS
APPLICATION_CATEGORIES = rules.CATEGORIES
APPLICATION_DAYS = rules.APPLICATION_DAYS
APPLICATION_EMAIL_LINK_HOURS = rules.APPLICATION_EMAIL_LINK_HOURS
format_receipt_number = applications.format_receipt_number
read_receipt_number = applications.read_receipt_number

_app = applications.application_table.c
_branch = TABLES["branch"].c


class SubmitThrottled(TooManyAttempts):
    """Too many applications from this address (or from everyone) for now."""


class ApplicationLinkRefused(QueryError):
    """An email link that is used, expired or made up."""

    code = "application_link_refused"


@dataclass(frozen=True)
class ApplicationReceipt:
    """What the applicant's receipt shows: no personal values beyond the number."""

    receipt_number: str
    expires_on: date  # the last day to come to a counter
    home_branch: str  # branch code
    counted: bool  # False: waiting for the email link to be opened
    probable_duplicate: bool  # the applicant should say so at the counter
    email_confirmed: bool


def _receipt(row: Row[Any]) -> ApplicationReceipt:
    return ApplicationReceipt(
        receipt_number=row.receipt_number,
        expires_on=row.expires_on,
        home_branch=row.code,
        counted=row.counted_at is not None,
        probable_duplicate=bool(row.probable_duplicate),
        email_confirmed=bool(row.email_confirmed),
    )


def _receipt_query() -> Select[Any]:
    return select(
        _app.receipt_number,
        _app.expires_on,
        _branch.code,
        _app.counted_at,
        _app.probable_duplicate,
        _app.email_confirmed,
    ).join_from(applications.application_table, TABLES["branch"], _branch.id == _app.home_branch_id)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_application_field(name: str, fields: ApplicationFields) -> Refusal | None:
    """One field's refusal (None: fine), for the form's check as each field is left."""
    today = library_today(clock.now())
    return applications.check_field(name, fields, today, codes.cached_category_codes())


def suggest_category(born: date) -> str:
    """The questioner category a birth date suggests (db.applications.category_for_birth_date)."""
    return applications.category_for_birth_date(born, library_today(clock.now()))


def find_postal_area(typed: str) -> PostalArea | None:
    """The prefecture and city of a typed postal code, where the local table covers it."""
    code = japanese_input.postal_code(typed)
    return area_of(code) if code else None


@writes
def submit_application(
    conn: Connection,
    now: datetime,
    fields: ApplicationFields,
    *,
    client: str,
    days: int,
    lang: str,
    make_link: Callable[[str], str],
) -> ApplicationReceipt:
    """Store an application (see the module docstring). `client` is the address the request
    came from (throttled per address and overall: SubmitThrottled); `days` the days it is
    kept for the counter (SHIORI_APPLICATION_DAYS; a last day on which every branch is
    closed becomes the next day one is open, db.calendar); `make_link` turns the email token into
    the confirmation URL. ApplicationRefused with every wrong field; nothing is stored then."""
    today = library_today(now)
    clean, errors = applications.check_fields(fields, today, codes.category_codes(conn))
    branch_id = conn.execute(
        select(_branch.id).where(_branch.code == fields.home_branch)
    ).scalar_one_or_none()
    if branch_id is None and "home_branch" not in errors:
        errors["home_branch"] = Refusal("choose_branch")
    if clean is not None and not codes.hold_category(conn, clean.category):
        errors["category"] = Refusal("choose_category")
    if clean is None or branch_id is None or errors:
        raise ApplicationRefused(errors)
    try:
        throttle.reserve(
            conn, [(applications.SUBMIT_ADDRESS, client), (applications.SUBMIT_ALL, "")], now
        )
    except throttle.Throttled:
        raise SubmitThrottled() from None
    stamp = naive_utc(now)
    token = secrets.token_urlsafe(32) if clean.email else None
    applications.lock_person(conn, clean.birth_date, clean.phone_digits)
    duplicate = applications.is_probable_duplicate(
        conn, clean.name, clean.birth_date, clean.phone_digits
    )
    receipt_number = applications.new_receipt_number(conn)
    new_id = conn.execute(
        insert(applications.application_table)
        .values(
            receipt_number=receipt_number,
            name=clean.name,
            name_kana=clean.name_kana,
            birth_date=clean.birth_date,
            postal_code=clean.postal_code,
            address=clean.address,
            phone=clean.phone,
            phone_digits=clean.phone_digits,
            email=clean.email,
            email_confirmed=False,
            email_token_hash=_token_digest(token) if token else None,
            email_token_expires_at=(
                stamp + timedelta(hours=rules.APPLICATION_EMAIL_LINK_HOURS) if token else None
            ),
            category=clean.category,
            home_branch_id=branch_id,
            lang=lang[:2],
            consent_version=rules.PRIVACY_NOTICE_VERSION,
            probable_duplicate=duplicate,
            created_at=stamp,
            counted_at=None if token else stamp,
            expires_on=calendar.next_day_any_branch_open(conn, today + timedelta(days=days)),
        )
        .returning(_app.id)
    ).scalar_one()
    if token and clean.email:
        mail_id = outbox.enqueue(
            conn,
            kind="application_confirm",
            to_addr=clean.email,
            now=now,
            lang=lang,
            params={"link": make_link(token), "hours": rules.APPLICATION_EMAIL_LINK_HOURS},
        )
        conn.execute(
            update(applications.application_table)
            .where(_app.id == new_id)
            .values(confirm_mail_id=mail_id)
        )
    row = conn.execute(_receipt_query().where(_app.id == new_id)).one()
    return _receipt(row)


@writes
def confirm_application_email(conn: Connection, now: datetime, token: str) -> ApplicationReceipt:
    """Trade an emailed link in (once): the application counts from now on and its receipt
    is mailed. ApplicationLinkRefused for a used, expired or made-up link."""
    stamp = naive_utc(now)
    row = conn.execute(
        select(_app.id, _app.email, _app.lang, _app.receipt_number, _app.expires_on).where(
            _app.email_token_hash == _token_digest(token[:200]),
            _app.email_token_expires_at > stamp,
        )
    ).first()
    if row is None or row.email is None:
        raise ApplicationLinkRefused()
    updated = conn.execute(
        update(applications.application_table)
        .where(_app.id == row.id, _app.email_token_hash.is_not(None))
        .values(
            email_confirmed=True,
            email_token_hash=None,
            email_token_expires_at=None,
            counted_at=stamp,
        )
    )
    if not updated.rowcount:
        raise ApplicationLinkRefused()
    receipt = _receipt(conn.execute(_receipt_query().where(_app.id == row.id)).one())
    mail_id = outbox.enqueue(
        conn,
        kind="application_receipt",
        to_addr=row.email,
        now=now,
        lang=row.lang,
        params={
            "receipt_number": applications.format_receipt_number(row.receipt_number),
            "expires_on": row.expires_on.isoformat(),
            "branch": receipt.home_branch,
        },
    )
    conn.execute(
        update(applications.application_table)
        .where(_app.id == row.id)
        .values(receipt_mail_id=mail_id)
    )
    return receipt


@reads
def get_application_receipt(
    conn: Connection, now: datetime, receipt_number: str
) -> ApplicationReceipt:
    """The receipt of an application (NotFound when there is none, or it has expired)."""
    row = conn.execute(
        _receipt_query().where(
            _app.receipt_number == receipt_number, _app.expires_on >= library_today(now)
        )
    ).first()
    if row is None:
        raise NotFound("application_not_found")
    return _receipt(row)
