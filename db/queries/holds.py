"""Reservations (予約): the queue per title, the hold shelf, notice settings, the daily job.

Each query function runs in one transaction (db.engine `reads` / `writes`). Where a copy
goes on return, checkout, cancellation, expiry and receipt is db.routing; due-date
reminders are db.reminders.

The model (models.Hold): one row per active reservation of a *title* (any copy). A row is
`waiting` until a copy is assigned to it, then `in_transit` (the copy travels to the
pickup branch) or `ready` (on the hold shelf until `ready_until`, a library-local date).
A copy on a shelf is assigned at once, `pulling` until staff take it off the shelf (the pull
list: db.pulling).
Cancelled, expired and collected reservations are deleted; only anonymous daily counts
remain (seed 000-2). An undo of a cancellation (restore_hold) leaves the cancelled row's id
and time until the retention job, so that its note works once (db.hold_undo).

The queue: positions are derived from `ORDER BY placed_at, id` among the title's waiting
rows, never stored, so they are always distinct and gap-free. Every write to a title's
queue first locks that title's `work` row (PostgreSQL `FOR UPDATE`; SQLite's
`BEGIN IMMEDIATE` already makes the transaction the only writer), so concurrent
placements, returns and cancellations of one title are serialised and never assign one
copy twice. A double submit meets the `(patron_id, work_id)` unique constraint.

Suspended reservations (休止: `suspended_until` in the future) keep their place but are
skipped when a copy is assigned. Series requests, stepping back and the estimate window
are db.series (which decides who is eligible for a freed copy) and db.queries.series_holds.

The limits (active reservations per patron, days on the hold shelf) are set by
`configure_holds()` from the validated settings (SHIORI_HOLD_LIMIT, SHIORI_HOLD_SHELF_DAYS).

Logs name events and branches only, never patrons, items or titles.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from db import (
    clock,
    hold_undo,
    jobs,
    models,
    notice_prefs,
    pulling,
    reminders,
    routing,
    rules,
    series,
)
from db.catalog_write import SEP
from db.clock import library_today
from db.counts import bump, unbump
from db.engine import reads, writes
from db.errors import NotFound, QueryError
from db.localized import Localized
from db.routing import IN_TRANSIT, READY, WAITING, HoldNotFound, Routing, WorkNotFound

__all__ = [
    "HOLD_MAX_SUSPEND_DAYS",
    "HOLD_REMINDER_DAYS",
    "HOLD_UNDO_MINUTES",
    "CancelledHold",
    "HoldForm",
    "HoldRefused",
    "HoldView",
    "HoldsDailyReport",
    "NoticePrefs",
    "UndoExpired",
    "UndoUsed",
    "cancel_hold",
    "cancel_hold_undoably",
    "change_hold_pickup",
    "configure_holds",
    "expire_holds",
    "get_hold",
    "get_hold_form",
    "get_notice_prefs",
    "hold_limit",
    "list_holds",
    "place_hold",
    "queue_due_reminders",
    "queue_overdue_notices",
    "receive_item",
    "restore_hold",
    "resume_hold",
    "run_daily_holds",
    "set_notice_prefs",
    "suspend_hold",
]

log = logging.getLogger(__name__)

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_pref = _T["notice_preference"]
_item = _T["item"]
_work = _T["work"]
_branch = _T["branch"]
_mtype = _T["material_type"]
_patron = _T["patron"]
_loan = _T["loan"]

# daily_count events (anonymous statistics)
PLACED = "hold_placed"
CANCELLED = routing.CANCELLED
EXPIRED = "hold_expired"

HOLD_MAX_SUSPEND_DAYS = 365
# How long a cancelled reservation can be put back in its place (restore_hold).
HOLD_UNDO_MINUTES = hold_undo.UNDO_MINUTES
HOLD_REMINDER_DAYS = notice_prefs.REMINDER_DAYS  # the due-date reminder choices, in days

_limit = {"per_patron": 10}


def configure_holds(limit: int, shelf_days: int) -> None:
    """The library's reservation limits: per patron, and days a ready item waits
    (SHIORI_HOLD_LIMIT, SHIORI_HOLD_SHELF_DAYS, validated by web.settings)."""
    _limit["per_patron"] = limit
    routing.set_shelf_days(shelf_days)


def hold_limit() -> int:
    """Active reservations allowed per patron (SHIORI_HOLD_LIMIT, default 10)."""
    return _limit["per_patron"]


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------


class HoldRefused(QueryError):
    """A reservation the patron cannot make or change; the code says why."""


class HoldLimitReached(HoldRefused):
    def __init__(self, limit: int) -> None:
        super().__init__("hold_limit", limit=limit)


class AlreadyReserved(HoldRefused):
    code = "already_reserved"


class OnLoanToYou(HoldRefused):
    code = "on_loan_to_you"


class NotReservable(HoldRefused):
    code = "not_reservable"


class UnknownBranch(HoldRefused):
    code = "unknown_pickup"


class AlreadyReady(HoldRefused):
    code = "already_ready"


class CannotSuspend(HoldRefused):
    code = "cannot_suspend"


class BadSuspendDate(HoldRefused):
    def __init__(self) -> None:
        super().__init__("bad_suspend_date", days=HOLD_MAX_SUSPEND_DAYS)


class UndoExpired(HoldRefused):
    def __init__(self) -> None:
        super().__init__("undo_expired", minutes=HOLD_UNDO_MINUTES)


class UndoUsed(HoldRefused):
    """The note put its reservation back once already (db.hold_undo)."""

    def __init__(self) -> None:
        super().__init__("undo_used")


class NotInTransit(QueryError):
    code = "not_in_transit"


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelledHold:
    """What putting a cancelled reservation back needs (restore_hold). The row itself is
    gone: the database keeps nothing of it, so the caller holds this (signed) for the
    patron for HOLD_UNDO_MINUTES, and it works once (db.hold_undo). `undoable` is False for
    a volume of a series request, whose order the request decides (cancelled for good).
    A reservation cancelled while ready also names its copy and its last pickup day: put
    back while that copy is still where the cancellation left it, it is ready again."""

    hold_id: int
    patron_id: int
    work_id: int
    title: str
    pickup_branch_id: int
    placed_at: datetime
    suspended_until: date | None
    cancelled_at: datetime
    undoable: bool
    ready_item_id: int | None = None  # ready when cancelled: its copy on the hold shelf
    ready_until: date | None = None  # ...and the last day it waited there


@dataclass(frozen=True)
class HoldView:
    id: int
    work_id: int
    title: str
    authors: tuple[str, ...]
    pickup_code: str
    pickup: Localized
    placed_at: datetime  # aware UTC
    state: str  # waiting, suspended, in_transit, ready, kept (db.series)
    position: int | None  # 1-based among waiting reservations; None once assigned
    waiting: int  # reservations waiting for this title
    copies: int  # copies that can serve reservations
    ready_until: date | None
    suspended_until: date | None
    estimate_days: int | None  # a rough wait; None when it cannot be estimated


@dataclass(frozen=True)
class HoldForm:
    """What the reserve form needs: the title, the patron's home branch and any hold."""

    work_id: int
    title: str
    copies: int  # reservable copies
    home_branch_code: str
    existing: HoldView | None


