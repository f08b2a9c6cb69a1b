"""My data (issue 16), db level: notice settings per kind, and deleting an account.

The deletion test scans every table of the database (by inspection, like the 31-day
application test) for everything of the patron: their values as text and their id.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

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
HANAKO_PASSWORD = "hon-wo-yomu-2026"
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


def test_notice_settings_are_saved_together_or_not_at_all(library_db: Database) -> None:
    """The page's switches and the reminder's day are one save: a bad value keeps nothing."""
    pid = patron_id(HANAKO)
    before = queries.get_notice_settings(pid)
    with pytest.raises(queries.MyDataRefused) as refused:
        queries.set_notice_settings(pid, {"ready": (False, True), "due_soon": (True, True)}, 4)
    assert refused.value.code == "choose_option"
    with pytest.raises(ValueError):
        queries.set_notice_settings(pid, {"ready": (False, True), "everything": (True, True)}, 3)
    assert queries.get_notice_settings(pid) == before
    saved = queries.set_notice_settings(pid, {"ready": (False, True)}, 3)
    assert saved.due_reminder_days == 3 and not saved.settings[0].email
    assert queries.get_notice_prefs(pid).hold_ready is False
    left = queries.set_notice_settings(pid, {"ready": (True, False)})  # the day as it was
    assert left.due_reminder_days == 3


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


def _retention_at(moment: datetime) -> queries.RetentionReport:
    queries.set_clock(lambda: moment)
    try:
        return queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    finally:
        queries.set_clock(None)


def test_the_purge_date_shown_is_the_day_retention_deletes(library_db: Database) -> None:
    """The date on /my/data is db.erasure.purge_date; retention deletes on exactly that day
    (the library's day: 15:00 UTC is past midnight in Tokyo), a 29 February included."""
    for last_loan in (date(2023, 11, 20), date(2024, 2, 29), date(2023, 3, 1)):
        purge_on = erasure.purge_date(date(2020, 1, 1), last_loan)
        assert erasure.purge_cutoff(purge_on) > last_loan
        assert erasure.purge_cutoff(purge_on - timedelta(days=1)) <= last_loan
    misaki = patron_id(MISAKI[0])
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE id = :p"),
            {"d": date(2023, 11, 20), "p": misaki},
        )
    purge_on = queries.get_my_data(misaki).purge_on
    assert purge_on == date(2026, 11, 21)
    eve = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # 23:00 on the 20th in Tokyo
    assert _retention_at(eve).patrons == 0
    assert _retention_at(eve + timedelta(hours=1)).patrons == 1


def test_a_reminder_comes_30_days_before_the_purge_once(
    library_db: Database, smtp_server: Server
) -> None:
    misaki, taro = patron_id(MISAKI[0]), patron_id("2100000002")
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE id IN (:m, :t)"),
            {"d": date(2023, 11, 20), "m": misaki, "t": taro},
        )
    purge_on = date(2026, 11, 21)
    day_31 = datetime(2026, 10, 21, 3, 0, tzinfo=UTC)
    assert _retention_at(day_31).purge_reminders == 0  # 31 days before: not yet
    day_30 = day_31 + timedelta(days=1)
    # Misaki has an address; Taro (no address, and a loan out) is not reminded.
    assert _retention_at(day_30).purge_reminders == 1
    assert _retention_at(day_30 + timedelta(days=1)).purge_reminders == 0  # never twice
    assert mail.send_due(smtp_server.settings, day_30, compose=COMPOSE).sent == 1
    [reminder] = smtp_server.recorder.received
    assert reminder.rcpt_tos == ["misaki@example.jp"]
    assert "2026年11月21日" in reminder.message.get_content()
    # She borrows: a new purge date, and three years on a new reminder for it.
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE id = :p"),
            {"d": date(2026, 10, 25), "p": misaki},
        )
    assert queries.get_my_data(misaki).purge_on > purge_on
    assert _retention_at(day_30 + timedelta(days=2)).purge_reminders == 0
    later = datetime(2029, 9, 27, 3, 0, tzinfo=UTC)
    assert _retention_at(later).purge_reminders == 1


def test_an_overdue_notice_comes_once_per_loan_and_follows_the_setting(
    library_db: Database,
) -> None:
    hanako = patron_id(HANAKO)
    [late] = [loan for loan in queries.list_loans(hanako) if loan.overdue]
    queries.set_notice_settings(hanako, {"overdue": (False, False)})
    assert queries.queue_overdue_notices() == 0  # 連絡不要
    queries.set_notice_settings(hanako, {"overdue": (True, False)})
    assert queries.queue_overdue_notices() == 1
    assert queries.queue_overdue_notices() == 0  # once per loan
    [(kind, to, subject, body)] = composed()
    assert (kind, to) == ("overdue_reminder", "hanako@example.jp")
    assert body is not None and late.title not in body and late.title not in subject
    assert f"{late.due_on.month}月{late.due_on.day}日" in body
    queries.return_item(late.barcode)  # returned before it went: the notice is withdrawn
    assert composed() == []


