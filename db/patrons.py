"""Patron records: registration (counter or import) and the documented demo patrons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import codes, japanese_input, outbox, passwords, rules, stats
from db.clock import aware_utc, library_today
from db.digits import ascii_digits
from db.emails import check_email
from db.errors import QueryError

# Why the old address hears of an email change (the `step` of the "email_changed" mail).
EMAIL_REQUESTED = "requested"  # the patron, logged in, asked for a new address (a link went)
EMAIL_RECORDED = "recorded"  # staff recorded a new address; it waits for the patron
EMAIL_CONFIRMED = "confirmed"  # the patron, logged in, confirmed the new address
EMAIL_REMOVED = "removed"  # staff removed the address


@dataclass(frozen=True)
class NewPatron:
    card_number: str
    name: str
    name_kana: str
    birth_date: date
    address: str
    phone: str
    email: str | None
    category: str
    home_branch: str  # branch code
    lang: str = "ja"


def card_expiry(registered_on: date) -> date:
    """A card is valid CARD_VALID_YEARS calendar years from the library-local day it was
    made (a card made on 29 February ends on 28 February)."""
    years = registered_on.year + rules.CARD_VALID_YEARS
    try:
        return registered_on.replace(year=years)
    except ValueError:
        return registered_on.replace(year=years, day=28)


def phone_digits(phone: str) -> str:
    """The digits phone numbers are compared by (db.japanese_input.phone: full-width digits,
    any hyphen, +81 as 0), so 0466-25-1111 and ０４６６２５１１１１ compare equal; a number that
    reads as none keeps its bare digits."""
    return (japanese_input.phone(phone) or ascii_digits(phone))[:20]


def notify_email_change(
    conn: Connection,
    patron_id: int,
    old_address: str | None,
    lang: str,
    step: str,
    now: datetime,
) -> None:
    """Tell the address that was in use that it changed (nothing when there was none).

    The mail names neither the new address nor who made the change: only when and how."""
    if old_address:
        outbox.enqueue(
            conn,
            kind="email_changed",
            to_addr=old_address,
            patron_id=patron_id,
            lang=lang,
            params={"when": aware_utc(now).isoformat(), "step": step},
            now=now,
        )


def create_patron(
    conn: Connection, patron: NewPatron, now: datetime, password: str | None = None
) -> int:
    # Table patron_category is the only source; the row is held so a delete cannot race us.
    if not codes.hold_category(conn, patron.category):
        raise QueryError("unknown_category")
    if patron.email is not None:
        check_email(patron.email)
    branch_id = conn.execute(
        text("SELECT id FROM branch WHERE code = :code"), {"code": patron.home_branch}
    ).scalar_one_or_none()
    if branch_id is None:
        raise QueryError("unknown_home_branch")
    values = {
        "card_number": patron.card_number,
        "name": patron.name,
        "name_kana": patron.name_kana,
        "birth_date": patron.birth_date,
        "address": patron.address,
        "phone": patron.phone,
        "phone_digits": phone_digits(patron.phone),
        "email": patron.email,
        "category": patron.category,
        "home_branch_id": branch_id,
        "lang": patron.lang,
        "registered_on": library_today(now),
        "expires_on": card_expiry(library_today(now)),
        "password_hash": passwords.hash_password(password) if password else None,
        "password_set_at": now if password else None,
        "password_set_via": rules.PASSWORD_VIA_DEMO if password else None,
    }
    cols = ", ".join(values)
    params = ", ".join(f":{c}" for c in values)
    return int(
        conn.execute(
            text(f"INSERT INTO patron ({cols}) VALUES ({params}) RETURNING id"), values
        ).scalar_one()
    )


def register_patron(
    conn: Connection, patron: NewPatron, now: datetime, password: str | None = None
) -> int:
    """Create a patron and count the registration (業務統計: day, home branch, category, age
    band). Everything in db that makes a patron comes through here (tests/test_queries_stats
    checks); `create_patron` alone is the bare insert, for tests of old schemas."""
    patron_id = create_patron(conn, patron, now, password)
    branch_id = conn.execute(
        text("SELECT home_branch_id FROM patron WHERE id = :id"), {"id": patron_id}
    ).scalar_one()
    stats.bump_registration(
        conn, library_today(now), int(branch_id), patron.category, patron.birth_date
    )
    return patron_id


@dataclass(frozen=True)
class DemoPatron:
    patron: NewPatron
    password: str | None
    loans: int  # how many current loans the demo gives them
    overdue: int  # of which overdue


# Listed in the README. Fictional people; example.jp addresses never deliver.
DEMO_PATRONS = (
    DemoPatron(
        NewPatron(
            "2100000001",
            "山田 花子",
            "ヤマダ ハナコ",
            date(1985, 4, 12),
            "神奈川県藤沢市朝日町1-1",
            "0466-25-1111",
            "hanako@example.jp",
            "general",
            "sogo",
        ),
        "hon-wo-yomu-2026",
        loans=3,
        overdue=1,
    ),
    DemoPatron(
        NewPatron(
            "2100000002",
            "佐藤 太郎",
            "サトウ タロウ",
            date(2003, 11, 3),
            "神奈川県藤沢市鵠沼石上2-2-2",
            "0466-22-2222",
            None,
            "university",
            "minami",
            lang="en",
        ),
        "tosho-kan-taro-7",
        loans=1,
        overdue=0,
    ),
    DemoPatron(
        NewPatron(
            "2100000003",
            "鈴木 一郎",
            "スズキ イチロウ",
            date(2014, 6, 20),
            "神奈川県藤沢市辻堂3-3-3",
            "0466-33-3333",
            None,
            "elementary",
            "tsujido",
        ),
        None,
        loans=0,
        overdue=0,
    ),
    DemoPatron(
        NewPatron(
            "2100000004",
            "高橋 美咲",
            "タカハシ ミサキ",
            date(1978, 2, 28),
            "神奈川県藤沢市大庭4-4-4",
            "0466-44-4444",
            "misaki@example.jp",
            "general",
            "shonan-oba",
        ),
        "misaki-no-hon-99",
        loans=0,
        overdue=0,
    ),
)


def ensure_demo_patrons(conn: Connection, now: datetime) -> list[int]:
    """Create the demo patrons that do not exist yet. Returns the ids created."""
    made = []
    for demo in DEMO_PATRONS:
        exists = conn.execute(
            text("SELECT 1 FROM patron WHERE card_number = :c"), {"c": demo.patron.card_number}
        ).first()
        if not exists:
            made.append(register_patron(conn, demo.patron, now, demo.password))
    return made