@dataclass(frozen=True)
class NoticePrefs:
    has_email: bool
    hold_ready: bool
    due_reminder_days: int | None


@dataclass(frozen=True)
class HoldsDailyReport:
    expired: int
    reminders: int
    overdue: int = 0  # overdue notices queued


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


_copies = _item.join(_mtype, _mtype.c.code == _item.c.material_type)


def _eligible(work_id: Any) -> ColumnElement[bool]:
    """A copy (of `_copies`) of the title that can serve a reservation: reservable type,
    lendable, not missing."""
    return and_(
        _item.c.work_id == work_id,
        pulling.serves_holds(),
        _item.c.status != rules.MISSING,
    )


def _eligible_copies() -> Any:
    return (
        select(func.count())
        .select_from(_copies)
        .where(_eligible(_hold.c.work_id))
        .scalar_subquery()
    )


def _view_select() -> Any:
    ahead = _hold.alias("ahead")
    position = (
        select(func.count())
        .select_from(ahead)
        .where(
            ahead.c.work_id == _hold.c.work_id,
            ahead.c.item_id.is_(None),
            or_(
                ahead.c.placed_at < _hold.c.placed_at,
                and_(ahead.c.placed_at == _hold.c.placed_at, ahead.c.id < _hold.c.id),
            ),
        )
        .scalar_subquery()
    )
    others = _hold.alias("others")
    waiting = (
        select(func.count())
        .select_from(others)
        .where(others.c.work_id == _hold.c.work_id, others.c.item_id.is_(None))
        .scalar_subquery()
    )
    loan_days = (
        select(func.max(_mtype.c.loan_days))
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(_item.c.work_id == _hold.c.work_id, _mtype.c.reservable.is_(True))
        .scalar_subquery()
    )
    return select(
        _hold.c.id,
        _hold.c.work_id,
        _hold.c.placed_at,
        _hold.c.state,
        _hold.c.item_id,
        _hold.c.ready_until,
        _hold.c.suspended_until,
        _work.c.title,
        _work.c.authors,
        _branch.c.code.label("pickup_code"),
        _branch.c.names.label("pickup_names"),
        position.label("ahead"),
        waiting.label("waiting"),
        _eligible_copies().label("copies"),
        loan_days.label("loan_days"),
    ).select_from(
        _hold.join(_work, _work.c.id == _hold.c.work_id).join(
            _branch, _branch.c.id == _hold.c.pickup_branch_id
        )
    )


