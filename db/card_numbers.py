"""The library's card numbering rule: which number the next new patron's card carries.

The rule is data (table `card_number_rule`, one row, kept by managers in the console since
migration 0029); the default, which the row is seeded with, is ten digits: the library's
prefix ``21``, a seven-digit serial, and a check digit by the Luhn algorithm (modulus 10,
weights 2-1 from the right), as the NW7 (Codabar) barcodes of Japanese library cards
commonly carry, so a mistyped or misread digit is caught at the counter. A rule may also
have no check digit ("none"). The serial counts up from the highest number of the rule's
length and prefix in use, so numbers given before the rule (the demo cards
2100000001–2100000004, imported cards) are never reused; a number already taken for any
reason is skipped. Changing the rule never changes a card already given.

`next_card_number` runs inside the caller's writing transaction, which must insert the
patron before it commits. Two registrations at once never get the same number: on SQLite the
writing transaction holds the database's write lock from its start (BEGIN IMMEDIATE); on
PostgreSQL a transaction-level advisory lock keeps the second one waiting until the first
has committed its patron. The unique index on ``patron.card_number`` is the last guard.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from db.models import TABLES

__all__ = [
    "CHECK_DIGITS",
    "DEFAULT_RULE",
    "PREFIX",
    "SERIAL_DIGITS",
    "CardRule",
    "check_digit",
    "current_rule",
    "is_valid",
    "next_card_number",
]

PREFIX = "21"
SERIAL_DIGITS = 7
LUHN, NO_CHECK = "luhn", "none"
CHECK_DIGITS = (LUHN, NO_CHECK)
# pg_advisory_xact_lock key: "SHIORI" and 0x0C4D ("card").
_LOCK_KEY = 0x5348494F52490C4D

_patron = TABLES["patron"]
_rule = TABLES["card_number_rule"]


@dataclass(frozen=True)
class CardRule:
    prefix: str  # ASCII digits, may be empty
    serial_digits: int
    check_digit: str  # CHECK_DIGITS

    @property
    def length(self) -> int:
        return len(self.prefix) + self.serial_digits + (1 if self.check_digit == LUHN else 0)

    def number(self, serial: int) -> str:
        payload = f"{self.prefix}{serial:0{self.serial_digits}d}"
        return payload + check_digit(payload) if self.check_digit == LUHN else payload

    def serial_of(self, card_number: str) -> int:
        end = len(card_number) - (1 if self.check_digit == LUHN else 0)
        return int(card_number[len(self.prefix) : end])


DEFAULT_RULE = CardRule(PREFIX, SERIAL_DIGITS, LUHN)


def current_rule(conn: Connection) -> CardRule:
    """The library's rule (the default where the row is missing)."""
    row = conn.execute(select(_rule).where(_rule.c.id == 1)).first()
    if row is None:
        return DEFAULT_RULE
    return CardRule(row.prefix, row.serial_digits, row.check_digit)


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


def is_valid(card_number: str, rule: CardRule = DEFAULT_RULE) -> bool:
    """Whether a number follows a rule (prefix, length, check digit)."""
    return (
        len(card_number) == rule.length
        and card_number.isascii()
        and card_number.isdigit()
        and card_number.startswith(rule.prefix)
        and (rule.check_digit != LUHN or check_digit(card_number[:-1]) == card_number[-1])
    )


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def next_card_number(conn: Connection) -> str:
    """The next free card number under the rule (call it in the transaction that inserts
    the patron; the lock it takes is held until that transaction ends)."""
    _lock(conn)
    rule = current_rule(conn)
    highest = conn.execute(
        select(_patron.c.card_number)
        .where(
            _patron.c.card_number.like(f"{rule.prefix}%"),
            func.length(_patron.c.card_number) == rule.length,
        )
        .order_by(_patron.c.card_number.desc())
        .limit(1)
    ).scalar_one_or_none()
    serial = rule.serial_of(highest) + 1 if highest and highest.isdigit() else 1
    while serial < 10**rule.serial_digits:
        number = rule.number(serial)
        taken = conn.execute(select(_patron.c.id).where(_patron.c.card_number == number)).first()
        if taken is None:
            return number
        serial += 1
    raise CardNumbersExhausted()
