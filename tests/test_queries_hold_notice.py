"""The "ready for pickup" notice lives only as long as its reservation.

Collected (checkout), cancelled, expired or the patron purged: the unsent notice is
withdrawn in the transaction that ends the reservation; a row already in doubt (its "."
may have reached the server) is emptied instead, so the sender can still settle it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from db import engine, outbox, queries
from db.queries import mail
from tests.conftest import Database
from tests.mailbox import COMPOSE
from tests.smtp_sink import Server
from tests.test_queries_circulation import linking_tables
from tests.test_queries_retention import set_patron
from tests.test_web_holds import patron_id, return_overdue, taros_loan

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 10:00 in the library
MISAKI = "2100000004"
TARO = "2100000002"
HANAKO = "2100000001"


@pytest.fixture
def clock() -> Iterator[None]:
    queries.set_clock(lambda: NOW)
    try:
        yield
    finally:
        queries.set_clock(None)


def at(moment: datetime) -> None:
    queries.set_clock(lambda: moment)


def notices(to_addr: str) -> list[Any]:
    with engine.read() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT id, kind, params, body, sent_at, send_started_at FROM mail_outbox "
                    "WHERE to_addr = :a ORDER BY id"
                ),
                {"a": to_addr},
            ).all()
        )


def ready_for_hanako() -> tuple[int, str, int]:
    """Taro returns his loan; Hanako's reservation of it is ready. → (work, barcode, hold)."""
    work_id, barcode, branch = taros_loan()
    hold = queries.place_hold(patron_id(HANAKO), work_id, branch)
    assert queries.return_item(barcode).route == "ready"
    [notice] = notices("hanako@example.jp")
    assert notice.kind == "hold_ready" and notice.params is not None
    return work_id, barcode, hold.id


def test_the_readme_walk_leaves_nothing_linking_the_patron_and_the_title(
    catalog_db: Database, clock: None
) -> None:
    with engine.read() as conn:
        item_id, work_id, title, branch = conn.execute(
            text(
                "SELECT i.id, w.id, w.title, b.code FROM item i JOIN work w ON w.id = i.work_id "
                "JOIN branch b ON b.id = i.branch_id WHERE i.barcode = '0000000815'"
            )
        ).one()
    assert title == "傷心"
    misaki, taro = 515151, patron_id(TARO)  # a distinctive id, so the scan can look for it
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET id = :m WHERE card_number = :c"), {"m": misaki, "c": MISAKI}
        )
    queries.place_hold(misaki, work_id, branch)
    queries.place_hold(taro, work_id, branch)
    assert queries.return_item("0000000815").route == "ready"
    assert [n.kind for n in notices("misaki@example.jp")] == ["hold_ready"]
    at(NOW + timedelta(days=2))
    queries.checkout(MISAKI, "0000000815")  # she collects it
    at(NOW + timedelta(days=10))
    queries.return_item("0000000815")  # and brings it back: on the shelf for Taro
    item = (item_id, "0000000815", title)
    with engine.read() as conn:
        assert linking_tables(conn, (misaki, "misaki@example.jp"), item) == []
        assert linking_tables(conn, (misaki, MISAKI), item) == []
    assert notices("misaki@example.jp") == []


def test_a_cancelled_reservation_withdraws_its_notice(library_db: Database) -> None:
    _, _, hold_id = ready_for_hanako()
    queries.cancel_hold(patron_id(HANAKO), hold_id)
    assert notices("hanako@example.jp") == []


def test_an_expired_reservation_withdraws_its_notice(library_db: Database) -> None:
    ready_for_hanako()
    at(datetime.now(UTC) + timedelta(days=30))
    try:
        assert queries.run_daily_holds().expired == 1
    finally:
        queries.set_clock(None)
    # (The same daily run tells her of her overdue loans since issue 16: another kind.)
    assert [n for n in notices("hanako@example.jp") if n.kind == "hold_ready"] == []


def test_a_notice_in_doubt_is_emptied_not_deleted(library_db: Database) -> None:
    """The sender committed `send_started_at` before the final ".": the row must stay for
    it (or the sweep) to settle, but the title goes with the reservation."""
    _, _, hold_id = ready_for_hanako()
    [notice] = notices("hanako@example.jp")
    with engine.write() as conn:
        conn.execute(
            text("UPDATE mail_outbox SET send_started_at = created_at WHERE id = :m"),
            {"m": notice.id},
        )
    queries.cancel_hold(patron_id(HANAKO), hold_id)
    [left] = notices("hanako@example.jp")
    assert left.id == notice.id and left.params is None and left.body is None
    assert left.send_started_at is not None and left.sent_at is None


def test_a_notice_withdrawn_while_being_sent_is_never_completed(
    library_db: Database, smtp_server: Server
) -> None:
    """Withdrawn after the sender claimed and composed it: the commit point before the "."
    finds the row gone, so the server never accepts the message."""
    _, barcode, _ = ready_for_hanako()
    return_overdue(HANAKO)

    def compose_then_collect(kind: str, lang: str, params: Any) -> tuple[str, str]:
        text_ = COMPOSE(kind, lang, params)
        queries.checkout(HANAKO, barcode)  # collected while the sender holds the row
        return text_

    report = mail.send_due(smtp_server.settings, datetime.now(UTC), compose=compose_then_collect)
    assert report.sent == 0
    assert smtp_server.recorder.received == []
    assert notices("hanako@example.jp") == []


def test_retention_deletes_the_unsent_mail_of_a_purged_patron(
    library_db: Database, clock: None
) -> None:
    misaki = patron_id(MISAKI)
    work_id, barcode, branch = taros_loan()
    queries.place_hold(misaki, work_id, branch)
    queries.return_item(barcode)
    with engine.write() as conn:
        outbox.enqueue(
            conn,
            kind="password_set",
            to_addr="misaki@example.jp",
            patron_id=misaki,
            params={"when": NOW.isoformat(), "via": "code"},
            now=NOW,
        )
        outbox.enqueue(
            conn,
            kind="password_set",
            to_addr="hanako@example.jp",
            patron_id=patron_id(HANAKO),
            params={"when": NOW.isoformat(), "via": "code"},
            now=NOW,
        )
    assert len(notices("misaki@example.jp")) == 2
    set_patron(MISAKI, last_loan_on=date(2020, 1, 1))
    report = queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    assert report.patrons == 1 and report.mail == 2
    assert notices("misaki@example.jp") == []
    assert len(notices("hanako@example.jp")) == 1  # somebody else's mail stays


def test_retention_deletes_a_notice_whose_reservation_is_gone(
    library_db: Database, clock: None
) -> None:
    """A notice queued before reservations remembered their notice (or otherwise orphaned)."""
    ready_for_hanako()  # a live reservation's notice stays
    [live] = notices("hanako@example.jp")
    with engine.write() as conn:
        for kind, params in (
            ("hold_ready", {"title": "こころ", "branch": "sogo", "until": "2026-11-28"}),
            ("due_reminder", {"loans": [{"title": "こころ", "due": "2026-12-05"}]}),
        ):
            outbox.enqueue(
                conn,
                kind=kind,
                to_addr="hanako@example.jp",
                patron_id=patron_id(HANAKO),
                params=params,
                now=NOW,
            )
    report = queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    assert report.mail == 2
    assert [n.id for n in notices("hanako@example.jp")] == [live.id]
