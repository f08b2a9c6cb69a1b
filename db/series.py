"""Series reservations (シリーズ予約), stepping back (予約順位の繰下げ) and the estimate
window: the queue mechanics shared by db.routing and the query modules.

Every function takes a `Connection` inside the caller's writing (or reading) transaction.
This module never imports db.routing (routing calls it), so it only decides and marks;
routing moves copies.

**A series request** (`hold_request`) is several ordinary holds placed as one request, each
with its `sequence` (1, 2, 3 … in the order the patron listed them). Every volume keeps its
own place in its title's queue: positions stay derived (`ORDER BY placed_at, id`), never
stored, and held-back volumes count in positions like suspended ones do.

- `in_order` (順番に): a volume is *held back* — skipped when a copy of its title is freed,
  so the next reader in that queue gets it — while any earlier volume of the request is
  still reserved (waiting, on a pull list, in transit or on the hold shelf). Collecting
  an earlier volume (checkout to the patron) ends its hold, so the next volume becomes
  eligible at once: a copy on a shelf goes on a pull list for it (db.pulling), else it
  takes the next copy returned.
  Cancelling a volume releases the next one the same way; cancelling the request ends all
  its volumes. A volume that *expires* uncollected ends like any expired hold, and the
  request is *paused* (`paused_on`): the later volumes keep their places but are held
  back until the patron chooses "continue the series" (or cancels) — a patron who did not
  come for volume 1 is not sent volume 2.
- `together` (まとめて): a volume whose copy comes in is *kept* (state `kept`: on the hold
  shelf, set aside for the patron, no notice, no pickup deadline yet) until every volume
  of the request has a copy; then all become ready at once with one pickup deadline and
  their notices. So that nobody else waits without bound, a kept copy waits at most the
  hold-shelf days (`ready_until` holds that deadline while kept): after it the request is
  *released* (`released_on`): the kept copies become ready now and later volumes are
  delivered as each comes in. A cancelled volume leaves the set; when the others are all
  kept they become ready at once.

**Stepping back** (繰下げ) never loses the reservation or its place:
- once (`step_back_passes` = 1): the next copy goes to the next eligible reader behind;
  the patron is first again for the copy after that. A ready or in-transit copy given up
  this way goes to the next in line at once. With nobody else eligible, the patron still
  gets the copy (stepping back never leaves a copy idle on the shelf).
- for N days (`step_back_until`): skipped like a suspension until that date, and a copy
  already set aside goes to the next in line.

**The estimate** is a window from db.estimate, derived each time. The patron's page says
when it changed and why by comparing it with a memo of the last window the patron saw
acknowledged (`est_from`, `est_to`, `est_ahead`, `est_on` on the hold, written when the hold
is placed and when the patron marks it read — never on a page view). The memo holds no one
else's data: only dates and a count, deleted with the hold.

Logs name events and branches only, never patrons, items or titles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, or_, select
from sqlalchemy.engine import Connection

from db import calendar, estimate, loan_rules, models, rules

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_request = _T["hold_request"]
_item = _T["item"]
_mtype = _T["material_type"]
_loan = _T["loan"]
_patron = _T["patron"]

IN_ORDER = "in_order"
TOGETHER = "together"
MODES = (IN_ORDER, TOGETHER)
KEPT = "kept"  # hold state: a together volume's copy set aside until the set is complete


def eligible(h: Any, today: date) -> ColumnElement[bool]:
    """A waiting hold of table (or alias) `h` that may take a freed copy now: not
    suspended, not stepping back for some days, not a held-back volume of a series."""
    req = _request.alias("series_req")
    earlier = _hold.alias("series_earlier")
    paused = (
        select(req.c.id)
        .where(req.c.id == h.c.request_id, req.c.mode == IN_ORDER, req.c.paused_on.is_not(None))
        .exists()
    )
    before = (
        select(earlier.c.id)
        .select_from(earlier.join(req, req.c.id == earlier.c.request_id))
        .where(
            earlier.c.request_id == h.c.request_id,
            earlier.c.sequence < h.c.sequence,
            req.c.mode == IN_ORDER,
        )
        .exists()
    )
    held_back = or_(paused, before)
    return and_(
        or_(h.c.suspended_until.is_(None), h.c.suspended_until <= today),
        or_(h.c.step_back_until.is_(None), h.c.step_back_until <= today),
        ~held_back,
    )


def queue_order(h: Any) -> tuple[ColumnElement[Any], ...]:
    """Who among the eligible gets a copy first: those stepping back once go last."""
    return (case((h.c.step_back_passes > 0, 1), else_=0), h.c.placed_at, h.c.id)


def passed(conn: Connection, work_id: int, taker: Any, today: date) -> None:
    """`taker` got a copy: each eligible reader ahead of it who was stepping back has now
    let one copy pass; the taker's own passes (nobody else was eligible) are spent."""
    ahead = or_(
        _hold.c.placed_at < taker.placed_at,
        and_(_hold.c.placed_at == taker.placed_at, _hold.c.id < taker.id),
    )
    conn.execute(
        _hold.update()
        .where(
            _hold.c.work_id == work_id,
            _hold.c.item_id.is_(None),
            _hold.c.step_back_passes > 0,
            _hold.c.id != taker.id,
            ahead,
            eligible(_hold, today),
        )
        .values(step_back_passes=_hold.c.step_back_passes - 1)
    )
    conn.execute(
        _hold.update()
        .where(_hold.c.id == taker.id, _hold.c.step_back_passes > 0)
        .values(step_back_passes=0)
    )


