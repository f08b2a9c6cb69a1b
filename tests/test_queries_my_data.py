"""My data (issue 16), db level: notice settings per kind, and deleting an account.

The deletion test scans every table of the database (by inspection, like the 31-day
application test) for everything of the patron: their values as text and their id.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from db import engine, erasure, notice_prefs, queries
from db.queries import mail
from tests.conftest import Database
from tests.mailbox import COMPOSE, composed
from tests.smtp_sink import Server
from tests.test_web_holds import patron_id, taros_loan

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
MISAKI = ("2100000004", "misaki-no-hon-99")
HANAKO = "2100000001"
MISAKI_ID = 515151  # distinctive, so the scan can look for the number too
MISAKI_VALUES = (
    "2100000004",
    "高橋 美咲",
    "タカハシ ミサキ",
    "神奈川県藤沢市大庭4-4-4",
    "0466-44-4444",
    "0466444444",
    "misaki@example.jp",
)
# Kept by design: audit rows name a patron id and no personal values (seed 002).
KEPT_WITH_ID = {"staff_audit"}


@pytest.fixture
def clock() -> Iterator[None]:
    queries.set_clock(lambda: NOW)
    try:
        yield
    finally:
        queries.set_clock(None)


def tables_holding(texts: tuple[str, ...], number: int) -> list[str]:
    """Tables with a text value containing one of `texts`, or an integer column (a
    `*patron_id` or `id` of a patron table) equal to `number` — every column of every table."""
    found = []
    with engine.read() as conn:
        virtual: set[str] = set()
        if conn.dialect.name == "sqlite":
            virtual = set(
                conn.execute(
                    text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
                ).scalars()
            )
        for table in sorted(set(inspect(conn).get_table_names()) - virtual):
            patron_columns = {
                c["name"]
                for c in inspect(conn).get_columns(table)
                if c["name"].endswith("patron_id") or (table == "patron" and c["name"] == "id")
            }
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                if any(isinstance(v, str) and any(t in v for t in texts) for v in row.values()):
                    found.append(table)
                    break
                if any(row[c] == number for c in patron_columns):
                    found.append(table)
                    break
    return found


def give_misaki_a_distinctive_id() -> int:
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET id = :m WHERE card_number = :c"),
            {"m": MISAKI_ID, "c": MISAKI[0]},
        )
    return MISAKI_ID


def _b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def test_notice_settings_default_to_mail_without_titles(library_db: Database) -> None:
    pid = patron_id(HANAKO)
    settings = queries.get_notice_settings(pid)
    assert settings.has_email
    assert [(s.kind, s.email, s.titles) for s in settings.settings] == [
        (kind, True, False) for kind in queries.NOTICE_KINDS
    ]
    changed = queries.set_notice_settings(pid, {"ready": (False, False), "overdue": (True, True)})
    by_kind = {s.kind: s for s in changed.settings}
    assert (by_kind["ready"].email, by_kind["overdue"].titles) == (False, True)
    assert by_kind["due_soon"] == notice_prefs.NoticeSetting("due_soon")
    # The holds page's older switch and this one are the same setting.
    assert queries.get_notice_prefs(pid).hold_ready is False
    queries.set_notice_prefs(pid, hold_ready=True, due_reminder_days=None)
    assert {s.kind: s.email for s in queries.get_notice_settings(pid).settings}["ready"]
    with pytest.raises(ValueError):
        queries.set_notice_settings(pid, {"everything": (True, True)})
    with pytest.raises(queries.NotFound):
        queries.get_notice_settings(999_999)


def test_a_ready_notice_names_the_title_only_when_asked(library_db: Database) -> None:
    work_id, barcode, branch = taros_loan()
    hanako = patron_id(HANAKO)
    title = queries.get_record(work_id).title
    queries.place_hold(hanako, work_id, branch)
    assert queries.return_item(barcode).route == "ready"
    [(kind, _to, subject, body)] = composed()
    assert kind == "hold_ready" and body is not None
    assert title not in body and title not in subject
    assert "ご予約の資料が1点ご用意できました" in body


def test_no_ready_notice_when_the_patron_chose_none(library_db: Database) -> None:
    work_id, barcode, branch = taros_loan()
    hanako = patron_id(HANAKO)
    queries.set_notice_settings(hanako, {"ready": (False, True)})
    queries.place_hold(hanako, work_id, branch)
    assert queries.return_item(barcode).route == "ready"
    assert composed() == []


def test_an_account_with_loans_is_not_deleted(library_db: Database) -> None:
    hanako = patron_id(HANAKO)
    with pytest.raises(queries.MyDataRefused) as refused:
        queries.delete_my_account(hanako, "hon-wo-yomu-2026")
    assert refused.value.code == "items_on_loan" and refused.value.params == {"count": 3}
    assert len(queries.list_deletion_blockers(hanako)) == 3
    with pytest.raises(queries.MyDataRefused) as wrong:
        queries.delete_my_account(hanako, "not-my-password")
    assert wrong.value.code == "wrong_current_password"
    assert queries.get_notice_settings(hanako).has_email  # still there


def test_deleting_an_account_leaves_nothing_of_the_patron(
    library_db: Database, smtp_server: Server, clock: None
) -> None:
    misaki = give_misaki_a_distinctive_id()
    # Something of hers in every corner: a ready reservation with its notice, a waiting one,
    # notice settings, a booklist, a reference question, a session, delivered mail.
    work_id, barcode, branch = taros_loan()
    queries.place_hold(misaki, work_id, branch)
    assert queries.return_item(barcode).route == "ready"
    queries.set_notice_settings(misaki, {"ready": (True, True)})
    queries.set_notice_prefs(misaki, hold_ready=True, due_reminder_days=3)
    queries.create_booklist(
        misaki,
        queries.BooklistPasswordWrap("a" * 32, _b64(16), 600_000, _b64(40)),
        queries.BooklistSealed(os.urandom(12), os.urandom(4112)),
    )
    queries.ask_reference(
        misaki,
        question="藤沢の郷土史について",
        checked="",
        useful_by=None,
        notify_email=True,
        category="general",
    )
    with engine.write() as conn:
        conn.execute(
            text(
                "INSERT INTO web_session (id, patron_id, csrf_token, created_at, last_seen_at, "
                "expires_at, kiosk, device) VALUES ('s1', :p, 'c', :t, :t, :t, false, 'x')"
            ),
            {"p": misaki, "t": NOW.replace(tzinfo=None)},
        )
    assert mail.send_due(smtp_server.settings, NOW, compose=COMPOSE).sent == 1
    before = tables_holding(MISAKI_VALUES, misaki)
    assert {"patron", "hold", "booklist", "reference_question", "web_session"} <= set(before)
    assert {"mail_outbox", "notice_setting", "notice_preference"} <= set(before)

    deleted = queries.delete_my_account(misaki, MISAKI[1])
    assert deleted.mailed
    # The last mail goes to the address with no patron behind it, and is then forgotten.
    with engine.read() as conn:
        last = conn.execute(
            text("SELECT kind, patron_id FROM mail_outbox WHERE to_addr = 'misaki@example.jp'")
        ).all()
    assert [tuple(r) for r in last] == [("account_deleted", None)]
    assert tables_holding(MISAKI_VALUES, misaki) == ["mail_outbox"]
    assert mail.send_due(smtp_server.settings, NOW, compose=COMPOSE).sent == 1
    goodbye = smtp_server.recorder.received[-1]
    assert goodbye.rcpt_tos == ["misaki@example.jp"]
    assert "削除" in goodbye.message["Subject"]
    assert set(tables_holding(MISAKI_VALUES, misaki)) <= KEPT_WITH_ID
    assert tables_holding(MISAKI_VALUES, -1) == []  # no value of hers anywhere
    # Her reservation's copy went to the shelf (nobody else waited); the count remains.
    with engine.read() as conn:
        cancelled = conn.execute(
            text("SELECT count(*) FROM daily_count WHERE event = 'hold_cancelled'")
        ).scalar_one()
    assert cancelled >= 1
    with pytest.raises(queries.NotFound):
        queries.get_notice_settings(misaki)


def test_every_patron_table_is_named_for_deletion(library_db: Database) -> None:
    """A new table naming a patron must be added to db.erasure.PATRON_ROWS (or cascade from
    one there): checked on the live schema."""
    listed = {table for table, _ in erasure.PATRON_ROWS}
    handled_elsewhere = {"hold", "loan", "mail_outbox", "patron"} | KEPT_WITH_ID
    with engine.read() as conn:
        inspector = inspect(conn)
        naming = {
            table
            for table in inspector.get_table_names()
            if any(c["name"] == "patron_id" for c in inspector.get_columns(table))
        }
    assert naming - handled_elsewhere == listed


def test_delete_then_timing_of_retention_is_unchanged(library_db: Database) -> None:
    """The purge goes through the same erasure: a patron three years idle is gone with the
    rows PATRON_ROWS names."""
    misaki = give_misaki_a_distinctive_id()
    queries.set_notice_settings(misaki, {"ready": (False, False)})
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE id = :p"),
            {"d": (NOW - timedelta(days=4 * 365)).date(), "p": misaki},
        )
    queries.set_clock(lambda: NOW)
    try:
        report = queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    finally:
        queries.set_clock(None)
    assert report.patrons == 1
    assert set(tables_holding(MISAKI_VALUES, misaki)) <= KEPT_WITH_ID
