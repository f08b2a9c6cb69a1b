"""The library calendar at the db level: open days, due dates on open days of the lending
branch, hold-shelf deadlines in opening days, reminders, closures added later, refusals,
the audit, the month view and the demo calendar."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from db import calendar, engine, queries
from db.patrons import DEMO_PATRONS
from db.queries.calendar import DayHours
from tests import mailbox, test_queries_holds
from tests.conftest import Database, add_small_catalog, in_words
from tests.test_queries_holds import NOW, TODAY, Lib, at
from tests.test_web_holds import patron_id

DAY = timedelta(days=1)
MANAGER = queries.StaffActor(1, "M001", "試験 管理", "manager", (), 1)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
assert TODAY.weekday() == FRI  # 2026-11-20; TODAY + 14 is Friday 2026-12-04


lib = test_queries_holds.lib  # the reservation tests' small library, clock at NOW


def week(*closed: int, hours: tuple[str, str] = ("09:00", "20:00")) -> tuple[DayHours, ...]:
    return tuple(
        DayHours(d, True, "", "") if d in closed else DayHours(d, False, *hours) for d in range(7)
    )


def branch_id(code: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(text("SELECT id FROM branch WHERE code = :c"), {"c": code}).scalar_one()
        )


def due_dates() -> dict[str, date]:
    with engine.read() as conn:
        rows = conn.execute(
            text("SELECT i.barcode, l.due_on FROM loan l JOIN item i ON i.id = l.item_id")
        )
        return {r.barcode: date.fromisoformat(str(r.due_on)) for r in rows}


# --- open days -----------------------------------------------------------------------------


def test_open_days_follow_the_week_and_the_closures(lib: Lib) -> None:
    queries.set_branch_week(MANAGER, "sogo", week(MON))
    queries.add_branch_closure(MANAGER, "sogo", date(2026, 12, 28), date(2027, 1, 4), "new_year")
    sogo, minami = branch_id("sogo"), branch_id("minami")
    with engine.read() as conn:
        assert not calendar.is_open(conn, sogo, date(2026, 11, 23))  # a Monday
        assert calendar.is_open(conn, sogo, date(2026, 11, 24))
        assert calendar.is_open(conn, minami, date(2026, 11, 23))  # no calendar: open
        assert calendar.next_open_day(conn, sogo, date(2026, 11, 23)) == date(2026, 11, 24)
        assert calendar.next_open_day(conn, sogo, date(2026, 11, 24)) == date(2026, 11, 24)
        # 12/28–1/4 closed, 1/5 is a Tuesday
        assert calendar.next_open_day(conn, sogo, date(2026, 12, 27)) == date(2026, 12, 27)
        assert calendar.next_open_day(conn, sogo, date(2026, 12, 28)) == date(2027, 1, 5)
        # opening days after Friday 11/20: Sat, Sun, (Mon closed) Tue … the 7th is 11/28
        assert calendar.add_open_days(conn, sogo, TODAY, 7) == date(2026, 11, 28)
        assert calendar.add_open_days(conn, minami, TODAY, 7) == TODAY + 7 * DAY
        assert calendar.add_open_days(conn, sogo, date(2026, 12, 26), 2) == date(2027, 1, 5)


def test_a_branch_that_never_opens_does_not_loop(
    lib: Lib, caplog: pytest.LogCaptureFixture
) -> None:
    """A calendar mistake (closed for years): the plain date stands, a warning names the
    branch only, and it takes no time."""
    sogo = branch_id("sogo")
    with engine.write() as conn:
        for n in range(4):  # four back-to-back closures of a year each
            start = TODAY + n * 366 * DAY
            conn.execute(
                text(
                    "INSERT INTO branch_closure (branch_id, starts_on, ends_on, kind) "
                    "VALUES (:b, :s, :e, 'other')"
                ),
                {"b": sogo, "s": start, "e": start + 365 * DAY},
            )
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="db.calendar"), engine.read() as conn:
        assert calendar.next_open_day(conn, sogo, TODAY) == TODAY
        assert calendar.add_open_days(conn, sogo, TODAY, 7) == TODAY + 7 * DAY
    assert time.monotonic() - started < 5
    assert [r.getMessage() for r in caplog.records] == [
        f"calendar: branch={sogo} has no open day within 400 days",
        f"calendar: branch={sogo} has too few open days after a date",
    ]
    # A checkout there still works, due on the plain date.
    (_, card), *_ = lib.patrons
    assert queries.checkout(card, "H003").due_on == TODAY + 14 * DAY


# --- due dates and the hold shelf --------------------------------------------------------


def test_due_date_moves_to_the_next_day_the_lending_branch_is_open(lib: Lib) -> None:
    (_, card), *_ = lib.patrons  # the patron's home branch is sogo
    queries.set_branch_week(MANAGER, "sogo", week(FRI, SAT))
    assert queries.checkout(card, "H003").due_on == date(2026, 12, 6)  # sogo copy: Sunday
    assert queries.checkout(card, "H002").due_on == date(2026, 12, 4)  # minami copy: open


def test_a_reserved_copy_is_due_on_an_open_day_of_the_branch_that_lends_it(lib: Lib) -> None:
    """A sogo copy collected at minami is lent by minami: minami's calendar sets the date."""
    (a, card_a), _, (_, card_c), _ = lib.patrons
    queries.checkout(card_c, "H001")  # the sogo copy of neko
    queries.checkout(card_c, "H002")  # and the minami one
    queries.place_hold(a, lib.works["neko"], "minami")
    queries.return_item("H001")  # in transit to minami
    queries.receive_item("H001")
    queries.set_branch_week(MANAGER, "minami", week(FRI, SAT))
    assert queries.checkout(card_a, "H001").due_on == date(2026, 12, 6)  # not sogo's Friday


