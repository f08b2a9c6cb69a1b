"""Copy routing: where a copy goes when it is returned, lent, released or received.

Shared by circulation (checkout, return: db.circulation) and the reservation queue
(cancel, expiry, receiving: db.queries.holds). Every function takes a `Connection` inside
the caller's writing transaction and the current time `now` (aware).

A copy free at a branch goes to the first eligible reservation of its title (`ORDER BY
placed_at, id`, suspended ones skipped): ready on the hold shelf at once when the pickup
branch is where the copy is, else in transit. With nobody to take it, it goes home: on the
shelf when it is free at its own branch (`item.branch_id`), else in transit there (received
at home, it is routed again from there). A copy returned at any branch, taken off a hold
shelf (its ready reservation cancelled by the patron or staff, expired, or purged with its
patron) or received after its reservation ended goes through `route_item` from the branch
it is at. A copy sent home straight off a hold shelf, with no counter scan, still lies on
that shelf: the copy records the branch (`item.left_on_shelf_branch_id`, shown on its pull
list) until its status changes again (`set_status`), a scan at a counter included. (A copy
already on a shelf when a reservation could take it goes on a pull list
instead: db.pulling.) Writes to a title's queue first lock its `work` row; the lock order
everywhere is patron, item, work, series request (db.series.lock_request), hold — so
concurrent counter and patron actions on PostgreSQL never deadlock. The one step against
that order, offering a copy to the next volumes of a series (another title) while holding
this one's locks, never waits for a lock (`offer_next_volumes`).

A reservation remembers its ready-for-pickup notice; `end_hold` (collected, cancelled,
expired, purged with its patron) withdraws it in the same transaction, so no queued mail
outlives its cause; `release` also passes the copy set aside for it on.

Logs name events and branches only, never patrons, items or titles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.engine import Connection

from db import calendar, clock, models, notice_prefs, outbox, pulling, rules, series
from db.clock import library_today
from db.counts import bump
from db.errors import NotFound
from db.localized import Localized

log = logging.getLogger(__name__)

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_item = _T["item"]
_work = _T["work"]
_branch = _T["branch"]
_mtype = _T["material_type"]
_patron = _T["patron"]

# Hold states
WAITING = "waiting"
IN_TRANSIT = "in_transit"
READY = "ready"

# Routing.state of a copy nobody waits for, free away from its own branch: in transit home.
GOING_HOME = "going_home"

FILLED = "hold_filled"  # daily_count events
CANCELLED = "hold_cancelled"  # ended unused: cancelled, or its patron purged

_shelf = {"days": 7}


def set_shelf_days(days: int) -> None:
    """Opening days of the pickup branch a ready copy waits on the hold shelf
    (SHIORI_HOLD_SHELF_DAYS, validated)."""
    _shelf["days"] = days


def shelf_days() -> int:
    return _shelf["days"]


@dataclass(frozen=True)
class Routing:
    """Where a returned or released copy goes next (for the counter): no patron data."""

    state: str  # "available", "in_transit", "ready", "going_home"
    branch: Localized | None = None  # the pickup branch; going home: the copy's own branch


def lock_work(conn: Connection, work_id: int, *, skip_locked: bool = False) -> bool:
    """Serialise writes to one title's queue (PostgreSQL row lock; SQLite is IMMEDIATE).
    `skip_locked`: False at once when another transaction holds it (never waits)."""
    found = conn.execute(
        select(_work.c.id).where(_work.c.id == work_id).with_for_update(skip_locked=skip_locked)
    ).first()
    return found is not None


def queue_place(conn: Connection, work_id: int, now: datetime) -> datetime:
    """The `placed_at` of a new reservation of a title, given under its `lock_work`: `now`
    was read before the lock, so a request that read its clock earlier may only now reach
    the queue; it goes after everyone already in it (ties: the id, also given under the
    lock)."""
    latest = conn.execute(
        select(func.max(_hold.c.placed_at)).where(_hold.c.work_id == work_id)
    ).scalar()
    placed_at = clock.aware_utc(now)
    if latest is not None:
        placed_at = max(placed_at, clock.aware_utc(latest))
    return placed_at


def lock_item(conn: Connection, item_id: int) -> None:
    conn.execute(select(_item.c.id).where(_item.c.id == item_id).with_for_update()).first()


class HoldNotFound(NotFound):
    code = "hold_not_found"


class WorkNotFound(NotFound):
    code = "work_not_found"


def locked_hold(conn: Connection, patron_id: int, hold_id: int) -> Row[Any]:
    """The patron's hold, locked with its copy and title. Another patron's → HoldNotFound.

    The lock order of this module (patron, item, work, series request, hold), so concurrent
    counter and patron actions on PostgreSQL never deadlock; a hold whose copy changed
    meanwhile is read again.
    """
    for _attempt in range(3):
        row = conn.execute(
            select(_hold.c.work_id, _hold.c.item_id).where(
                _hold.c.id == hold_id, _hold.c.patron_id == patron_id
            )
        ).first()
        if row is None:
            raise HoldNotFound()
        if row.item_id is not None:
            lock_item(conn, row.item_id)
        if not lock_work(conn, row.work_id):
            raise HoldNotFound()
        series.lock_request_of(conn, hold_id)  # a series volume: its request, then the hold
        locked = conn.execute(
            select(_hold)
            .where(_hold.c.id == hold_id, _hold.c.patron_id == patron_id)
            .with_for_update()
        ).first()
        if locked is None:  # cancelled meanwhile
            raise HoldNotFound()
        if locked.item_id is None or locked.item_id == row.item_id:
            return locked
    raise HoldNotFound()  # pragma: no cover - the copy kept changing under us


def set_status(
    conn: Connection, item_id: int, status: str, *, left_on_shelf_at: int | None = None
) -> None:
    """Write a copy's status. `left_on_shelf_at`: the branch whose hold shelf a copy going
    home without a scan still lies on (`_home`); any other write clears it."""
    conn.execute(
        _item.update()
        .where(_item.c.id == item_id)
        .values(status=status, left_on_shelf_branch_id=left_on_shelf_at)
    )


def branch_names(conn: Connection, branch_id: int) -> Localized:
    row = conn.execute(select(_branch.c.names).where(_branch.c.id == branch_id)).one()
    return Localized.of(row.names)


def _notify_ready(conn: Connection, hold_id: int, until: date, now: datetime) -> int | None:
    """Queue the ready-for-pickup mail (pickup by `until`) in this transaction, unless the
    patron turned it off (db.notice_prefs); it names the title only if they asked for it.
    → the mail's id, for the caller's one update of the hold row."""
    row = conn.execute(
        select(
            _hold.c.patron_id,
            _patron.c.email,
            _patron.c.lang,
            notice_prefs.mailed(notice_prefs.READY, _patron.c.id).label("mailed"),
            notice_prefs.titles_wanted(notice_prefs.READY, _patron.c.id).label("titles"),
            _work.c.title,
            _branch.c.code,
        )
        .select_from(
            _hold.join(_patron, _patron.c.id == _hold.c.patron_id)
            .join(_work, _work.c.id == _hold.c.work_id)
            .join(_branch, _branch.c.id == _hold.c.pickup_branch_id)
        )
        .where(_hold.c.id == hold_id)
    ).one()
    if not row.email or not row.mailed:
        return None
    params: dict[str, object] = {"count": 1, "branch": row.code, "until": until.isoformat()}
    if row.titles:
        params["title"] = row.title
    return outbox.enqueue_notice(
        conn,
        kind="hold_ready",
        to_addr=row.email,
        patron_id=row.patron_id,
        lang=row.lang,
        params=params,
        now=now,
    )


def end_hold(conn: Connection, hold: Row[Any]) -> None:
    """Delete a reservation (collected, cancelled, expired) and withdraw its notice with it:
    no queued mail may name a title for a reservation that is gone."""
    conn.execute(_hold.delete().where(_hold.c.id == hold.id))
    series.forget_if_empty(conn, hold.request_id)
    if hold.notice_mail_id is not None:
        c = outbox.mail_outbox.c
        outbox.withdraw(conn, and_(c.id == hold.notice_mail_id, c.kind == "hold_ready"))


def release(conn: Connection, hold: Row[Any], now: datetime) -> None:
    """End a reservation nobody collected (cancelled, its patron purged): its notice is
    withdrawn and a copy set aside for it goes to the next in line, or back. The caller
    has locked the copy, the title and the hold row, in that order."""
    end_hold(conn, hold)
    if hold.item_id is not None:
        reroute(conn, hold.item_id, hold.work_id, hold, now)


def _shelf_deadline(conn: Connection, hold_id: int, now: datetime) -> date:
    """The last day a ready copy waits: `_shelf["days"]` days its pickup branch is open."""
    pickup = conn.execute(
        select(_hold.c.pickup_branch_id).where(_hold.c.id == hold_id)
    ).scalar_one()
    return calendar.add_open_days(conn, pickup, library_today(now), _shelf["days"])


def make_ready(conn: Connection, hold_id: int, item_id: int, now: datetime) -> None:
    until = _shelf_deadline(conn, hold_id, now)
    if series.keep(conn, hold_id, item_id, until):  # a "together" set is not complete yet
        return
    set_status(conn, item_id, rules.ON_HOLD_SHELF)
    # Kept copies are on the hold shelf already: their rows are neither touched nor locked
    # (a patron cancelling one holds its lock), and each hold row is updated once: a second
    # update in one transaction would re-check its foreign keys, waiting for that copy.
    for hid, iid in ((hold_id, item_id), *series.kept_with(conn, hold_id)):
        until = _shelf_deadline(conn, hid, now)
        values: dict[str, Any] = {"state": READY, "item_id": iid, "ready_until": until}
        mail_id = _notify_ready(conn, hid, until, now)
        if mail_id is not None:
            values["notice_mail_id"] = mail_id
        conn.execute(_hold.update().where(_hold.c.id == hid).values(**values))


def _next_hold(conn: Connection, work_id: int, today: date) -> Any:
    """The reservation that takes a freed copy (the caller assigns it): db.series says who
    is eligible (not suspended, not stepping back, not a held-back volume) and in what
    order."""
    nxt = conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id, _hold.c.placed_at)
        .where(_hold.c.work_id == work_id, _hold.c.item_id.is_(None), series.eligible(_hold, today))
        .order_by(*series.queue_order(_hold))
        .limit(1)
        .with_for_update()
    ).first()
    if nxt is not None:
        series.passed(conn, work_id, nxt, today)
    return nxt


def route_item(
    conn: Connection,
    item_id: int,
    work_id: int,
    at_branch_id: int,
    now: datetime,
    *,
    off_shelf: bool = False,
) -> Routing:
    """Give a copy that is free at `at_branch_id` to the first eligible reservation.

    Ready at once when the pickup branch is where the copy is, else in transit. With nobody
    eligible the copy goes home (`_home`). `off_shelf`: freed off that branch's hold shelf
    with no scan (a reservation ended), so it still lies there. The caller has locked the
    item row.
    """
    today = library_today(now)
    reservable = conn.execute(
        select(_mtype.c.reservable)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(_item.c.id == item_id)
    ).scalar()
    if not reservable or not lock_work(conn, work_id):
        return _home(conn, item_id, at_branch_id, off_shelf)
    nxt = _next_hold(conn, work_id, today)
    if nxt is None:
        return _home(conn, item_id, at_branch_id, off_shelf)
    names = branch_names(conn, nxt.pickup_branch_id)
    if nxt.pickup_branch_id == at_branch_id:
        make_ready(conn, nxt.id, item_id, now)
        log.info("hold ready branch=%s", nxt.pickup_branch_id)
        return Routing(READY, names)
    to_transit(conn, nxt.id, item_id)
    log.info("hold in transit to branch=%s", nxt.pickup_branch_id)
    return Routing(IN_TRANSIT, names)


def _home_status(conn: Connection, item_id: int, at_branch_id: int) -> tuple[str, int]:
    """(status, own branch) of a copy nobody waits for, free at `at_branch_id`: `available`
    at its own branch, else `in_transit` home."""
    home = int(conn.execute(select(_item.c.branch_id).where(_item.c.id == item_id)).scalar_one())
    return (rules.AVAILABLE if home == at_branch_id else rules.IN_TRANSIT), home


def _home(conn: Connection, item_id: int, at_branch_id: int, off_shelf: bool) -> Routing:
    """Nobody waits for the copy free at `at_branch_id`: on the shelf there if that is its
    own branch, else in transit home — never `available` at a branch it is not at. One sent
    home `off_shelf` records the hold shelf it still lies on, for that branch's pull list."""
    status, home = _home_status(conn, item_id, at_branch_id)
    going_off_shelf = off_shelf and status == rules.IN_TRANSIT
    set_status(conn, item_id, status, left_on_shelf_at=at_branch_id if going_off_shelf else None)
    if status == rules.AVAILABLE:
        return Routing(rules.AVAILABLE)
    log.info("in transit home branch=%s to=%s", at_branch_id, home)
    return Routing(GOING_HOME, branch_names(conn, home))


