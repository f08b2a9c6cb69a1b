"""The library calendar (開館日カレンダー): the public month view and the manager's screen.

Which days are open is db.calendar's rule. A manager keeps each branch's regular week and
its dated closures; every change is audited (screen "calendar", no patron) and, right after
it commits, a second transaction moves what fell on a day that is now closed (why two, and
why no date computed meanwhile is missed: db.calendar, "Concurrency"):

* a current loan of a copy of that branch due on such a day (today or later) is due on the
  next day the branch is open, and its unsent due-date reminder is withdrawn so the daily
  run reminds of the new date — a due date is always an open day, so "overdue" stays
  `due_on < today` everywhere and no patron is overdue because of a closure;
* a reservation ready at that branch until such a day waits until the next open day.

Removing a closure moves nothing back: dates moved later stay later (in the patron's favour).
Should the process stop between the two, the next change of that branch moves them (the move
looks at every current date of the branch), and reminders name the next open day meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from db import applications, calendar, reminders, search_cache, staff
from db.calendar import CLOSURE_KINDS, WEEKDAYS, DayHours
from db.clock import library_today
from db.engine import reads, writes
from db.errors import NotFound, Refusal
from db.localized import Localized
from db.models import TABLES
from db.staff import StaffActor, StaffFormRefused

__all__ = [
    "CLOSURE_KINDS",
    "BranchCalendar",
    "BranchMonth",
    "CalendarDay",
    "CalendarMonth",
    "CalendarMoved",
    "ClosureView",
    "DayHours",
    "add_branch_closure",
    "ensure_demo_calendar",
    "get_calendar_month",
    "list_branch_calendars",
    "remove_branch_closure",
    "set_branch_week",
]

_branch = TABLES["branch"]
_hours = TABLES["branch_hours"]
_closure = TABLES["branch_closure"]
_loan = TABLES["loan"]
_item = TABLES["item"]
_hold = TABLES["hold"]

# staff_audit rows of calendar changes (no patron; field_groups say what changed).
SCREEN = "calendar"
WEEK_SET, CLOSURE_ADD, CLOSURE_REMOVE = "calendar_week", "closure_add", "closure_remove"

MAX_CLOSURE_DAYS = 366
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True)
class ClosureView:
    id: int
    branch_code: str
    branch: Localized
    starts_on: date
    ends_on: date
    kind: str  # db.calendar.CLOSURE_KINDS


@dataclass(frozen=True)
class BranchCalendar:
    """A branch's regular week and its closures from today on (the manager's screen)."""

    code: str
    names: Localized
    week: tuple[DayHours, ...]  # Monday first
    closures: tuple[ClosureView, ...]


@dataclass(frozen=True)
class CalendarDay:
    day: date
    closed: str | None  # why (a closure kind or "weekly"); None: open
    opens: str  # "" when closed or not stated
    closes: str


@dataclass(frozen=True)
class BranchMonth:
    code: str
    names: Localized
    week: tuple[DayHours, ...]
    days: tuple[CalendarDay, ...]


@dataclass(frozen=True)
class CalendarMoved:
    """What a change moved off a day that is now closed."""

    loans: int
    holds: int


def _branches(conn: Connection, code: str = "") -> list[tuple[int, str, Localized]]:
    stmt = select(_branch.c.id, _branch.c.code, _branch.c.names).order_by(
        _branch.c.sort_order, _branch.c.code
    )
    if code:
        stmt = stmt.where(_branch.c.code == code)
    return [(r.id, r.code, Localized.of(r.names)) for r in conn.execute(stmt)]


def _month_days(first: date) -> list[date]:
    days = [first]
    while (days[-1] + timedelta(days=1)).month == first.month:
        days.append(days[-1] + timedelta(days=1))
    return days


@dataclass(frozen=True)
class CalendarMonth:
    today: date  # the library's date now
    first: date  # the month's first day
    branches: tuple[BranchMonth, ...]


@reads
def get_calendar_month(
    conn: Connection, now: datetime, month: tuple[int, int] | None = None, branch_code: str = ""
) -> CalendarMonth:
    """Each branch's days of one month (this month with None; one branch with
    `branch_code`, an unknown code: none), with its hours and, for a closed day, why."""
    today = library_today(now)
    year, number = month if month is not None else (today.year, today.month)
    days = _month_days(date(year, number, 1))
    result = []
    for branch_id, code, names in _branches(conn, branch_code):
        week = calendar.week(conn, branch_id)
        window = calendar.span(conn, branch_id, days[0], days[-1])
        result.append(
            BranchMonth(
                code,
                names,
                week,
                tuple(_day(d, window.reason(d), week[d.weekday()]) for d in days),
            )
        )
    return CalendarMonth(today, days[0], tuple(result))


def _day(day: date, reason: str | None, hours: DayHours) -> CalendarDay:
    if reason is not None:
        return CalendarDay(day, reason, "", "")
    return CalendarDay(day, None, hours.opens, hours.closes)


@reads
def list_branch_calendars(conn: Connection, now: datetime) -> tuple[BranchCalendar, ...]:
    """Every branch's regular week and its closures that have not ended yet."""
    today = library_today(now)
    result = []
    for branch_id, code, names in _branches(conn):
        closures = tuple(
            ClosureView(r.id, code, names, r.starts_on, r.ends_on, r.kind)
            for r in conn.execute(
                select(_closure)
                .where(_closure.c.branch_id == branch_id, _closure.c.ends_on >= today)
                .order_by(_closure.c.starts_on, _closure.c.id)
            )
        )
        result.append(BranchCalendar(code, names, calendar.week(conn, branch_id), closures))
    return tuple(result)