# --- together ---------------------------------------------------------------------------


def lock_request(conn: Connection, request_id: int | None) -> None:
    """Serialise changes to one request's volumes (PostgreSQL row lock; SQLite is
    IMMEDIATE): taken after the copy and title locks and before a volume's hold row is
    locked or read for a decision (db.routing's lock order), so two volumes arriving at once,
    or a volume cancelled while another arrives, are decided one after the other."""
    if request_id is not None:
        conn.execute(
            select(_request.c.id).where(_request.c.id == request_id).with_for_update()
        ).first()


def lock_request_of(conn: Connection, hold_id: int) -> None:
    """`lock_request` for the request of a hold (none for a plain reservation)."""
    lock_request(
        conn, conn.execute(select(_hold.c.request_id).where(_hold.c.id == hold_id)).scalar()
    )


def keep(conn: Connection, hold_id: int, item_id: int, until: date) -> bool:
    """A copy came in for `hold_id`. If it is a volume of an unreleased `together` request
    and another volume has no copy in yet, set the copy aside (kept until `until` at the
    latest) and say so; else the caller makes it ready (with any kept siblings)."""
    lock_request_of(conn, hold_id)  # then read the siblings as they are now
    row = conn.execute(
        select(_hold.c.request_id, _request.c.mode, _request.c.released_on)
        .select_from(_hold.join(_request, _request.c.id == _hold.c.request_id))
        .where(_hold.c.id == hold_id)
    ).first()
    if row is None or row.mode != TOGETHER or row.released_on is not None:
        return False
    missing = conn.execute(
        select(_hold.c.id)
        .where(_hold.c.request_id == row.request_id, _hold.c.id != hold_id, _hold.c.state != KEPT)
        .limit(1)
    ).first()
    if missing is None:
        return False
    conn.execute(
        _hold.update()
        .where(_hold.c.id == hold_id)
        .values(state=KEPT, item_id=item_id, ready_until=until)
    )
    conn.execute(
        _item.update()  # as db.routing.set_status (which imports this module)
        .where(_item.c.id == item_id)
        .values(status=rules.ON_HOLD_SHELF, left_on_shelf_branch_id=None)
    )
    return True


def kept_with(conn: Connection, hold_id: int) -> list[tuple[int, int]]:
    """The (hold, copy) pairs kept for the other volumes of `hold_id`'s request."""
    lock_request_of(conn, hold_id)
    sibling = _hold.alias("sibling")
    rows = conn.execute(
        select(sibling.c.id, sibling.c.item_id)
        .select_from(_hold.join(sibling, sibling.c.request_id == _hold.c.request_id))
        .where(_hold.c.id == hold_id, sibling.c.id != hold_id, sibling.c.state == KEPT)
        .order_by(sibling.c.sequence, sibling.c.id)
    ).all()
    return [(int(r.id), int(r.item_id)) for r in rows]


def sets_to_deliver(conn: Connection, today: date) -> list[tuple[int, int]]:
    """For the daily run: one kept (hold, copy) per together request whose set is complete
    (a volume left it) or whose kept copy waited past its deadline — the latter request is
    released. Making that one ready makes its kept siblings ready too (db.routing)."""
    rows = conn.execute(
        select(_hold.c.request_id, _hold.c.id, _hold.c.item_id, _hold.c.ready_until)
        .where(_hold.c.state == KEPT)
        .order_by(_hold.c.request_id, _hold.c.sequence, _hold.c.id)
    ).all()
    chosen: dict[int, tuple[int, int]] = {}
    overdue: set[int] = set()
    for r in rows:
        chosen.setdefault(r.request_id, (int(r.id), int(r.item_id)))
        if r.ready_until is not None and r.ready_until < today:
            overdue.add(r.request_id)
    out: list[tuple[int, int]] = []
    for request_id, pair in chosen.items():
        waiting = conn.execute(
            select(_hold.c.id)
            .where(_hold.c.request_id == request_id, _hold.c.state != KEPT)
            .limit(1)
        ).first()
        if request_id in overdue and waiting is not None:
            conn.execute(
                _request.update().where(_request.c.id == request_id).values(released_on=today)
            )
        if request_id in overdue or waiting is None:
            out.append(pair)
    return out


