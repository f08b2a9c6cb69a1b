"""Account paths at the query layer: attempts are counted even when they are refused, and
a login rehashes a password only when its argon2 parameters differ from the configured ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from db import engine, queries, throttle
from tests.conftest import TEST_PASSWORD_HASHING, Database

ICHIRO = "2100000003"
MISAKI = ("2100000004", "misaki-no-hon-99")


def test_wrong_activation_codes_are_counted_until_the_card_must_wait(
    library_db: Database,
) -> None:
    code = queries.issue_activation_code(ICHIRO)
    for _ in range(throttle.CODE_CARD.attempts):
        with pytest.raises(queries.CodeRefused):
            queries.set_password_with_code(
                ICHIRO, "AAAA-BBBB-CCCC", "図書館の新しい合言葉", "192.0.2.9"
            )
    # The right code is refused now too: the card must wait.
    with pytest.raises(queries.CodeRefused):
        queries.set_password_with_code(ICHIRO, code, "図書館の新しい合言葉", "192.0.2.9")


def _stored_hash() -> str:
    with engine.read() as conn:
        return str(
            conn.execute(
                text("SELECT password_hash FROM patron WHERE card_number = :c"), {"c": MISAKI[0]}
            ).scalar_one()
        )


def _log_in() -> None:
    queries.log_in(*MISAKI, "192.0.2.1", "test", False, queries.Timeouts.of(30, 12))


@pytest.fixture
def standard_hashing() -> Iterator[None]:
    queries.configure_password_hashing("standard")
    yield
    queries.configure_password_hashing(TEST_PASSWORD_HASHING)


def test_the_suites_cheap_hashes_are_not_rehashed_at_login(library_db: Database) -> None:
    made = _stored_hash()
    assert made.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    _log_in()
    assert _stored_hash() == made


def test_login_rehashes_a_hash_made_with_other_parameters_once(
    library_db: Database, standard_hashing: None
) -> None:
    cheap = _stored_hash()
    _log_in()  # the production profile upgrades the cheap hash …
    upgraded = _stored_hash()
    assert upgraded != cheap and upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    _log_in()  # … once
    assert _stored_hash() == upgraded


def test_a_card_runs_three_calendar_years_from_the_library_s_day() -> None:
    """The library's date (Japan), not UTC's, and calendar years (the walk: a card made at
    02:49 JST on 2 December ended on 30 November three years on)."""
    from datetime import UTC, date, datetime

    from db.clock import library_today
    from db.patrons import card_expiry

    early_morning = datetime(2026, 12, 1, 17, 49, tzinfo=UTC)  # 02:49 on 2 Dec in Japan
    assert library_today(early_morning) == date(2026, 12, 2)
    assert card_expiry(library_today(early_morning)) == date(2029, 12, 2)
    assert card_expiry(date(2028, 2, 29)) == date(2031, 2, 28)
