"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables)
from db import engine, migrate, queries
from db.localized import Localized
from tests.conftest import Database, _drop_pg_database, new_database
from tests.smtp_sink import Server

# Tables the models do not describe on purpose: the full-text index of each engine.
SEARCH_INDEX = ("work_fts", "work_search")


def _relevant(diff: object) -> bool:
    op = diff[0] if isinstance(diff, tuple) else diff[0][0]  # type: ignore[index]
    text = repr(diff)
    if any(name in text for name in SEARCH_INDEX):
        return False
    # Column types: SQLModel's UTC datetime is a plain TIMESTAMP in the database.
    return op not in ("modify_type",)


def test_migrations_match_the_models(fresh_db: Database) -> None:
    with engine.get_engine().connect() as conn:
        context = MigrationContext.configure(conn)
        diffs = [d for d in compare_metadata(context, SQLModel.metadata) if _relevant(d)]
    assert diffs == []


def test_mail_queued_before_0009_is_still_sent(tmp_path: Path, smtp_server: Server) -> None:
    """Rows with a finished subject and body (no parameters) are delivered as they are."""
    url, pg_name = new_database(tmp_path)
    try:
        queries.configure(url)
        migrate.upgrade("0007_reminder_mail")
        with engine.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO mail_outbox (kind, to_addr, subject, body, created_at, attempts, "
                    "next_attempt_at, last_error) VALUES ('hold_ready', 'a@example.jp', "
                    "'【藤沢市図書館】ご予約の資料をご用意しました', '資料\n', :now, 0, :now, '')"
                ),
                {"now": datetime(2026, 11, 21, 9, 0)},
            )
        migrate.upgrade()
        now = datetime(2026, 11, 21, 9, 1, tzinfo=UTC)
        assert queries.mail.send_due(smtp_server.settings, now) == queries.SendReport(1, 0, 0)
        [received] = smtp_server.recorder.received
        assert received.message["Subject"] == "【藤沢市図書館】ご予約の資料をご用意しました"
        assert received.message.get_content().replace("\r\n", "\n") == "資料\n"
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


def test_names_per_language_keep_the_data_of_an_existing_database(tmp_path: Path) -> None:
    """0008 moves branch and material type names into one JSON column, data included,
    under rows that refer to them (a patron's home branch, an item's material type)."""
    url, pg_name = new_database(tmp_path)
    try:
        queries.configure(url)
        migrate.upgrade("0007_reminder_mail")
        with engine.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO branch (id, code, name_ja, name_en, sort_order) "
                    "VALUES (7, 'kita', '北図書館', 'North Library', 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO material_type (code, name_ja, name_en, loan_days, reservable) "
                    "VALUES ('map', '地図', 'Map', 7, true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO patron (card_number, name, name_kana, birth_date, address, "
                    "phone, phone_digits, category, home_branch_id, registered_on, expires_on, "
                    "lang) VALUES ('1234567890', 'n', 'n', '2000-01-01', 'a', '0466251111', "
                    "'0466251111', 'general', 7, '2026-01-01', '2029-01-01', 'ja')"
                )
            )
        queries.migrate_database()
        (kita,) = [b for b in queries.list_branches() if b.code == "kita"]
        assert kita.name == Localized.of({"ja": "北図書館", "en": "North Library"})
        (map_type,) = [m for m in queries.list_material_types() if m.code == "map"]
        assert (map_type.name.get("en"), map_type.name.get("ja")) == ("Map", "地図")
        assert map_type.name.get("ko") == "地図"  # a third language falls back to the library's
        with engine.read() as conn:
            assert conn.execute(text("SELECT home_branch_id FROM patron")).scalar_one() == 7
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


