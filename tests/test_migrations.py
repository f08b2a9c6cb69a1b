"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
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