# --- in order ---------------------------------------------------------------------------


def on_expired(conn: Connection, hold: Row[Any], today: date) -> None:
    """A ready volume expired uncollected: pause its in-order request (later volumes wait
    for the patron to continue the series)."""
    if hold.request_id is None:
        return
    conn.execute(
        _request.update()
        .where(_request.c.id == hold.request_id, _request.c.mode == IN_ORDER)
        .values(paused_on=today)
    )


def next_volumes(conn: Connection, request_id: int | None, today: date) -> list[int]:
    """Titles of a request's waiting volumes that may take a copy now (after an earlier
    volume was collected or cancelled, or the request resumed): for routing to offer a
    copy on a shelf (the pull list, db.pulling)."""
    if request_id is None:
        return []
    rows = conn.execute(
        select(_hold.c.work_id)
        .where(_hold.c.request_id == request_id, _hold.c.item_id.is_(None), eligible(_hold, today))
        .order_by(_hold.c.sequence)
    ).all()
    return [int(r.work_id) for r in rows]


def complete_set(conn: Connection, request_id: int | None) -> list[tuple[int, int]]:
    """One kept (hold, copy) of a together request whose other volumes are all kept (a
    volume left the set): making it ready makes the whole set ready."""
    if request_id is None:
        return []
    lock_request(conn, request_id)
    missing = conn.execute(
        select(_hold.c.id).where(_hold.c.request_id == request_id, _hold.c.state != KEPT).limit(1)
    ).first()
    if missing is not None:
        return []
    rows = conn.execute(
        select(_hold.c.id, _hold.c.item_id)
        .where(_hold.c.request_id == request_id, _hold.c.state == KEPT)
        .order_by(_hold.c.sequence, _hold.c.id)
        .limit(1)
    ).all()
    return [(int(r.id), int(r.item_id)) for r in rows]


def forget_if_empty(conn: Connection, request_id: int | None) -> None:
    """A request exists only while one of its holds does."""
    if request_id is None:
        return
    conn.execute(
        _request.delete().where(
            _request.c.id == request_id,
            ~select(_hold.c.id).where(_hold.c.request_id == request_id).exists(),
        )
    )


# --- the estimate -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A waiting hold's estimate: the window and how many eligible readers are ahead."""

    first: date | None
    last: date | None
    ahead: int


def window(conn: Connection, hold_id: int, today: date, shelf_days: int) -> Window:
    """The estimate window of one waiting hold, from the title's copies and queue now.

    Each reader ahead keeps a copy for the loan period of their own loan rule (category ×
    material type, db.loan_rules) — the longest over the title's copy types, since which
    copy they get is not known; so does the reader a copy is set aside for."""
    hold = conn.execute(
        select(_hold.c.id, _hold.c.work_id, _hold.c.placed_at, _hold.c.pickup_branch_id).where(
            _hold.c.id == hold_id
        )
    ).one()
    ahead_holds = _hold.alias("ahead")
    ahead_categories = list(
        conn.execute(
            select(_patron.c.category)
            .select_from(ahead_holds.join(_patron, _patron.c.id == ahead_holds.c.patron_id))
            .where(
                ahead_holds.c.work_id == hold.work_id,
                ahead_holds.c.item_id.is_(None),
                or_(
                    ahead_holds.c.placed_at < hold.placed_at,
                    and_(ahead_holds.c.placed_at == hold.placed_at, ahead_holds.c.id < hold.id),
                ),
                eligible(ahead_holds, today),
            )
            .order_by(ahead_holds.c.placed_at, ahead_holds.c.id)
        ).scalars()
    )
    ahead = len(ahead_categories)
    copies = conn.execute(
        select(
            _item.c.status,
            _item.c.material_type,
            _mtype.c.loan_days,
            _loan.c.due_on,
            _hold.c.state.label("held_state"),
            _hold.c.ready_until,
            _patron.c.category.label("held_for"),
        )
        .select_from(
            _item.join(_mtype, _mtype.c.code == _item.c.material_type)
            .outerjoin(_loan, _loan.c.item_id == _item.c.id)
            .outerjoin(_hold, _hold.c.item_id == _item.c.id)
            .outerjoin(_patron, _patron.c.id == _hold.c.patron_id)
        )
        .where(
            _item.c.work_id == hold.work_id,
            _mtype.c.reservable.is_(True),
            _mtype.c.loan_days > 0,
            _item.c.status != rules.MISSING,
        )
    ).all()
    types = sorted({str(c.material_type) for c in copies})
    periods: dict[str, int] = {}

    def period(category: str) -> int:
        """A reader's loan period for this title: the longest their rules give its copies."""
        if category not in periods:
            periods[category] = max(
                (loan_rules.rule_for(conn, category, t).loan_days for t in types), default=0
            )
        return periods[category]

    frees = [
        _free(c, today, shelf_days, period(c.held_for) if c.held_for else None) for c in copies
    ]
    loan_days = max((int(c.loan_days) for c in copies), default=0)
    found = estimate.estimate_window(
        today, frees, ahead, loan_days, shelf_days, tuple(period(c) for c in ahead_categories)
    )
    if found is None:
        return Window(first=None, last=None, ahead=ahead)
    # A copy is ready for collection only on a day the pickup branch is open.
    first, last = (calendar.next_open_day(conn, hold.pickup_branch_id, d) for d in found)
    return Window(first=first, last=last, ahead=ahead)