def _estimate(position: int, copies: int, loan_days: int | None) -> int | None:
    """A rough wait: each copy serves one reservation per loan period (plus shelf days)."""
    if copies <= 0 or not loan_days:
        return None
    rounds = math.ceil(position / copies)
    return rounds * loan_days + (rounds - 1) * 2


def _to_view(row: Row[Any], today: date) -> HoldView:
    state = row.state
    if state == WAITING and row.suspended_until is not None and row.suspended_until > today:
        state = "suspended"
    position = int(row.ahead) + 1 if row.item_id is None else None
    return HoldView(
        id=row.id,
        work_id=row.work_id,
        title=row.title,
        authors=tuple(a for a in row.authors.split(SEP) if a) if row.authors else (),
        pickup_code=row.pickup_code,
        pickup=Localized.of(row.pickup_names),
        placed_at=clock.aware_utc(row.placed_at),
        state=state,
        position=position,
        waiting=int(row.waiting),
        copies=int(row.copies),
        ready_until=row.ready_until,
        suspended_until=row.suspended_until
        if row.suspended_until and row.suspended_until > today
        else None,
        estimate_days=_estimate(position, int(row.copies), row.loan_days)
        if position is not None
        else None,
    )


def _patron_hold(conn: Connection, patron_id: int, hold_id: int, now: datetime) -> HoldView:
    row = conn.execute(
        _view_select().where(_hold.c.id == hold_id, _hold.c.patron_id == patron_id)
    ).first()
    if row is None:
        raise HoldNotFound()
    return _to_view(row, library_today(now))


def _branch_id(conn: Connection, code: str) -> int:
    found = conn.execute(select(_branch.c.id).where(_branch.c.code == code)).scalar()
    if found is None:
        raise UnknownBranch()
    return int(found)


# ---------------------------------------------------------------------------------------
# Patron side
# ---------------------------------------------------------------------------------------


@reads
def list_holds(conn: Connection, now: datetime, patron_id: int) -> tuple[HoldView, ...]:
    """The patron's reservations: ready first, then in transit, on a pull list, kept for a
    "together" set, then waiting (and suspended), oldest first."""
    today = library_today(now)
    order = {READY: 0, IN_TRANSIT: 1, pulling.PULLING: 2, series.KEPT: 3, WAITING: 4}
    rows = conn.execute(
        _view_select().where(_hold.c.patron_id == patron_id).order_by(_hold.c.placed_at, _hold.c.id)
    ).all()
    views = [_to_view(r, today) for r in rows]
    return tuple(sorted(views, key=lambda v: order.get(v.state, 4)))