def test_renewal_due_date_is_an_open_day(lib: Lib) -> None:
    (patron, card), *_ = lib.patrons
    queries.checkout(card, "H003")  # due Friday 12/04
    queries.set_branch_week(MANAGER, "sogo", week(MON))
    at(NOW + 3 * DAY)  # Monday 11/23: renewal from today + 14 = Monday 12/07, closed
    (loan,) = queries.list_loans(patron)
    assert queries.renew_loan(patron, loan.id).due_on == date(2026, 12, 8)


def test_hold_shelf_deadline_counts_opening_days_of_the_pickup_branch(lib: Lib) -> None:
    (a, _), (_, card_b), *_ = lib.patrons
    queries.set_branch_week(MANAGER, "sogo", week(MON))
    queries.add_branch_closure(MANAGER, "sogo", date(2026, 11, 25), date(2026, 11, 26), "other")
    queries.checkout(card_b, "H003")
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    # Opening days after Friday 11/20: Sat 21, Sun 22, Tue 24, Fri 27, Sat 28, Sun 29, Tue 12/1
    (hold,) = queries.list_holds(a)
    assert (hold.state, hold.ready_until) == ("ready", date(2026, 12, 1))


# --- reminders and closures added later -------------------------------------------------


def test_a_closure_added_later_moves_due_dates_holds_and_unsent_reminders(lib: Lib) -> None:
    (a, card_a), (_, card_b), (c, _), _ = lib.patrons  # a and c have email
    queries.set_notice_prefs(a, hold_ready=True, due_reminder_days=3)
    queries.checkout(card_a, "H003")  # sogo copy, due Friday 12/04
    queries.checkout(card_a, "H002")  # minami copy, due Friday 12/04
    queries.checkout(card_b, "H001")  # sogo copy of neko, reserved by c below
    queries.place_hold(c, lib.works["neko"], "sogo")
    queries.return_item("H001")  # ready for c until 11/27
    at(NOW + 11 * DAY)  # 12/01: the reminder is queued, naming 12/04
    assert queries.queue_due_reminders() == 1
    assert "2026年12月4日" in (mailbox.composed()[-1][3] or "")
    at(NOW)
    moved = queries.add_branch_closure(
        MANAGER, "sogo", date(2026, 11, 27), date(2026, 12, 4), "stocktaking"
    )
    assert moved == queries.CalendarMoved(loans=1, holds=1)
    assert due_dates() == {"H003": date(2026, 12, 5), "H002": date(2026, 12, 4)}
    (hold,) = queries.list_holds(c)
    assert hold.ready_until == date(2026, 12, 5)
    # The unsent reminder naming 12/04 was withdrawn; the next run names the new date.
    assert [m for m in mailbox.composed() if m[0] == "due_reminder"] == []
    at(NOW + 12 * DAY)  # 12/02: three days before 12/05
    assert queries.queue_due_reminders() == 1
    [(_, _, _, body)] = [m for m in mailbox.composed() if m[0] == "due_reminder"]
    assert body is not None and "2026年12月5日" in body and "2026年12月4日" in body  # H002
    # Not overdue on the closed days, nor on the old due date.
    at(NOW + 14 * DAY)
    assert not any(loan.overdue for loan in queries.list_loans(a))