def _link(token: str) -> str:
    return f"https://x/{token}"


def test_links_to_a_new_address_are_limited(library_db: Database) -> None:
    """A logged-in account cannot be made to mail strangers without end."""
    hanako = patron_id(HANAKO)
    for n in range(5):
        queries.request_email_change(hanako, f"new{n}@example.jp", HANAKO_PASSWORD, _link)
    with pytest.raises(queries.MyDataFieldsRefused) as refused:
        queries.request_email_change(hanako, "new5@example.jp", HANAKO_PASSWORD, _link)
    assert refused.value.errors["email"].code == "too_many_attempts"
    # Each newer link replaced the older one: one waits, the others were withdrawn.
    assert [kind for kind, *_ in composed() if kind != "email_changed"] == ["email_confirm"]
    assert queries.get_my_data(hanako).email_waiting == "new4@example.jp"


def test_an_email_change_takes_the_password_and_tells_the_old_address(
    library_db: Database,
) -> None:
    """The address receives password reset links: a session alone cannot move it, and the
    address in use hears of the request at once (not only once the link is opened)."""
    hanako = patron_id(HANAKO)
    for wrong in ("", "not-her-password"):
        with pytest.raises(queries.MyDataFieldsRefused) as refused:
            queries.request_email_change(hanako, "new@example.jp", wrong, _link)
        assert refused.value.errors["email_password"].code == "wrong_current_password"
    assert composed() == [] and queries.get_my_data(hanako).email_waiting is None
    queries.request_email_change(hanako, "new@example.jp", HANAKO_PASSWORD, _link)
    told = [(kind, to, body) for kind, to, _subject, body in composed()]
    assert [(kind, to) for kind, to, _body in told] == [
        ("email_confirm", "new@example.jp"),
        ("email_changed", "hanako@example.jp"),
    ]
    assert "new@example.jp" not in (told[1][2] or "")  # the old address learns no new one
    # Throttled like account deletion: after the limit, even the right password waits.
    for _ in range(5):
        with pytest.raises(queries.MyDataFieldsRefused):
            queries.request_email_change(hanako, "new2@example.jp", "wrong", _link)
    with pytest.raises(queries.MyDataFieldsRefused) as refused:
        queries.request_email_change(hanako, "new2@example.jp", HANAKO_PASSWORD, _link)
    assert refused.value.errors["email_password"].code == "too_many_attempts"


def _at_once(n: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in n threads released together; → results or the exceptions raised."""
    start = threading.Barrier(n)
    results: list[object] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results.append(work(i))
        except Exception as error:  # the test looks at what was raised
            results.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_retention_runs_at_once_remind_once(library_db: Database) -> None:
    misaki = patron_id(MISAKI[0])
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE id = :p"),
            {"d": date(2023, 11, 20), "p": misaki},
        )
    queries.set_clock(lambda: datetime(2026, 10, 25, 3, 0, tzinfo=UTC))
    try:
        reports = _at_once(
            3, lambda _: queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
        )
    finally:
        queries.set_clock(None)
    assert sum(r.purge_reminders for r in reports if isinstance(r, queries.RetentionReport)) == 1
    assert [kind for kind, *_ in composed()] == ["purge_reminder"]


def test_a_deletion_and_a_checkout_at_once_never_leave_a_loan_without_its_patron(
    library_db: Database,
) -> None:
    """Either the account goes (and the checkout is refused: no such card) or the loan is
    made (and the deletion refused: items on loan)."""
    misaki = patron_id(MISAKI[0])
    with engine.read() as conn:
        barcode = conn.execute(
            text(
                "SELECT barcode FROM item WHERE status = 'available' AND material_type = 'book' "
                "ORDER BY id LIMIT 1"
            )
        ).scalar_one()

    def work(i: int) -> object:
        if i == 0:
            return queries.delete_my_account(misaki, MISAKI[1])
        return queries.checkout(MISAKI[0], barcode)

    results = _at_once(2, work)
    deleted = any(isinstance(r, queries.AccountDeleted) for r in results)
    lent = any(isinstance(r, queries.CheckoutReceipt) for r in results)
    assert deleted != lent, results
    with engine.read() as conn:
        orphans = conn.execute(
            text("SELECT count(*) FROM loan WHERE patron_id NOT IN (SELECT id FROM patron)")
        ).scalar_one()
    assert orphans == 0
