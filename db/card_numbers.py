"""The library's card numbering rule: which number the next new patron's card carries.

A card number is ten digits: the library's prefix ``21``, a seven-digit serial, and a
check digit by the Luhn algorithm (modulus 10, weights 2-1 from the right), as the NW7
(Codabar) barcodes of Japanese library cards commonly carry, so a mistyped or misread digit
is caught at the counter. The serial counts up from the highest ten-digit ``21…`` number in
use, so numbers given before this rule (the demo cards 2100000001–2100000004, imported
cards) are never reused; a number already taken for any reason is skipped.

`next_card_number` runs inside the caller's writing transaction, which must insert the
patron before it commits. Two registrations at once never get the same number: on SQLite the
writing transaction holds the database's write lock from its start (BEGIN IMMEDIATE); on
PostgreSQL a transaction-level advisory lock keeps the second one waiting until the first
has committed its patron. The unique index on ``patron.card_number`` is the last guard.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from db.models import TABLES

__all__ = ["PREFIX", "SERIAL_DIGITS", "check_digit", "is_valid", "next_card_number"]

PREFIX = "21"
SERIAL_DIGITS = 7
_LENGTH = len(PREFIX) + SERIAL_DIGITS + 1
# pg_advisory_xact_lock key: "SHIORI" and 0x0C4D ("card").
_LOCK_KEY = 0x5348494F52490C4D

_patron = TABLES["patron"]


class CardNumbersExhausted(RuntimeError):
    """Every serial under the prefix is used: the rule itself must change."""


def check_digit(payload: str) -> str:
    """The Luhn check digit of a string of ASCII digits."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # the rightmost payload digit is doubled
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid(card_number: str) -> bool:
    """Whether a number follows this rule (prefix, length, check digit)."""
    return (
        len(card_number) == _LENGTH
        and card_number.isascii()
        and card_number.isdigit()
        and card_number.startswith(PREFIX)
        and check_digit(card_number[:-1]) == card_number[-1]
    )


def _number(serial: int) -> str:
    payload = f"{PREFIX}{serial:0{SERIAL_DIGITS}d}"
    return payload + check_digit(payload)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def next_card_number(conn: Connection) -> str:
    """The next free card number under the rule (call it in the transaction that inserts
    the patron; the lock it takes is held until that transaction ends)."""
    _lock(conn)
    highest = conn.execute(
        select(_patron.c.card_number)
        .where(
            _patron.c.card_number.like(f"{PREFIX}%"),
            func.length(_patron.c.card_number) == _LENGTH,
        )
        .order_by(_patron.c.card_number.desc())
        .limit(1)
    ).scalar_one_or_none()
    serial = int(highest[len(PREFIX) : -1]) + 1 if highest and highest.isdigit() else 1
    while serial < 10**SERIAL_DIGITS:
        number = _number(serial)
        taken = conn.execute(select(_patron.c.id).where(_patron.c.card_number == number)).first()
        if taken is None:
            return number
        serial += 1
    raise CardNumbersExhausted()