def _branch_id(conn: Connection, code: str) -> int | None:
    found = conn.execute(select(_branch.c.id).where(_branch.c.code == code)).scalar()
    return int(found) if found is not None else None


def _move_off_closed_days(conn: Connection, branch_id: int, today: date) -> CalendarMoved:
    """Loans of this branch's copies and reservations ready at it, whose date (today or
    later) is now a closed day, move to the next open day."""
    loans = conn.execute(
        select(_loan.c.id, _loan.c.due_on)
        .select_from(_loan.join(_item, _item.c.id == _loan.c.item_id))
        .where(_item.c.branch_id == branch_id, _loan.c.due_on >= today)
        .order_by(_loan.c.id)
        .with_for_update(of=_loan)
    ).all()
    holds = conn.execute(
        select(_hold.c.id, _hold.c.ready_until)
        .where(
            _hold.c.pickup_branch_id == branch_id,
            _hold.c.ready_until.is_not(None),
            _hold.c.ready_until >= today,
        )
        .order_by(_hold.c.id)
        .with_for_update()
    ).all()
    dates = [r.due_on for r in loans] + [r.ready_until for r in holds]
    if not dates:
        return CalendarMoved(0, 0)
    window = calendar.span(conn, branch_id, min(dates), max(dates))
    moved_loans = moved_holds = 0
    for loan in loans:
        if window.closed(loan.due_on):
            new_due = calendar.next_open_day(conn, branch_id, loan.due_on)
            conn.execute(_loan.update().where(_loan.c.id == loan.id).values(due_on=new_due))
            reminders.withdraw(conn, loan.id)
            moved_loans += 1
    for hold in holds:
        if window.closed(hold.ready_until):
            until = calendar.next_open_day(conn, branch_id, hold.ready_until)
            conn.execute(_hold.update().where(_hold.c.id == hold.id).values(ready_until=until))
            moved_holds += 1
    return CalendarMoved(moved_loans, moved_holds)


@writes
def _move_dates(conn: Connection, now: datetime, branch_ids: tuple[int, ...]) -> CalendarMoved:
    """The second transaction of a change (see db.calendar on concurrency); and the
    pre-registrations whose last day is now a day no branch is open."""
    loans = holds = 0
    for branch_id in branch_ids:
        step = _move_off_closed_days(conn, branch_id, library_today(now))
        loans, holds = loans + step.loans, holds + step.holds
    if branch_ids:
        applications.move_off_closed_days(conn, library_today(now))
    return CalendarMoved(loans, holds)


