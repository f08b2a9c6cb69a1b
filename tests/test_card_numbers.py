"""The library's card numbering rule (db.card_numbers): ten digits, prefix 21, a serial and
a Luhn check digit; never a number in use; two registrations at once never share one."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from sqlalchemy import text

from db import card_numbers, engine
from db.patrons import NewPatron, create_patron
from tests.conftest import Database

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def _newcomer(card: str, n: int) -> NewPatron:
    return NewPatron(
        card,
        f"試験 {n}",
        "シケン",
        date(1990, 1, 1),
        "藤沢市",
        "0466-00-0000",
        None,
        "general",
        "sogo",
    )


def _register(n: int, hold_seconds: float = 0.0, got: threading.Event | None = None) -> str:
    """One registration's transaction: the number, a pause, then the patron row."""
    with engine.write() as conn:
        number = card_numbers.next_card_number(conn)
        if got is not None:
            got.set()
        time.sleep(hold_seconds)
        create_patron(conn, _newcomer(number, n), NOW)
    return number


def test_check_digit_is_luhn() -> None:
    # Known Luhn values: 7992739871 → 3; and every number the rule gives validates.
    assert card_numbers.check_digit("7992739871") == "3"
    assert card_numbers.check_digit("210000001") == "3"
    assert card_numbers.is_valid("2100000013")
    assert not card_numbers.is_valid("2100000012")  # one digit wrong
    assert not card_numbers.is_valid("2100000031")  # two digits swapped
    assert not card_numbers.is_valid("２１００００００１３")  # full-width is not a card number
    # The demo cards predate the rule: they do not validate and are never reused.
    assert not any(card_numbers.is_valid(f"210000000{i}") for i in range(1, 5))


def test_numbers_follow_the_highest_in_use_and_skip_taken_ones(library_db: Database) -> None:
    first = _register(1)
    assert first == "2100000013"  # after the demo cards 2100000001–4 (serial 0)
    second = _register(2)
    assert second == "2100000021" and card_numbers.is_valid(second)
    with engine.write() as conn:
        # A number taken out of turn (an import) is skipped, not reused.
        create_patron(conn, _newcomer("2100000039", 3), NOW)
    assert _register(4) == "2100000047"


def test_two_registrations_at_once_never_share_a_number(library_db: Database) -> None:
    got = threading.Event()
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            results["slow"] = _register(1, hold_seconds=0.5, got=got)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def fast() -> None:
        try:
            got.wait(10)
            results["fast"] = _register(2)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    # The second waited for the first to commit, then took the next number.
    assert results == {"slow": "2100000013", "fast": "2100000021"}


def test_many_registrations_at_once_get_distinct_valid_numbers(library_db: Database) -> None:
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def one(n: int) -> None:
        try:
            start.wait(10)
            numbers.append(_register(n))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(set(numbers)) == 6 and all(card_numbers.is_valid(n) for n in numbers)
    with engine.read() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM patron WHERE card_number LIKE '21_______%'")
        ).scalar_one()
    assert stored == 4 + 6
