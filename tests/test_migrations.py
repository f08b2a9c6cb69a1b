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


def test_mail_queued_before_0008_is_still_sent(tmp_path: Path, smtp_server: Server) -> None:
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