def _audit(
    conn: Connection, now: datetime, actor: StaffActor, action: str, groups: list[str]
) -> None:
    staff.write_audit(conn, actor, None, groups, SCREEN, action, staff.ALLOWED, now)
    search_cache.clear()  # the home page's hours of today (db.queries.home)


def set_branch_week(
    actor: StaffActor, branch_code: str, week: tuple[DayHours, ...]
) -> CalendarMoved:
    """Replace a branch's regular week (seven days, Monday first), then move the dates that
    fall on its newly closed days. Refused per field (`hours-<weekday>`, `week`): hours not
    "HH:MM", closing not after opening, every day closed."""
    return _move_dates(_set_week(actor, branch_code, week))


@writes
def _set_week(
    conn: Connection, now: datetime, actor: StaffActor, branch_code: str, week: tuple[DayHours, ...]
) -> tuple[int, ...]:
    calendar.lock_for_change(conn)
    branch_id = _branch_id(conn, branch_code)
    if branch_id is None:
        raise StaffFormRefused({"branch": Refusal("choose_branch")})
    if tuple(d.weekday for d in week) != WEEKDAYS:
        raise StaffFormRefused({"week": Refusal("calendar_week_days")})
    errors: dict[str, Refusal] = {}
    for d in week:
        if d.closed:
            continue
        if any(t and not _TIME.fullmatch(t) for t in (d.opens, d.closes)) or (
            bool(d.opens) != bool(d.closes)
        ):
            errors[f"hours-{d.weekday}"] = Refusal("calendar_hours_format")
        elif d.opens and d.opens >= d.closes:
            errors[f"hours-{d.weekday}"] = Refusal("calendar_hours_order")
    if all(d.closed for d in week):
        errors["week"] = Refusal("calendar_no_open_weekday")
    if errors:
        raise StaffFormRefused(errors)
    conn.execute(_hours.delete().where(_hours.c.branch_id == branch_id))
    conn.execute(
        _hours.insert(),
        [
            {
                "branch_id": branch_id,
                "weekday": d.weekday,
                "closed": d.closed,
                "opens": "" if d.closed else d.opens,
                "closes": "" if d.closed else d.closes,
            }
            for d in week
        ],
    )
    closed = "".join(str(d.weekday) for d in week if d.closed)
    _audit(conn, now, actor, WEEK_SET, [f"branch:{branch_code}", f"closed_weekdays:{closed}"])
    return (branch_id,)


def add_branch_closure(
    actor: StaffActor, branch_code: str, starts_on: date, ends_on: date, kind: str
) -> CalendarMoved:
    """Close one branch (or, with branch_code "", every branch) from `starts_on` to
    `ends_on` inclusive, then move the dates that fall on it. Refused per field: an end
    before the start or before today (a past closure changes nothing and would not be
    listed), more than a year, an unknown kind or branch, the same closure again."""
    return _move_dates(_add_closure(actor, branch_code, starts_on, ends_on, kind))


@writes
def _add_closure(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    branch_code: str,
    starts_on: date,
    ends_on: date,
    kind: str,
) -> tuple[int, ...]:
    calendar.lock_for_change(conn)
    errors: dict[str, Refusal] = {}
    branches = _branches(conn, branch_code)
    if not branches:
        errors["branch"] = Refusal("choose_branch")
    if kind not in CLOSURE_KINDS:
        errors["kind"] = Refusal("choose_option")
    if ends_on < starts_on:
        errors["ends_on"] = Refusal("closure_ends_before_start")
    elif (ends_on - starts_on).days >= MAX_CLOSURE_DAYS:
        errors["ends_on"] = Refusal.of("closure_too_long", days=MAX_CLOSURE_DAYS)
    elif ends_on < library_today(now):
        errors["ends_on"] = Refusal("closure_in_the_past")
    if errors:
        raise StaffFormRefused(errors)
    existing = {
        r.branch_id
        for r in conn.execute(
            select(_closure.c.branch_id).where(
                _closure.c.starts_on == starts_on, _closure.c.ends_on == ends_on
            )
        )
    }
    branches = [b for b in branches if b[0] not in existing]
    if not branches:
        raise StaffFormRefused({"starts_on": Refusal("closure_exists")})
    for branch_id, code, _names in branches:
        conn.execute(
            _closure.insert().values(
                branch_id=branch_id, starts_on=starts_on, ends_on=ends_on, kind=kind
            )
        )
        _audit(
            conn,
            now,
            actor,
            CLOSURE_ADD,
            [f"branch:{code}", f"kind:{kind}", f"{starts_on.isoformat()}..{ends_on.isoformat()}"],
        )
    return tuple(branch_id for branch_id, _code, _names in branches)