def test_reminders_never_name_a_closed_day(lib: Lib) -> None:
    """Even a stored due date on a closed day (a loan from before the calendar was kept,
    written behind the query layer's back) is named as the next open day."""
    (a, card_a), *_ = lib.patrons
    queries.set_notice_prefs(a, hold_ready=True, due_reminder_days=3)
    queries.checkout(card_a, "H003")  # due Friday 12/04
    with engine.write() as conn:
        conn.execute(
            text(
                "INSERT INTO branch_closure (branch_id, starts_on, ends_on, kind) "
                "VALUES (:b, :d, :d, 'other')"
            ),
            {"b": branch_id("sogo"), "d": date(2026, 12, 4)},
        )
    at(NOW + 11 * DAY)
    assert queries.queue_due_reminders() == 1
    [(_, _, _, body)] = mailbox.composed()
    assert body is not None and "2026年12月5日" in body and "2026年12月4日" not in body


# --- the manager's changes: refusals and audit ------------------------------------------


def test_refusals_say_which_field(lib: Lib) -> None:
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.add_branch_closure(MANAGER, "sogo", date(2026, 12, 5), date(2026, 12, 4), "other")
    assert set(refused.value.errors) == {"ends_on"}
    assert in_words(refused.value.errors["ends_on"]).startswith("終了日が開始日より前です")
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.add_branch_closure(MANAGER, "nowhere", TODAY, TODAY + 400 * DAY, "party")
    assert set(refused.value.errors) == {"branch", "kind", "ends_on"}
    bad = list(week(MON))
    bad[TUE] = DayHours(TUE, False, "9時", "20:00")
    bad[WED] = DayHours(WED, False, "20:00", "09:00")
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.set_branch_week(MANAGER, "sogo", tuple(bad))
    assert {k: v.code for k, v in refused.value.errors.items()} == {
        "hours-1": "calendar_hours_format",
        "hours-2": "calendar_hours_order",
    }
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.set_branch_week(MANAGER, "sogo", week(*range(7)))
    assert set(refused.value.errors) == {"week"}
    with engine.read() as conn:  # nothing was saved
        assert conn.execute(text("SELECT count(*) FROM branch_hours")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM branch_closure")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM staff_audit")).scalar_one() == 0


def test_every_change_is_audited_and_all_branches_at_once(lib: Lib) -> None:
    queries.set_branch_week(MANAGER, "tsujido", week(THU))
    queries.add_branch_closure(MANAGER, "", date(2026, 12, 28), date(2027, 1, 4), "new_year")
    (tsujido,) = [b for b in queries.list_branch_calendars() if b.code == "tsujido"]
    (closure,) = tsujido.closures
    queries.remove_branch_closure(MANAGER, closure.id)
    with pytest.raises(queries.NotFound):
        queries.remove_branch_closure(MANAGER, closure.id)
    rows = queries.search_staff_audit(queries.AuditQuery(staff_code="M001"))
    assert [(r.screen, r.action, r.card_number) for r in rows][::-1] == [
        ("calendar", "calendar_week", None),
        *[("calendar", "closure_add", None)] * 4,
        ("calendar", "closure_remove", None),
    ]
    assert rows[0].field_groups == ("branch:tsujido", "kind:new_year", "2026-12-28..2027-01-04")
    calendars = {b.code: b for b in queries.list_branch_calendars()}
    assert [len(calendars[c].closures) for c in ("sogo", "minami", "tsujido", "shonan-oba")] == [
        1,
        1,
        0,
        1,
    ]
    assert calendars["tsujido"].week[THU].closed and not calendars["sogo"].week[THU].closed


# --- the month view and the demo calendar ------------------------------------------------


def test_month_view_says_why_a_day_is_closed(lib: Lib) -> None:
    queries.set_branch_week(MANAGER, "sogo", week(MON, hours=("09:00", "17:00")))
    queries.add_branch_closure(MANAGER, "sogo", date(2026, 12, 28), date(2027, 1, 4), "new_year")
    shown = queries.get_calendar_month((2026, 12), "sogo")
    assert (shown.today, shown.first) == (TODAY, date(2026, 12, 1))
    months = shown.branches
    assert [m.code for m in months] == ["sogo"]
    days = {d.day: d for d in months[0].days}
    assert len(days) == 31
    assert days[date(2026, 12, 7)].closed == "weekly"
    assert days[date(2026, 12, 28)].closed == "new_year"
    assert (days[date(2026, 12, 1)].closed, days[date(2026, 12, 1)].opens) == (None, "09:00")
    assert len(queries.get_calendar_month((2026, 12)).branches) == 4
    assert queries.get_calendar_month(None, "nowhere").branches == ()
    assert queries.get_calendar_month().first == date(2026, 11, 1)