def back_on_hold_shelf(conn: Connection, item_id: int, work_id: int, pickup_branch_id: int) -> bool:
    """A copy cancelled off `pickup_branch_id`'s hold shelf a moment ago (an undo,
    db.queries.holds.restore_hold): if it is still where the cancellation left it (`_home`
    from there: available on its own branch's shelf, or going home but still on that hold
    shelf, not scanned since) and no reservation took it, it is on the hold shelf again
    (True) and the caller gives it back to its reservation. The caller locked the copy, then
    the title."""
    row = conn.execute(select(_item.c.work_id).where(_item.c.id == item_id)).first()
    if row is None or row.work_id != work_id or held_for(conn, item_id) is not None:
        return False
    left = _home_status(conn, item_id, pickup_branch_id)[0]
    where = [_item.c.id == item_id, _item.c.status == left]
    if left == rules.IN_TRANSIT:
        where.append(_item.c.left_on_shelf_branch_id == pickup_branch_id)
    taken = conn.execute(
        _item.update()
        .where(*where)
        .values(status=rules.ON_HOLD_SHELF, left_on_shelf_branch_id=None)
    )
    return bool(taken.rowcount)


def found(
    conn: Connection, item_id: int, work_id: int, at_branch_id: int, now: datetime
) -> Routing:
    """A copy on a pull list (`to_pull`) is in staff's hands at `at_branch_id` — scanned on
    the list, or at the counter's return: it goes on the hold shelf there for its
    reservation (the ready notice is queued) or in transit to the pickup branch. With its
    reservation gone, the next one or the shelf. The caller locked the item."""
    lock_work(conn, work_id)
    hold = conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id)
        .where(_hold.c.item_id == item_id)
        .with_for_update()
    ).first()
    if hold is None:
        return route_item(conn, item_id, work_id, at_branch_id, now)
    names = branch_names(conn, hold.pickup_branch_id)
    if hold.pickup_branch_id == at_branch_id:
        make_ready(conn, hold.id, item_id, now)
        log.info("pulled to hold shelf branch=%s", at_branch_id)
        return Routing(READY, names)
    to_transit(conn, hold.id, item_id)
    log.info("pulled for transit branch=%s to=%s", at_branch_id, hold.pickup_branch_id)
    return Routing(IN_TRANSIT, names)