def _free(copy: Any, today: date, shelf_days: int, holder_days: int | None) -> estimate.CopyFree:
    loan = timedelta(days=int(copy.loan_days if holder_days is None else holder_days))
    if copy.due_on is not None:
        return estimate.CopyFree(copy.due_on, copy.due_on)
    if copy.held_state is not None:  # set aside for a reader ahead, who then borrows it
        deadline = copy.ready_until or today + timedelta(days=estimate.TRANSIT_DAYS + shelf_days)
        return estimate.CopyFree(today + loan, deadline + loan)
    return estimate.CopyFree(today, today)


def shown_window(conn: Connection, hold_id: int, today: date, shelf_days: int) -> Window:
    """The window the patron's page shows for a waiting hold, and the one the memo notes
    (so the two compare like with like): the title's window (`window`), but not before a
    step back for some days ends, and for an in-order volume not before the volume before
    it can be collected (it is held back until then)."""
    hold = conn.execute(
        select(
            _hold.c.request_id,
            _hold.c.sequence,
            _hold.c.step_back_until,
            _hold.c.pickup_branch_id,
            _request.c.mode,
        )
        .select_from(_hold.outerjoin(_request, _request.c.id == _hold.c.request_id))
        .where(_hold.c.id == hold_id)
    ).one()
    w = window(conn, hold_id, today, shelf_days)
    if w.first is None or w.last is None:
        return w
    floors: list[tuple[date, date]] = []
    if hold.step_back_until is not None and hold.step_back_until > today:
        floors.append((hold.step_back_until, hold.step_back_until))
    if hold.mode == IN_ORDER:
        before = conn.execute(
            select(_hold.c.id, _hold.c.item_id, _hold.c.ready_until)
            .where(_hold.c.request_id == hold.request_id, _hold.c.sequence < hold.sequence)
            .order_by(_hold.c.sequence.desc())
            .limit(1)
        ).first()
        if before is not None:
            prev = _collectable(conn, before, today, shelf_days)
            if prev is None:  # the volume before cannot be estimated: nor can this one
                return Window(first=None, last=None, ahead=w.ahead)
            floors.append(prev)
    if not floors:
        return w
    first = max(w.first, *(f for f, _ in floors))
    last = max(w.last, first, *(t for _, t in floors))
    first, last = (calendar.next_open_day(conn, hold.pickup_branch_id, d) for d in (first, last))
    return Window(first=first, last=last, ahead=w.ahead)


def _collectable(
    conn: Connection, hold: Any, today: date, shelf_days: int
) -> tuple[date, date] | None:
    """When an earlier volume can be collected: its shown window while it waits; from today
    to its pickup deadline once a copy is set aside (taken off the shelf or travelling:
    the transit and hold-shelf days)."""
    if hold.item_id is None:
        w = shown_window(conn, hold.id, today, shelf_days)
        return (w.first, w.last) if w.first is not None and w.last is not None else None
    if hold.ready_until is not None:
        return today, hold.ready_until
    return today, today + timedelta(days=estimate.TRANSIT_DAYS + shelf_days)


def note_estimate(conn: Connection, hold_id: int, today: date, shelf_days: int) -> None:
    """Remember the window the patron is shown now, to say later if and why it changed."""
    w = shown_window(conn, hold_id, today, shelf_days)
    conn.execute(
        _hold.update()
        .where(_hold.c.id == hold_id)
        .values(est_from=w.first, est_to=w.last, est_ahead=w.ahead, est_on=today)
    )
