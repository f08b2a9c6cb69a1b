"""Ids of patrons and other personal rows are never handed out again: a patron registered
after a purge never inherits the purged patron's id, nor what is still kept under it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from db import engine, migrate, queries
from db.patrons import NewPatron, create_patron
from tests.conftest import Database, _drop_pg_database, new_database

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def register(card: str, branch: str = "sogo") -> int:
    patron = NewPatron(
        card_number=card,
        name="図書 新",
        name_kana="トショ シン",
        birth_date=date(1990, 4, 1),
        address="藤沢市朝日町1-1",
        phone="0466-25-1111",
        email=None,
        category="general",
        home_branch=branch,
    )
    with engine.write() as conn:
        return create_patron(conn, patron, NOW)


def test_a_new_patron_never_gets_a_purged_patrons_id_or_history(library_db: Database) -> None:
    first = register("2199999991")
    with engine.write() as conn:
        assert first == conn.execute(text("SELECT MAX(id) FROM patron")).scalar_one()
        conn.execute(
            text("UPDATE patron SET registered_on = '2020-01-01' WHERE id = :id"), {"id": first}
        )
        # A member of staff looked at the first patron's record (kept after the purge).
        conn.execute(
            text(
                "INSERT INTO staff_audit (at, staff_id, staff_code, branch_id, patron_id, "
                "field_groups, screen, action, outcome) SELECT :at, 1, 'M001', id, :p, "
                "'contact', 'patron', 'view', 'allowed' FROM branch WHERE code = 'sogo'"
            ),
            {"at": datetime(2026, 11, 1, 1, 0), "p": first},
        )
    assert queries.list_staff_looks_at_me(first) != ()
    queries.set_clock(lambda: NOW)
    try:
        assert queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15).patrons == 1
    finally:
        queries.set_clock(None)
    second = register("2199999992")
    assert second != first
    assert queries.list_staff_looks_at_me(second) == ()


def test_the_migration_keeps_rows_and_ids(tmp_path: Path) -> None:
    url, pg_name = new_database(tmp_path)
    try:
        queries.configure(url)
        migrate.upgrade("0012_password_reset_link")
        with engine.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO branch (id, code, names, sort_order) "
                    "VALUES (7, 'kita', '{\"ja\": \"北図書館\"}', 0)"
                )
            )
            for n in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO patron (card_number, name, name_kana, birth_date, "
                        "address, phone, phone_digits, category, home_branch_id, registered_on, "
                        "expires_on, lang) VALUES (:card, 'n', 'n', '2000-01-01', 'a', "
                        "'0466251111', '0466251111', 'general', 7, '2026-01-01', '2029-01-01', "
                        "'ja')"
                    ),
                    {"card": f"100000000{n}"},
                )
            ids = conn.execute(text("SELECT id FROM patron ORDER BY id")).scalars().all()
            # A row that refers to a patron (ON DELETE CASCADE): the rebuild keeps it.
            conn.execute(
                text(
                    "INSERT INTO notice_preference (patron_id, hold_ready, due_reminder_days) "
                    "VALUES (:p, false, 3)"
                ),
                {"p": ids[0]},
            )
        migrate.upgrade()
        with engine.write() as conn:
            rows = conn.execute(text("SELECT id, card_number FROM patron ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(ids[0], "1000000001"), (ids[1], "1000000002")]
            prefs = conn.execute(text("SELECT patron_id, due_reminder_days FROM notice_preference"))
            assert [tuple(r) for r in prefs] == [(ids[0], 3)]
            conn.execute(text("DELETE FROM patron WHERE id = :id"), {"id": ids[1]})
        assert register("1000000010", "kita") > ids[1]
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)