@writes
def remove_branch_closure(
    conn: Connection, now: datetime, actor: StaffActor, closure_id: int
) -> None:
    """Delete a dated closure (dates it moved stay where they are)."""
    row = conn.execute(
        select(_closure, _branch.c.code)
        .select_from(_closure.join(_branch, _branch.c.id == _closure.c.branch_id))
        .where(_closure.c.id == closure_id)
    ).first()
    if row is None:
        raise NotFound("closure_not_found")
    conn.execute(_closure.delete().where(_closure.c.id == closure_id))
    _audit(
        conn,
        now,
        actor,
        CLOSURE_REMOVE,
        [
            f"branch:{row.code}",
            f"kind:{row.kind}",
            f"{row.starts_on.isoformat()}..{row.ends_on.isoformat()}",
        ],
    )


# Demo data ------------------------------------------------------------------------------

_HOURS_LONG, _HOURS_SHORT, _HOURS_WEEKEND = (
    ("09:00", "20:00"),
    ("09:00", "19:00"),
    ("09:00", "17:00"),
)

# The demo library's calendar: plausible, not the real Fujisawa one. Per branch: the closed
# weekday, weekday and weekend hours, and the month of its week of stock-taking (特別整理期間).
_DEMO: dict[str, tuple[int, tuple[str, str], tuple[str, str], int]] = {
    "sogo": (0, _HOURS_LONG, _HOURS_WEEKEND, 2),
    "minami": (0, _HOURS_SHORT, _HOURS_WEEKEND, 6),
    "tsujido": (3, _HOURS_SHORT, _HOURS_WEEKEND, 9),
    "shonan-oba": (0, _HOURS_WEEKEND, _HOURS_WEEKEND, 11),
}


def _demo_week(closed: int, weekday: tuple[str, str], weekend: tuple[str, str]) -> list[DayHours]:
    return [
        DayHours(d, True, "", "")
        if d == closed
        else DayHours(d, False, *(weekend if d >= 5 else weekday))
        for d in WEEKDAYS
    ]


def ensure_demo_calendar() -> int:
    """Give each demo branch without a calendar a demo one (never in production: web.cli):
    a weekly closing day, hours, 年末年始 (12/28–1/4) and a week of 特別整理期間 a year, for
    this year and the next. Dates already set move off the new closed days. → branches."""
    made = _demo_calendar()
    _move_dates(made)
    return len(made)


@writes
def _demo_calendar(conn: Connection, now: datetime) -> tuple[int, ...]:
    calendar.lock_for_change(conn)
    today = library_today(now)
    made: list[int] = []
    for branch_id, code, _names in _branches(conn):
        if (
            code not in _DEMO
            or conn.execute(
                select(_hours.c.weekday).where(_hours.c.branch_id == branch_id).limit(1)
            ).first()
        ):
            continue
        closed, weekday, weekend, month = _DEMO[code]
        conn.execute(
            _hours.insert(),
            [{"branch_id": branch_id, **vars(d)} for d in _demo_week(closed, weekday, weekend)],
        )
        rows = []
        for year in (today.year - 1, today.year, today.year + 1):
            rows.append((date(year, 12, 28), date(year + 1, 1, 4), calendar.NEW_YEAR))
            stocktaking = date(year, month, 8)
            rows.append((stocktaking, stocktaking + timedelta(days=6), calendar.STOCKTAKING))
        conn.execute(
            _closure.insert(),
            [
                {"branch_id": branch_id, "starts_on": s, "ends_on": e, "kind": k}
                for s, e, k in rows
                if e >= today
            ],
        )
        made.append(branch_id)
    return tuple(made)