def test_demo_calendar_is_plausible_and_made_once(lib: Lib) -> None:
    assert queries.ensure_demo_calendar() == 4
    assert queries.ensure_demo_calendar() == 0
    months = {m.code: m for m in queries.get_calendar_month((2026, 12)).branches}
    for branch in months.values():
        days = {d.day: d.closed for d in branch.days}
        assert days[date(2026, 12, 28)] == days[date(2026, 12, 31)] == "new_year"
        assert sum(1 for d in branch.days if d.closed == "weekly") >= 3
    assert {d.day.weekday() for d in months["tsujido"].days if d.closed == "weekly"} == {THU}
    (_, card), *_ = lib.patrons
    at(NOW + 30 * DAY)  # 12/20 + 14 = 1/3 (New Year): due on Tuesday 1/5 (Monday closed)
    assert queries.checkout(card, "H003").due_on == date(2027, 1, 5)


# --- concurrency -------------------------------------------------------------------------


def together(*calls: Callable[[], object]) -> None:
    """Run the calls in threads that start at the same moment."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        start.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


def test_a_closure_racing_a_checkout_never_leaves_the_due_date_on_it(lib: Lib) -> None:
    """Each round a checkout and a closure of the day it would be due start together; the
    loan never ends up due on the closed day, whichever commits first (both engines)."""
    (_, card), *_ = lib.patrons
    for n in range(12):
        at(NOW + n * DAY)
        closed = TODAY + (n + 14) * DAY
        together(
            lambda: queries.checkout(card, "H003"),
            lambda day=closed: queries.add_branch_closure(MANAGER, "sogo", day, day, "other"),
        )
        assert due_dates() == {"H003": closed + DAY}, n
        queries.return_item("H003")


def test_a_closure_racing_a_renewal_neither_deadlocks_nor_leaves_the_date_on_it(
    lib: Lib,
) -> None:
    """The renewal locks the loan before it reads the calendar, the change takes the
    calendar lock first and the loans after: both finish, the date is an open day."""
    (patron, card), *_ = lib.patrons
    for n in range(8):
        base = NOW + 5 * n * DAY
        at(base)
        queries.checkout(card, "H003")
        (loan,) = queries.list_loans(patron)
        at(base + 3 * DAY)
        closed = TODAY + (5 * n + 17) * DAY
        together(
            lambda loan_id=loan.id: queries.renew_loan(patron, loan_id),
            lambda day=closed: queries.add_branch_closure(MANAGER, "sogo", day, day, "other"),
        )
        assert due_dates() == {"H003": closed + DAY}, n
        queries.return_item("H003")


def test_demo_load_in_the_new_year_closure_keeps_one_overdue_loan(fresh_db: Database) -> None:
    """`shiori demo load` gives the demo loans, then the demo calendar (web/cli.py): on
    2 January the README's overdue loan is still overdue, the others are due on open days."""
    new_year = datetime(2027, 1, 2, 1, 0, tzinfo=UTC)
    queries.set_clock(lambda: new_year)
    try:
        add_small_catalog()
        queries.ensure_demo_patrons()
        assert queries.give_demo_loans() > 0
        assert queries.ensure_demo_calendar() == 4
        hanako = patron_id(DEMO_PATRONS[0].patron.card_number)
        loans = queries.list_loans(hanako)
        assert [loan.overdue for loan in loans].count(True) == DEMO_PATRONS[0].overdue
        with engine.read() as conn:
            for row in conn.execute(
                text("SELECT l.due_on, i.branch_id FROM loan l JOIN item i ON i.id = l.item_id")
            ):
                due = date.fromisoformat(str(row.due_on))
                assert due < date(2027, 1, 2) or calendar.is_open(conn, row.branch_id, due)
    finally:
        queries.set_clock(None)


def test_a_past_or_repeated_closure_is_refused_next_to_the_field(lib: Lib) -> None:
    """A closure that has ended would never be listed (nor removable); the same closure twice
    would be listed twice."""
    with pytest.raises(queries.StaffFormRefused) as past:
        queries.add_branch_closure(MANAGER, "sogo", TODAY - 3 * DAY, TODAY - DAY, "other")
    assert "既に終わっています" in in_words(past.value.errors["ends_on"])
    queries.add_branch_closure(MANAGER, "sogo", TODAY, TODAY + DAY, "other")
    with pytest.raises(queries.StaffFormRefused) as again:
        queries.add_branch_closure(MANAGER, "sogo", TODAY, TODAY + DAY, "other")
    assert "既に登録されています" in in_words(again.value.errors["starts_on"])
    # All branches at once: the ones that have it already are skipped, the others get it.
    queries.add_branch_closure(MANAGER, "", TODAY, TODAY + DAY, "other")
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM branch_closure")).scalar_one() == 4