@reads
def get_hold(conn: Connection, now: datetime, patron_id: int, hold_id: int) -> HoldView:
    return _patron_hold(conn, patron_id, hold_id, now)


@reads
def get_hold_form(conn: Connection, now: datetime, patron_id: int, work_id: int) -> HoldForm:
    work = conn.execute(select(_work.c.title).where(_work.c.id == work_id)).first()
    if work is None:
        raise WorkNotFound()
    copies = conn.execute(
        select(func.count()).select_from(_copies).where(_eligible(work_id))
    ).scalar_one()
    home = conn.execute(
        select(_branch.c.code)
        .select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
        .where(_patron.c.id == patron_id)
    ).scalar()
    row = conn.execute(
        _view_select().where(_hold.c.patron_id == patron_id, _hold.c.work_id == work_id)
    ).first()
    return HoldForm(
        work_id=work_id,
        title=work.title,
        copies=int(copies),
        home_branch_code=home or "",
        existing=_to_view(row, library_today(now)) if row is not None else None,
    )


def _check_reservable(
    conn: Connection, patron_id: int, work_id: int, copy_id: int | None = None
) -> None:
    """The rules of reserving, for `place_hold` and `restore_hold` alike: locks the patron
    row (the limit counts their reservations), then `copy_id` (a copy the reservation may
    take back), then the title (db.routing's lock order), and raises `HoldRefused`."""
    conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id).with_for_update())
    if copy_id is not None:
        routing.lock_item(conn, copy_id)
    if not routing.lock_work(conn, work_id):
        raise WorkNotFound()
    if conn.execute(
        select(_hold.c.id).where(_hold.c.patron_id == patron_id, _hold.c.work_id == work_id)
    ).first():
        raise AlreadyReserved()
    on_loan = conn.execute(
        select(_loan.c.id)
        .select_from(_loan.join(_item, _item.c.id == _loan.c.item_id))
        .where(_loan.c.patron_id == patron_id, _item.c.work_id == work_id)
        .limit(1)
    ).first()
    if on_loan is not None:
        raise OnLoanToYou()
    reservable = conn.execute(
        select(_item.c.id).select_from(_copies).where(_eligible(work_id)).limit(1)
    ).first()
    if reservable is None:
        raise NotReservable()
    limit = hold_limit()
    held = conn.execute(
        select(func.count()).select_from(_hold).where(_hold.c.patron_id == patron_id)
    ).scalar_one()
    if held >= limit:
        raise HoldLimitReached(limit)


@writes
def place_hold(
    conn: Connection, now: datetime, patron_id: int, work_id: int, pickup_code: str
) -> HoldView:
    """Reserve a title for pickup at a branch; `HoldRefused` says why not (limit, duplicate
    …). A double submit makes one reservation."""
    today = library_today(now)
    pickup_id = _branch_id(conn, pickup_code)
    _check_reservable(conn, patron_id, work_id)
    placed_at = routing.queue_place(conn, work_id, now)  # under the title's lock
    try:
        with conn.begin_nested():
            hold_id = conn.execute(
                _hold.insert()
                .values(
                    patron_id=patron_id,
                    work_id=work_id,
                    pickup_branch_id=pickup_id,
                    placed_at=placed_at,
                    state=WAITING,
                )
                .returning(_hold.c.id)
            ).scalar_one()
    except IntegrityError:
        # A double submit that slipped past the check above: one reservation stays.
        raise AlreadyReserved() from None
    bump(conn, today, pickup_id, "", PLACED)
    series.note_estimate(conn, int(hold_id), today, routing.shelf_days())
    pulling.fill(conn, work_id, now)  # a copy on the shelf goes on a pull list at once
    log.info("hold placed branch=%s", pickup_id)
    return _patron_hold(conn, patron_id, int(hold_id), now)


