"""The library calendar (開館日カレンダー): which days a branch is open.

A branch is closed on a day when its regular week says so (`branch_hours.closed` for that
weekday) or a dated closure (`branch_closure`: 年末年始, 特別整理期間, other) covers it. A
branch with no calendar rows is open every day, so a library that keeps no calendar lends as
it always did.

Used inside the caller's transaction (every function takes a `Connection`): checkout and
renewal move the due date to the next day the LENDING branch (the copy's) is open
(db.circulation); the hold-shelf deadline counts opening days of the pickup branch
(db.routing); reminders name the due date as an open day (db.reminders); a pre-registration's
last day is a day some branch is open, as it may be completed at any branch
(db.queries.registration).

Concurrency (PostgreSQL; SQLite's BEGIN IMMEDIATE already runs one writer at a time): a
transaction that computes a date from the calendar holds the calendar lock shared
(`span`), and a change of the calendar takes it exclusively (`lock_for_change`) before it
writes, holding no other lock. So every date computed from the old calendar is committed
before the change commits, and the change's second transaction, which moves the dates that
fall on newly closed days (db.queries.calendar), sees them all; a date computed after the
change sees the new calendar. The lock is a transaction-level advisory lock: no row or
table lock of circulation is taken in a different order, so no deadlock.

Every search is bounded: a branch with no open day within HORIZON_DAYS (a mistake in the
calendar, say a closure of two years) does not loop; the plain date stands and a warning
names the branch only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db.models import TABLES

log = logging.getLogger(__name__)

_branch = TABLES["branch"]
_hours = TABLES["branch_hours"]
_closure = TABLES["branch_closure"]

HORIZON_DAYS = 400
WEEKDAYS = tuple(range(7))  # 0 = Monday, as date.weekday()

# Why a day is closed: a dated closure's kind, or the regular week.
NEW_YEAR = "new_year"
STOCKTAKING = "stocktaking"
OTHER = "other"
CLOSURE_KINDS = (NEW_YEAR, STOCKTAKING, OTHER)
WEEKLY = "weekly"


@dataclass(frozen=True)
class DayHours:
    """One weekday of a branch's regular week ("" hours: not stated)."""

    weekday: int
    closed: bool
    opens: str
    closes: str


@dataclass(frozen=True)
class Span:
    """A branch's calendar read once for a window of days: answers without more SQL."""

    closed_weekdays: frozenset[int]
    closures: tuple[tuple[date, date, str], ...]  # (starts_on, ends_on, kind), inclusive

    def reason(self, day: date) -> str | None:
        """Why the branch is closed on `day` (a closure kind or WEEKLY); None when open."""
        for starts_on, ends_on, kind in self.closures:
            if starts_on <= day <= ends_on:
                return kind
        return WEEKLY if day.weekday() in self.closed_weekdays else None

    def closed(self, day: date) -> bool:
        return self.reason(day) is not None


# The calendar lock's key (pg_advisory_xact_lock): "SHIORI" and the migration number.
_LOCK_KEY = 0x5348494F52490018


def _lock(conn: Connection, exclusive: bool) -> None:
    if conn.dialect.name == "postgresql":
        call = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(text(f"SELECT {call}(:key)"), {"key": _LOCK_KEY})


def lock_for_change(conn: Connection) -> None:
    """Before a calendar change writes: wait for every transaction computing a date from
    the calendar to commit, and keep new ones waiting until this one commits."""
    _lock(conn, exclusive=True)


def week(conn: Connection, branch_id: int) -> tuple[DayHours, ...]:
    """The branch's regular week, Monday first (weekdays without a row: open, no hours)."""
    rows = {
        r.weekday: r
        for r in conn.execute(
            select(_hours.c.weekday, _hours.c.closed, _hours.c.opens, _hours.c.closes).where(
                _hours.c.branch_id == branch_id
            )
        )
    }
    return tuple(
        DayHours(d, bool(rows[d].closed), rows[d].opens, rows[d].closes)
        if d in rows
        else DayHours(d, False, "", "")
        for d in WEEKDAYS
    )


def span(conn: Connection, branch_id: int, first: date, last: date) -> Span:
    """The branch's closed weekdays and the closures that touch `first`..`last` (the
    calendar lock held shared until the transaction ends: see the module's docstring)."""
    _lock(conn, exclusive=False)
    closed = frozenset(
        conn.execute(
            select(_hours.c.weekday).where(_hours.c.branch_id == branch_id, _hours.c.closed)
        ).scalars()
    )
    closures = tuple(
        (r.starts_on, r.ends_on, r.kind)
        for r in conn.execute(
            select(_closure.c.starts_on, _closure.c.ends_on, _closure.c.kind)
            .where(
                _closure.c.branch_id == branch_id,
                _closure.c.ends_on >= first,
                _closure.c.starts_on <= last,
            )
            .order_by(_closure.c.starts_on, _closure.c.id)
        )
    )
    return Span(closed, closures)


def is_open(conn: Connection, branch_id: int, day: date) -> bool:
    """Whether the branch is open on `day`."""
    return not span(conn, branch_id, day, day).closed(day)


def next_open_day(conn: Connection, branch_id: int, day: date) -> date:
    """The first day on or after `day` that the branch is open (`day` itself if open)."""
    window = span(conn, branch_id, day, day + timedelta(days=HORIZON_DAYS))
    for offset in range(HORIZON_DAYS + 1):
        candidate = day + timedelta(days=offset)
        if not window.closed(candidate):
            return candidate
    log.warning("calendar: branch=%s has no open day within %d days", branch_id, HORIZON_DAYS)
    return day


def next_day_any_branch_open(conn: Connection, day: date) -> date:
    """The first day on or after `day` that at least one branch is open (`day` itself with
    no branches)."""
    branch_ids = conn.execute(select(_branch.c.id)).scalars().all()
    return min((next_open_day(conn, b, day) for b in branch_ids), default=day)


def add_open_days(conn: Connection, branch_id: int, day: date, n: int) -> date:
    """The `n`-th day after `day` that the branch is open (`day` itself not counted), so
    with every day open it is `day + n`. n <= 0: `day`."""
    if n <= 0:
        return day
    last = day + timedelta(days=n + HORIZON_DAYS)
    window = span(conn, branch_id, day, last)
    found = 0
    candidate = day
    while candidate < last:
        candidate += timedelta(days=1)
        if not window.closed(candidate):
            found += 1
            if found == n:
                return candidate
    log.warning("calendar: branch=%s has too few open days after a date", branch_id)
    return day + timedelta(days=n)