def to_transit(conn: Connection, hold_id: int, item_id: int) -> None:
    """The copy travels to the reservation's pickup branch (received there: make_ready)."""
    conn.execute(
        _hold.update().where(_hold.c.id == hold_id).values(state=IN_TRANSIT, item_id=item_id)
    )
    set_status(conn, item_id, rules.IN_TRANSIT)


def reroute(conn: Connection, item_id: int, work_id: int, old: Row[Any], now: datetime) -> None:
    """A copy set aside for a reservation that ended: to the next in line, or back (off the
    hold shelf of `old`'s pickup branch, with no scan)."""
    item = conn.execute(
        select(_item.c.id, _item.c.status).where(_item.c.id == item_id).with_for_update()
    ).one()
    if item.status == rules.IN_TRANSIT:
        # Still travelling: the next reservation takes it wherever it goes.
        nxt = _next_hold(conn, work_id, library_today(now))
        if nxt is not None:
            to_transit(conn, nxt.id, item_id)
        return  # with nobody waiting, receiving it routes it from there (home, or the shelf)
    if item.status == rules.TO_PULL:
        pulling.release(conn, item_id, work_id, now)  # still on its shelf, never taken off
        return
    route_item(conn, item_id, work_id, old.pickup_branch_id, now, off_shelf=True)