@writes
def cancel_hold(conn: Connection, now: datetime, patron_id: int, hold_id: int) -> str:
    """Delete the reservation; a copy set aside for it goes to the next in line. → title."""
    return _cancel(conn, now, patron_id, hold_id).title


@writes
def cancel_hold_undoably(
    conn: Connection, now: datetime, patron_id: int, hold_id: int
) -> CancelledHold:
    """`cancel_hold`, answering with what `restore_hold` needs to put it back."""
    return _cancel(conn, now, patron_id, hold_id)


def _cancel(conn: Connection, now: datetime, patron_id: int, hold_id: int) -> CancelledHold:
    today = library_today(now)
    hold = routing.locked_hold(conn, patron_id, hold_id)
    title = conn.execute(select(_work.c.title).where(_work.c.id == hold.work_id)).scalar_one()
    routing.release(conn, hold, now)
    bump(conn, today, hold.pickup_branch_id, "", CANCELLED)
    routing.offer_next_volumes(conn, hold.request_id, now)
    log.info("hold cancelled branch=%s", hold.pickup_branch_id)
    return CancelledHold(
        hold_id=int(hold.id),
        patron_id=patron_id,
        work_id=int(hold.work_id),
        title=str(title),
        pickup_branch_id=int(hold.pickup_branch_id),
        placed_at=hold.placed_at,
        suspended_until=hold.suspended_until,
        cancelled_at=now,
        undoable=hold.request_id is None,
        ready_item_id=hold.item_id if hold.state == READY else None,
        ready_until=hold.ready_until if hold.state == READY else None,
    )


@writes
def restore_hold(
    conn: Connection, now: datetime, patron_id: int, cancelled: CancelledHold
) -> HoldView:
    """Undo a cancellation within HOLD_UNDO_MINUTES: the reservation comes back waiting
    in its old place in the queue (its `placed_at`), with its pickup library and any
    suspension still ahead. A copy given to the next reader meanwhile stays theirs; one
    back on the shelf is pulled again. A reservation that was ready comes back ready, with
    the same copy and last pickup day and no new notice, while that copy is still where the
    cancellation left it (db.routing.back_on_hold_shelf: on the shelf of the pickup branch or
    setting off home, nobody else's): it never left, so nobody is sent to fetch it.
    Another patron's cancellation is `NotFound`; the rules of `place_hold`
    (`_check_reservable`) and a pickup library that still exists hold.
    A note works once (db.hold_undo): used already, it is `UndoUsed`, even if the
    reservation it put back was cancelled since."""
    if cancelled.patron_id != patron_id or not cancelled.undoable:
        raise HoldNotFound()
    if not hold_undo.in_time(cancelled.cancelled_at, now):
        raise UndoExpired()
    # First, so a used note says so whatever else changed; a refusal below rolls it back.
    if not hold_undo.use(conn, cancelled.hold_id, cancelled.cancelled_at):
        raise UndoUsed()
    today = library_today(now)
    # The pickup library must still exist (a console change may have removed it).
    pickup = select(_branch.c.id).where(_branch.c.id == cancelled.pickup_branch_id)
    if conn.execute(pickup).first() is None:
        raise UnknownBranch()
    copy_id = cancelled.ready_item_id if cancelled.ready_until is not None else None
    _check_reservable(conn, patron_id, cancelled.work_id, copy_id)
    ready = copy_id is not None and routing.back_on_hold_shelf(
        conn, copy_id, cancelled.work_id, cancelled.pickup_branch_id
    )
    values: dict[str, Any]
    if ready:
        values = {"state": READY, "item_id": copy_id, "ready_until": cancelled.ready_until}
    else:
        suspended = cancelled.suspended_until
        ahead = suspended if suspended and suspended > today else None
        values = {"state": WAITING, "suspended_until": ahead}
    try:
        with conn.begin_nested():
            hold_id = conn.execute(
                _hold.insert()
                .values(
                    patron_id=patron_id,
                    work_id=cancelled.work_id,
                    pickup_branch_id=cancelled.pickup_branch_id,
                    placed_at=cancelled.placed_at,
                    **values,
                )
                .returning(_hold.c.id)
            ).scalar_one()
    except IntegrityError:
        raise AlreadyReserved() from None
    # An undone cancellation is not a cancellation in the statistics.
    unbump(conn, library_today(cancelled.cancelled_at), cancelled.pickup_branch_id, "", CANCELLED)
    if not ready:
        series.note_estimate(conn, int(hold_id), today, routing.shelf_days())
        pulling.fill(conn, cancelled.work_id, now)
    log.info("hold restored branch=%s ready=%s", cancelled.pickup_branch_id, ready)
    return _patron_hold(conn, patron_id, int(hold_id), now)


