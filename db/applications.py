"""Library-card applications (利用者仮登録申請, issue 13): the rules both sides share.

The applicant side is db.queries.registration; the counter side (queue, correct, confirm,
walk-in) reuses what is here: the field checks (`check_fields`, `check_field`), the
probable-duplicate test, the receipt number, and `delete_applications`, which removes
applications with everything they held — their queued mail included (db.outbox.withdraw;
mail already delivered or given up is deleted too, since it names the applicant's address).

Receipt numbers (仮登録番号) are ten digits: nine random ones and a Luhn check digit, so a
mistyped number is caught before any look-up and a guessed one hits one of a billion.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    column,
    delete,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.engine import Connection

from db import calendar, japanese_input, outbox, throttle
from db.clock import library_today, naive_utc
from db.digits import ascii_digits
from db.emails import is_email
from db.errors import QueryError, Refusal
from db.models import TABLES
from db.search import normalise

# The table as migration 0021 creates it (models.Application), with plain column types: the
# model's datetime type wants aware values, the columns hold naive UTC (as db.outbox says).
application_table = table(
    "application",
    column("id", Integer),
    column("receipt_number", String),
    column("name", String),
    column("name_kana", String),
    column("birth_date", Date),
    column("postal_code", String),
    column("address", Text),
    column("phone", String),
    column("phone_digits", String),
    column("email", String),
    column("email_confirmed", Boolean),
    column("email_token_hash", String),
    column("email_token_expires_at", DateTime),
    column("category", String),
    column("home_branch_id", Integer),
    column("lang", String),
    column("consent_version", String),
    column("probable_duplicate", Boolean),
    column("created_at", DateTime),
    column("counted_at", DateTime),
    column("expires_on", Date),
    column("confirm_mail_id", Integer),
    column("receipt_mail_id", Integer),
)
_app = application_table.c
_patron = TABLES["patron"].c

RECEIPT_DIGITS = 10

# Submissions per client address, and from everyone (a cap on the mail the form can send).
SUBMIT_ADDRESS = throttle.Limit(
    "register:address", 10, throttle.HOUR, 10 * throttle.MINUTE, throttle.DAY
)
SUBMIT_ALL = throttle.Limit("register:all", 500, throttle.HOUR, throttle.MINUTE, throttle.HOUR)

NAME_MAX_CHARS = 100
ADDRESS_MAX_CHARS = 200

# The form's fields, in the order a page shows them.
FIELDS = (
    "name",
    "name_kana",
    "birth_date",
    "postal_code",
    "address",
    "phone",
    "email",
    "category",
    "home_branch",
)


@dataclass(frozen=True)
class ApplicationFields:
    """What was typed, as the web tier read it (`birth_date` None: no readable date)."""

    name: str
    name_kana: str
    birth_date: date | None
    postal_code: str
    address: str
    phone: str
    email: str
    category: str
    home_branch: str  # branch code


@dataclass(frozen=True)
class CleanApplication:
    """The stored form of valid fields (db.japanese_input)."""

    name: str
    name_kana: str
    birth_date: date
    postal_code: str
    address: str
    phone: str
    phone_digits: str
    email: str | None
    category: str
    home_branch: str


class ApplicationRefused(QueryError):
    """Fields that cannot be saved; `errors` maps each field to its refusal."""

    def __init__(self, errors: dict[str, Refusal]) -> None:
        super().__init__("check_fields")
        self.errors = errors


def check_field(
    name: str,
    fields: ApplicationFields,
    today: date,
    categories: Collection[str],
) -> Refusal | None:
    """The refusal for one field (None when it is fine). `home_branch` is only checked for
    being chosen here; the query that stores it checks that the branch exists."""
    if name == "name":
        value = japanese_input.name(fields.name)
        if not value:
            return Refusal("name_required")
        return (
            Refusal.of("name_too_long", max=NAME_MAX_CHARS) if len(value) > NAME_MAX_CHARS else None
        )
    if name == "name_kana":
        if not fields.name_kana.strip():
            return Refusal("kana_required")
        kana = japanese_input.katakana(fields.name_kana)
        if kana is None:
            return Refusal("kana_format")
        return (
            Refusal.of("name_too_long", max=NAME_MAX_CHARS) if len(kana) > NAME_MAX_CHARS else None
        )
    if name == "birth_date":
        born = fields.birth_date
        if born is None or born.year < 1900:
            return Refusal("birth_date_format")
        return Refusal("birth_date_future") if born > today else None
    if name == "postal_code":
        return (
            None
            if japanese_input.postal_code(fields.postal_code)
            else Refusal("postal_code_format")
        )
    if name == "address":
        value = japanese_input.address(fields.address)
        if not value:
            return Refusal("address_required")
        return Refusal("address_too_long") if len(value) > ADDRESS_MAX_CHARS else None
    if name == "phone":
        return None if japanese_input.phone(fields.phone) else Refusal("phone_format")
    if name == "email":
        email = japanese_input.email(fields.email)
        return Refusal("email_format") if email and not is_email(email) else None
    if name == "category":
        return None if fields.category in categories else Refusal("choose_category")
    if name == "home_branch":
        return None if fields.home_branch else Refusal("choose_branch")
    raise ValueError(f"no such application field {name!r}")


def check_fields(
    fields: ApplicationFields, today: date, categories: Collection[str]
) -> tuple[CleanApplication | None, dict[str, Refusal]]:
    """The stored form of every field, or the refusals of those that are wrong."""
    errors = {
        name: refusal
        for name in FIELDS
        if (refusal := check_field(name, fields, today, categories)) is not None
    }
    if errors:
        return None, errors
    assert fields.birth_date is not None
    return (
        CleanApplication(
            name=japanese_input.name(fields.name),
            name_kana=japanese_input.katakana(fields.name_kana) or "",
            birth_date=fields.birth_date,
            postal_code=japanese_input.postal_code(fields.postal_code) or "",
            address=japanese_input.address(fields.address),
            phone=japanese_input.phone_text(fields.phone)[:30],
            phone_digits=japanese_input.phone(fields.phone) or "",
            email=japanese_input.email(fields.email) or None,
            category=fields.category,
            home_branch=fields.home_branch,
        ),
        {},
    )


def category_for_birth_date(born: date, today: date) -> str:
    """The questioner category a birth date suggests (the applicant may change it).

    Japanese school years start on 1 April and take the children who are six by then
    (by law one reaches an age the day before the birthday, so those born on 1 April go
    with the year before): a child's school age is the age on 1 April by the calendar.
    Up to 11 elementary (younger ones are 小学生以下 too), 12–14 junior high, 15–17 high
    school; older people general (university students choose 大学生 themselves)."""
    start = today.year if (today.month, today.day) >= (4, 1) else today.year - 1
    april = date(start, 4, 1)
    age = april.year - born.year - ((april.month, april.day) < (born.month, born.day))
    if age <= 11:
        return "elementary"
    if age <= 14:
        return "junior_high"
    if age <= 17:
        return "high_school"
    return "general"


def _check_digit(digits: str) -> str:
    """The Luhn check digit of `digits`."""
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def read_receipt_number(typed: str) -> str | None:
    """A receipt number as typed or scanned (full-width digits, hyphens and spaces allowed),
    or None when it cannot be one (wrong length or check digit)."""
    digits = ascii_digits(typed)
    if len(digits) != RECEIPT_DIGITS or len(typed) > 40:
        return None
    return digits if _check_digit(digits[:-1]) == digits[-1] else None


def new_receipt_number(conn: Connection) -> str:
    """A receipt number no application holds (random; the unique index has the last word)."""
    while True:
        body = "".join(secrets.choice("0123456789") for _ in range(RECEIPT_DIGITS - 1))
        number = body + _check_digit(body)
        taken = conn.execute(select(_app.id).where(_app.receipt_number == number)).first()
        if taken is None:
            return number


def format_receipt_number(number: str) -> str:
    """1234567890 → 12345-67890 (easier to read out at a counter)."""
    return f"{number[:5]}-{number[5:]}"


def lock_person(conn: Connection, born: date, phone_digits: str) -> None:
    """Before `is_probable_duplicate` and the write that follows it: wait for any other
    transaction about the same birth date and phone to commit, so two identical
    applications sent at once cannot both miss each other. PostgreSQL: a transaction-level
    advisory lock on a hash of the two (SQLite's BEGIN IMMEDIATE already serialises writes).
    Whoever creates a patron or an application from typed facts takes it first."""
    if conn.dialect.name == "postgresql":
        digest = hashlib.sha256(f"shiori-person:{born.isoformat()}:{phone_digits}".encode())
        key = int.from_bytes(digest.digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def is_probable_duplicate(
    conn: Connection, name: str, born: date, phone_digits: str, except_id: int | None = None
) -> bool:
    """Whether a patron or another application has the same name (as search compares names:
    width, spaces and old/new kanji aside), birth date and phone digits."""
    wanted = normalise(name)
    patrons = conn.execute(
        select(_patron.name).where(_patron.birth_date == born, _patron.phone_digits == phone_digits)
    ).scalars()
    if any(normalise(found) == wanted for found in patrons):
        return True
    others = select(_app.name).where(_app.birth_date == born, _app.phone_digits == phone_digits)
    if except_id is not None:
        others = others.where(_app.id != except_id)
    return any(normalise(found) == wanted for found in conn.execute(others).scalars())


def delete_applications(conn: Connection, ids: list[int]) -> int:
    """Delete applications and everything they held, inside the caller's transaction: their
    row and their mail (unsent mail withdrawn; delivered or given-up mail deleted, a row in
    doubt emptied for the sender to settle). → applications deleted."""
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        mail_ids = [
            int(found)
            for row in conn.execute(
                select(_app.confirm_mail_id, _app.receipt_mail_id).where(_app.id.in_(chunk))
            )
            for found in row
            if found is not None
        ]
        if mail_ids:
            mail = outbox.mail_outbox.c
            outbox.withdraw(conn, mail.id.in_(mail_ids))
            conn.execute(
                delete(outbox.mail_outbox).where(
                    mail.id.in_(mail_ids),
                    or_(mail.sent_at.is_not(None), mail.failed_at.is_not(None)),
                )
            )
        result = conn.execute(delete(application_table).where(_app.id.in_(chunk)))
        deleted += result.rowcount or 0
    return deleted


def move_off_closed_days(conn: Connection, today: date) -> int:
    """Applications whose last day (today or later) is now a day every branch is closed
    (a closure added since they were made) get the next day one is open, as a new
    application would (db.queries.registration). → applications moved."""
    moved = 0
    days = conn.execute(
        select(_app.expires_on).where(_app.expires_on >= today).distinct()
    ).scalars()
    for day in list(days):
        later = calendar.next_day_any_branch_open(conn, day)
        if later != day:
            moved += conn.execute(
                update(application_table).where(_app.expires_on == day).values(expires_on=later)
            ).rowcount
    return moved


def purge_expired(conn: Connection, now: datetime) -> int:
    """Delete applications past their last day, and those whose email link expired unopened
    (they never counted). → applications deleted."""
    expired = [
        int(found)
        for found in conn.execute(
            select(_app.id)
            .where(
                or_(
                    _app.expires_on < library_today(now),
                    and_(
                        _app.counted_at.is_(None),
                        _app.email_token_expires_at <= naive_utc(now),
                    ),
                )
            )
            .order_by(_app.id)
        ).scalars()
    ]
    return delete_applications(conn, expired)