def on_checkout(
    conn: Connection, patron_id: int, item_id: int, work_id: int, now: datetime
) -> None:
    """The patron borrowed a copy of a title they reserved: the reservation is fulfilled.

    If a different copy had been set aside for them, it goes to the next in line.
    """
    if (
        conn.execute(
            select(_hold.c.id).where(_hold.c.patron_id == patron_id, _hold.c.work_id == work_id)
        ).first()
        is None
    ):
        return
    lock_work(conn, work_id)
    found = conn.execute(
        select(_hold.c.id).where(_hold.c.patron_id == patron_id, _hold.c.work_id == work_id)
    ).scalar()
    if found is None:
        return
    series.lock_request_of(conn, found)
    hold = conn.execute(select(_hold).where(_hold.c.id == found).with_for_update()).first()
    if hold is None:
        return
    end_hold(conn, hold)
    bump(conn, library_today(now), hold.pickup_branch_id, "", FILLED)
    if hold.item_id is not None and hold.item_id != item_id:
        reroute(conn, hold.item_id, work_id, hold, now)
    offer_next_volumes(conn, hold.request_id, now)
    log.info("hold filled branch=%s", hold.pickup_branch_id)


def held_for(conn: Connection, item_id: int) -> int | None:
    """The patron a copy on the hold shelf (or in transit) is set aside for."""
    found = conn.execute(select(_hold.c.patron_id).where(_hold.c.item_id == item_id)).scalar()
    return int(found) if found is not None else None


def offer_next_volumes(conn: Connection, request_id: int | None, now: datetime) -> None:
    """Series volumes no longer held back (an earlier one collected or cancelled, or the
    request resumed) take a copy on a shelf now, through its pull list (db.pulling); a
    "together" set whose other volumes are all kept becomes ready."""
    for hold_id, item_id in series.complete_set(conn, request_id):
        make_ready(conn, hold_id, item_id, now)
    for work_id in series.next_volumes(conn, request_id, library_today(now)):
        # Another title, locked out of order: never wait for it (two patrons reserving
        # [W1, W2] and [W2, W1] would deadlock). A title busy now is served by its own
        # transaction's routing, the next copy returned, or the daily refill.
        if lock_work(conn, work_id, skip_locked=True):
            pulling.fill(conn, work_id, now)
        else:
            log.info("next volume skipped: title busy")