def test_notices_queued_before_0010_are_linked_to_their_patron_and_reservation(
    tmp_path: Path,
) -> None:
    """A pending ready notice is linked to the ready reservation whose title it names, and a
    row to the patron of its address when only one patron has it (a shared family address
    names nobody)."""
    url, pg_name = new_database(tmp_path)
    now = datetime(2026, 11, 21, 9, 0)
    try:
        queries.configure(url)
        migrate.upgrade("0009_mail_params")
        with engine.write() as conn:
            conn.execute(
                text("INSERT INTO branch (code, names, sort_order) VALUES ('sogo', :n, 0)"),
                {"n": '{"ja": "総合市民図書館"}'},
            )
            # A plain row as of 0009: today's upsert_works writes later columns too.
            blank = (
                "title_yomi",
                "title_romaji",
                "subtitle",
                "responsibility",
                "authors",
                "authors_yomi",
                "publisher",
                "publisher_yomi",
                "pub_place",
                "edition",
                "extent",
                "series",
                "ndc",
                "subjects",
                "subjects_yomi",
                "isbn",
                "language",
                "notes",
                "source_url",
                "title_norm",
                "yomi_norm",
                "sort_key",
            )
            work = conn.execute(
                text(
                    "INSERT INTO work (source, source_id, title, updated_at, "
                    + ", ".join(blank)
                    + ") VALUES ('synth', 'k', 'こころ', :now, "
                    + ", ".join("''" for _ in blank)
                    + ") RETURNING id"
                ),
                {"now": now},
            ).scalar_one()
            # Plain rows as of 0009 too: today's create_patron checks tables added later.
            people = [
                conn.execute(
                    text(
                        "INSERT INTO patron (card_number, name, name_kana, birth_date, address, "
                        "phone, phone_digits, email, category, home_branch_id, lang, "
                        "registered_on, expires_on) SELECT :card, 'n', 'n', '1990-01-01', 'a', "
                        "'0466-00-0000', '0466000000', :email, 'general', id, 'ja', "
                        "'2026-11-01', '2029-11-01' FROM branch RETURNING id"
                    ),
                    {"card": f"23{n:08d}", "email": email},
                ).scalar_one()
                for n, email in enumerate(("a@example.jp", "fam@example.jp", "fam@example.jp"))
            ]
            hold = conn.execute(
                text(
                    "INSERT INTO hold (patron_id, work_id, pickup_branch_id, placed_at, state, "
                    "ready_until) SELECT :p, :w, id, :now, 'ready', '2026-11-28' FROM branch "
                    "RETURNING id"
                ),
                {"p": people[0], "w": work, "now": now},
            ).scalar_one()
            for to_addr in ("a@example.jp", "fam@example.jp"):
                conn.execute(
                    text(
                        "INSERT INTO mail_outbox (kind, to_addr, subject, created_at, attempts, "
                        "next_attempt_at, last_error, lang, params) VALUES ('hold_ready', :a, "
                        "'', :now, 0, :now, '', 'ja', :p)"
                    ),
                    {"a": to_addr, "now": now, "p": '{"title": "こころ"}'},
                )
        migrate.upgrade()
        with engine.read() as conn:
            rows = conn.execute(text("SELECT id, patron_id FROM mail_outbox ORDER BY id")).all()
            assert [r.patron_id for r in rows] == [people[0], None]
            linked = conn.execute(
                text("SELECT notice_mail_id FROM hold WHERE id = :h"), {"h": hold}
            ).scalar_one()
            assert linked == rows[0].id
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


def test_0033_used_undo_notes_are_keyed_by_the_reservation_and_owned_by_the_library(
    tmp_path: Path,
) -> None:
    """The table of used undo notes (db.hold_undo): one row per cancelled reservation's id,
    in the transaction's library, under row-level security on PostgreSQL like every owned
    table (0030)."""
    url, pg_name = new_database(tmp_path)
    cancelled_at = datetime(2026, 11, 21, 9, 0)
    insert = text("INSERT INTO hold_undo_used (hold_id, cancelled_at) VALUES (7, :at)")
    try:
        queries.configure(url)
        migrate.upgrade("0032_word_end_tokens")
        with engine.read() as conn:
            assert "hold_undo_used" not in inspect(conn).get_table_names()
        migrate.upgrade()
        with engine.write() as conn:
            conn.execute(insert, {"at": cancelled_at})
            row = conn.execute(text("SELECT hold_id, library_id FROM hold_undo_used")).one()
            assert tuple(row) == (7, 1)
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(insert, {"at": cancelled_at})
            if conn.dialect.name == "postgresql":
                security = conn.execute(
                    text(
                        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                        "WHERE relname = 'hold_undo_used'"
                    )
                ).one()
                assert tuple(security) == (True, True)
                policy = conn.execute(
                    text("SELECT qual FROM pg_policies WHERE tablename = 'hold_undo_used'")
                ).scalar_one()
                assert "current_setting('shiori.library'" in policy
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


def test_0034_answered_questions_of_patrons_count_as_unread(tmp_path: Path) -> None:
    """Whether a patron saw an answer was never recorded: an `answered` question of a
    patron is unread after the upgrade (shown once more on /my), every other one is not."""
    url, pg_name = new_database(tmp_path)
    at = datetime(2026, 11, 21, 9, 0)
    try:
        queries.configure(url)
        migrate.upgrade("0033_hold_undo_used")
        with engine.write() as conn:
            branch = conn.execute(
                text(
                    "INSERT INTO branch (code, names, sort_order) "
                    "VALUES ('b', '{}', 0) RETURNING id"
                )
            ).scalar_one()
            patron = conn.execute(
                text(
                    "INSERT INTO patron (card_number, name, name_kana, birth_date, address, "
                    "phone, phone_digits, category, home_branch_id, lang, registered_on, "
                    "expires_on) VALUES ('1', 'n', 'k', '1990-01-01', 'a', '0', '0', "
                    "'general', :b, 'ja', '2026-01-01', '2029-01-01') RETURNING id"
                ),
                {"b": branch},
            ).scalar_one()
            for status, owner in (("answered", patron), ("answered", None), ("closed", patron)):
                conn.execute(
                    text(
                        "INSERT INTO reference_question (patron_id, status, question, checked, "
                        "notify_email, created_at, updated_at) "
                        "VALUES (:p, :s, 'q', '', FALSE, :at, :at)"
                    ),
                    {"p": owner, "s": status, "at": at},
                )
        migrate.upgrade()
        with engine.read() as conn:
            rows = conn.execute(
                text("SELECT status, patron_id, answer_unread FROM reference_question ORDER BY id")
            ).all()
        assert [bool(r.answer_unread) for r in rows] == [True, False, False]
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)
