"""Retention: patrons three years without borrowing are purged; dead sessions and old mail go."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from db import engine, erasure, outbox, queries
from db.queries.retention import years_before
from tests.conftest import Database

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def cards() -> set[str]:
    with engine.read() as conn:
        return set(conn.execute(text("SELECT card_number FROM patron")).scalars())


def set_patron(card: str, **values: object) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with engine.write() as conn:
        conn.execute(
            text(f"UPDATE patron SET {sets} WHERE card_number = :c"), {**values, "c": card}
        )


def run() -> queries.RetentionReport:
    queries.set_clock(lambda: NOW)
    try:
        return queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    finally:
        queries.set_clock(None)


def test_three_years_without_borrowing_purges_the_patron(library_db: Database) -> None:
    three_years = years_before(date(2026, 11, 21), 3)
    # 2100000004 has no loans: last borrowed a day more than three years ago.
    set_patron("2100000004", last_loan_on=three_years - timedelta(days=1))
    # 2100000003 borrowed exactly three years ago today: kept.
    set_patron("2100000003", last_loan_on=three_years)
    report = run()
    assert report.patrons == 1
    assert "2100000004" not in cards() and "2100000003" in cards()


def test_a_patron_who_never_borrowed_is_purged_three_years_after_registering(
    library_db: Database,
) -> None:
    set_patron("2100000003", last_loan_on=None, registered_on=date(2023, 11, 20))
    run()
    assert "2100000003" not in cards()


def test_a_patron_with_an_item_out_is_kept(library_db: Database) -> None:
    set_patron("2100000001", last_loan_on=date(2020, 1, 1))  # but has 3 loans now
    run()
    assert "2100000001" in cards()


def test_a_patron_skipped_for_a_loan_keeps_their_mail(library_db: Database) -> None:
    """Who has a loan is known only once the patrons are locked: their mail stays queued."""
    with engine.write() as conn:
        pid = conn.execute(text("SELECT id FROM patron WHERE card_number = '2100000001'")).one()[0]
        mail_id = outbox.enqueue(
            conn,
            kind="due_reminder",
            to_addr="hanako@example.jp",
            subject="返却日のお知らせ",
            body="本文",
            now=NOW,
            patron_id=pid,
        )
        assert erasure.erase_patrons(conn, [pid], NOW) == (0, 0)
    assert "2100000001" in cards()
    with engine.read() as conn:
        kept = conn.execute(
            text("SELECT patron_id, body FROM mail_outbox WHERE id = :i"), {"i": mail_id}
        ).one()
    assert tuple(kept) == (pid, "本文")


def test_purge_takes_sessions_and_reservations_with_it(library_db: Database) -> None:
    with engine.read() as conn:
        misaki = conn.execute(
            text("SELECT id FROM patron WHERE card_number = '2100000004'")
        ).scalar_one()
        work = conn.execute(text("SELECT min(work_id) FROM item")).scalar_one()
    queries.place_hold(misaki, work, "sogo")
    queries.log_in(
        "2100000004", "misaki-no-hon-99", "192.0.2.1", "test", False, queries.Timeouts.of(30, 12)
    )
    set_patron("2100000004", last_loan_on=date(2020, 1, 1))
    run()
    with engine.read() as conn:
        for table in ("web_session", "hold"):
            left = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE patron_id = :p"), {"p": misaki}
            ).scalar_one()
            assert left == 0, table


def test_dead_sessions_codes_and_old_mail_are_deleted(library_db: Database) -> None:
    queries.set_clock(lambda: NOW - timedelta(days=4))  # codes live 72 hours
    try:
        queries.log_in(
            "2100000001",
            "hon-wo-yomu-2026",
            "192.0.2.1",
            "test",
            False,
            queries.Timeouts.of(30, 12),
        )
        queries.issue_activation_code("2100000003")
        queries.request_password_reset(  # a link lives 30 minutes
            "2100000001", "hanako@example.jp", "192.0.2.1", lambda token: f"/reset/{token}"
        )
    finally:
        queries.set_clock(None)
    with engine.write() as conn:
        conn.execute(
            text(
                "INSERT INTO mail_outbox (kind, to_addr, subject, body, created_at, attempts, "
                "next_attempt_at, sent_at, last_error) VALUES ('password_set', 'a@example.jp', "
                "'s', NULL, :old, 1, :old, :old, '')"
            ),
            {"old": datetime(2026, 9, 1)},
        )
    report = run()
    assert (report.sessions, report.activation_codes, report.reset_links) == (1, 1, 1)
    assert report.mail == 1  # the old sent row; the reset mail itself is not sent yet
    with engine.read() as conn:
        for table in ("web_session", "activation_code", "password_reset_link"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        kinds = conn.execute(text("SELECT kind FROM mail_outbox")).scalars().all()
        assert kinds == ["password_reset"]  # the old sent mail is gone


def test_reservations_ended_by_a_purge_are_counted_as_cancelled(library_db: Database) -> None:
    with engine.read() as conn:
        misaki = conn.execute(
            text("SELECT id FROM patron WHERE card_number = '2100000004'")
        ).scalar_one()
        work = conn.execute(text("SELECT min(work_id) FROM item")).scalar_one()
        sogo = conn.execute(text("SELECT id FROM branch WHERE code = 'sogo'")).scalar_one()
    queries.place_hold(misaki, work, "sogo")
    set_patron("2100000004", last_loan_on=date(2020, 1, 1))
    run()
    with engine.read() as conn:
        cancelled = conn.execute(
            text(
                "SELECT count FROM daily_count WHERE day = :day AND branch_id = :b "
                "AND material_type = '' AND event = 'hold_cancelled'"
            ),
            {"day": date(2026, 11, 21), "b": sogo},
        ).scalar()
    assert cancelled == 1