@writes
def change_hold_pickup(
    conn: Connection, now: datetime, patron_id: int, hold_id: int, pickup_code: str
) -> HoldView:
    hold = routing.locked_hold(conn, patron_id, hold_id)
    if hold.state in (READY, series.KEPT):  # the copy is on that branch's hold shelf
        raise AlreadyReady()
    pickup_id = _branch_id(conn, pickup_code)
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(pickup_branch_id=pickup_id))
    if hold.state == pulling.PULLING:
        pulling.repick(conn, hold, pickup_id, now)
    return _patron_hold(conn, patron_id, hold_id, now)


@writes
def suspend_hold(
    conn: Connection, now: datetime, patron_id: int, hold_id: int, until: date
) -> HoldView:
    """休止: skip this reservation until `until` (it keeps its place in the queue)."""
    today = library_today(now)
    if not today < until <= today + timedelta(days=HOLD_MAX_SUSPEND_DAYS):
        raise BadSuspendDate()
    hold = routing.locked_hold(conn, patron_id, hold_id)
    if hold.item_id is not None:
        raise CannotSuspend()
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(suspended_until=until))
    return _patron_hold(conn, patron_id, hold_id, now)


@writes
def resume_hold(conn: Connection, now: datetime, patron_id: int, hold_id: int) -> HoldView:
    hold = routing.locked_hold(conn, patron_id, hold_id)
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(suspended_until=None))
    pulling.fill(conn, hold.work_id, now)
    return _patron_hold(conn, patron_id, hold_id, now)


def _notice_prefs(conn: Connection, patron_id: int) -> NoticePrefs:
    row = conn.execute(
        select(_patron.c.email, _pref.c.due_reminder_days)
        .select_from(_patron.outerjoin(_pref, _pref.c.patron_id == _patron.c.id))
        .where(_patron.c.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    return NoticePrefs(
        has_email=bool(row.email),
        hold_ready=notice_prefs.setting_of(conn, patron_id, notice_prefs.READY).email,
        due_reminder_days=row.due_reminder_days,
    )


@reads
def get_notice_prefs(conn: Connection, now: datetime, patron_id: int) -> NoticePrefs:
    return _notice_prefs(conn, patron_id)


@writes
def set_notice_prefs(
    conn: Connection, now: datetime, patron_id: int, hold_ready: bool, due_reminder_days: int | None
) -> NoticePrefs:
    if due_reminder_days is not None and due_reminder_days not in HOLD_REMINDER_DAYS:
        raise HoldRefused("choose_option")
    _notice_prefs(conn, patron_id)  # NotFound for a patron who is gone
    notice_prefs.set_reminder_days(conn, patron_id, due_reminder_days)
    ready = notice_prefs.setting_of(conn, patron_id, notice_prefs.READY)
    notice_prefs.set_setting(
        conn, patron_id, notice_prefs.READY, email=hold_ready, titles=ready.titles
    )
    return _notice_prefs(conn, patron_id)


# ---------------------------------------------------------------------------------------
# Counter side and the daily job
# ---------------------------------------------------------------------------------------


@writes
def receive_item(
    conn: Connection, now: datetime, barcode: str, at_branch_id: int | None = None
) -> Routing:
    """A copy in transit arrived at its pickup branch: the reservation becomes ready. One
    no reservation holds (it ended on the way, or the copy is going home) is routed from
    where it arrived (db.routing.route_item): the next reservation, else the shelf at home,
    else on its way home.

    With `at_branch_id` (the counter's branch) a copy that arrived somewhere else is refused
    with the branch it must go on to, and stays in transit."""
    item = conn.execute(
        select(_item.c.id, _item.c.status, _item.c.work_id, _item.c.branch_id)
        .where(_item.c.barcode == barcode.strip())
        .with_for_update()
    ).first()
    if item is None:
        raise NotFound("unknown_barcode")
    if item.status != rules.IN_TRANSIT:
        raise NotInTransit()
    routing.lock_work(conn, item.work_id)
    hold = conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id)
        .where(_hold.c.item_id == item.id)
        .with_for_update()
    ).first()
    if hold is None:
        here = at_branch_id if at_branch_id is not None else item.branch_id
        return routing.route_item(conn, item.id, item.work_id, here, now)
    if at_branch_id is not None and hold.pickup_branch_id != at_branch_id:
        raise HoldRefused(
            "wrong_pickup_branch", branch=routing.branch_names(conn, hold.pickup_branch_id)
        )
    routing.make_ready(conn, hold.id, item.id, now)
    return Routing(READY, routing.branch_names(conn, hold.pickup_branch_id))


@writes
def expire_holds(conn: Connection, now: datetime) -> int:
    """Delete ready reservations not collected in time; their copies go from the hold shelf
    to the next in line, or home (db.routing.route_item), as a cancelled one's do."""
    jobs.run_alone(conn, jobs.HOLDS_EXPIRE)
    today = library_today(now)
    due = conn.execute(
        select(_hold.c.id, _hold.c.item_id, _hold.c.work_id)
        .where(_hold.c.state == READY, _hold.c.ready_until < today)
        .order_by(_hold.c.id)
    ).all()
    expired = 0
    for candidate in due:
        if candidate.item_id is not None:
            routing.lock_item(conn, candidate.item_id)
        routing.lock_work(conn, candidate.work_id)
        series.lock_request_of(conn, candidate.id)
        hold = conn.execute(
            select(_hold)
            .where(_hold.c.id == candidate.id, _hold.c.state == READY, _hold.c.ready_until < today)
            .with_for_update()
        ).first()
        if hold is None:  # collected or cancelled meanwhile
            continue
        series.on_expired(conn, hold, today)
        routing.end_hold(conn, hold)
        bump(conn, today, hold.pickup_branch_id, "", EXPIRED)
        if hold.item_id is not None:
            routing.route_item(
                conn, hold.item_id, hold.work_id, hold.pickup_branch_id, now, off_shelf=True
            )
        expired += 1
        log.info("hold expired branch=%s", hold.pickup_branch_id)
    for hold_id, item_id in series.sets_to_deliver(conn, today):  # db.series: "together"
        routing.make_ready(conn, hold_id, item_id, now)
    return expired


@writes
def queue_due_reminders(conn: Connection, now: datetime) -> int:
    """Queue one due-date reminder per patron who asked for it, once per loan. → mails."""
    jobs.run_alone(conn, jobs.DUE_REMINDERS)
    return reminders.queue_due(conn, now)


@writes
def queue_overdue_notices(conn: Connection, now: datetime) -> int:
    """Queue one overdue notice per patron, once per loan (db.reminders). → mails."""
    jobs.run_alone(conn, jobs.OVERDUE_NOTICES)
    return reminders.queue_overdue(conn, now)


def run_daily_holds() -> HoldsDailyReport:
    """The daily job: expire uncollected reservations, then queue due-date reminders
    (two transactions: a failing reminder never keeps a copy on the shelf)."""
    expired = expire_holds()
    return HoldsDailyReport(
        expired=expired, reminders=queue_due_reminders(), overdue=queue_overdue_notices()
    )
