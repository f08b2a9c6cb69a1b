"""The pull list (予約資料の抜き取りリスト): copies on the shelf promised to reservations.

Without it a reservation on a title whose copy sits on the shelf would wait forever: copies
reach reservations only when they are returned or released (db.routing).

The state needs no table of its own. A reservation that a copy on the shelf can satisfy is
given that copy at once: `hold.item_id` is set (unique, so a copy is never promised to two
reservations) and the hold's state is `pulling`; the copy's status becomes `to_pull`
(db.rules.TO_PULL), so it is no longer "on the shelf" for the catalogue, and the counter
refuses to lend it to anyone but the patron it is promised to. A branch's pull list is its
copies in `to_pull`, each with the pickup branch of its reservation: on the hold shelf here,
or in transit to that branch. The list needs and shows nothing personal.

Which copy: a copy of a reservable, lendable material type (`serves_holds`) with status
`available`; one at the pickup branch when there is one, else the lowest-numbered copy of
any branch (it will travel). Reservations are served in queue order (`ORDER BY placed_at,
id`), suspended ones, held-back series volumes and readers stepping back skipped
(db.series), as db.routing does for returned copies.

When: `fill` runs, with the title's `work` row locked, after a reservation is placed or
resumed, after a copy promised to one is released (db.routing.reroute) or reported not on
the shelf, and in the daily job (suspensions that ended, copies added or found); `repick`
when a listed reservation's pickup branch changes to one with a copy on its shelf. Staff then
scan each copy they find (db.queries.pull_list): it goes on the hold shelf through
db.routing.make_ready (the ready notice is queued) or in transit; "not on the shelf" marks
it missing and the reservation takes the next copy, or waits again.

Locks: the order everywhere is item, work, hold (db.routing). `fill` holds the work row and
takes copies with SKIP LOCKED (PostgreSQL): a copy a counter transaction has locked is
skipped rather than waited for, since that transaction may be waiting for this work row.
(SQLite's `BEGIN IMMEDIATE` makes every writer the only one.)

Logs name events and branches only, never patrons, items or titles.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.engine import Connection

from db import models, rules, series
from db.clock import library_today

log = logging.getLogger(__name__)

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_item = _T["item"]
_mtype = _T["material_type"]

PULLING = "pulling"  # hold state: its copy is on the pull list of the copy's branch


def serves_holds() -> ColumnElement[bool]:
    """A copy (item joined to its material_type) of a type that can be reserved and lent."""
    return and_(_mtype.c.reservable.is_(True), _mtype.c.loan_days > 0)


def fill(conn: Connection, work_id: int, now: datetime) -> int:
    """Promise copies on the shelf to the title's eligible waiting reservations, in queue
    order; the caller has locked the `work` row. → copies put on pull lists."""
    today = library_today(now)
    waiting = conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id, _hold.c.placed_at)
        .where(_hold.c.work_id == work_id, _hold.c.item_id.is_(None), series.eligible(_hold, today))
        .order_by(*series.queue_order(_hold))  # db.series: held-back volumes, stepping back
        .with_for_update()
    ).all()
    if not waiting:
        return 0
    copies: list[Any] = list(
        conn.execute(
            select(_item.c.id, _item.c.branch_id)
            .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
            .where(_item.c.work_id == work_id, _item.c.status == rules.AVAILABLE, serves_holds())
            .order_by(_item.c.id)
            .with_for_update(of=_item, skip_locked=True)
        )
    )
    promised = 0
    for hold in waiting:
        if not copies:
            break
        copy = next((c for c in copies if c.branch_id == hold.pickup_branch_id), copies[0])
        copies.remove(copy)
        conn.execute(_item.update().where(_item.c.id == copy.id).values(status=rules.TO_PULL))
        conn.execute(
            _hold.update().where(_hold.c.id == hold.id).values(state=PULLING, item_id=copy.id)
        )
        series.passed(conn, work_id, hold, today)
        promised += 1
        log.info("pull listed branch=%s to=%s", copy.branch_id, hold.pickup_branch_id)
    return promised


def release(conn: Connection, item_id: int, work_id: int, now: datetime) -> None:
    """A copy on a pull list whose reservation ended: still on the shelf, so it goes back
    there, or to the next reservation's pull list. The caller locked item and work."""
    conn.execute(_item.update().where(_item.c.id == item_id).values(status=rules.AVAILABLE))
    fill(conn, work_id, now)


def repick(conn: Connection, hold: Any, pickup_id: int, now: datetime) -> None:
    """A listed reservation's pickup branch changed: a copy on that branch's shelf serves it
    without transit, and its old copy is released. With none there it keeps its copy. The
    caller locked the old copy, the work and the hold."""
    if hold.item_id is None:
        return
    nearer = conn.execute(
        select(_item.c.id)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.work_id == hold.work_id,
            _item.c.branch_id == pickup_id,
            _item.c.status == rules.AVAILABLE,
            serves_holds(),
        )
        .order_by(_item.c.id)
        .limit(1)
        .with_for_update(of=_item, skip_locked=True)
    ).scalar()
    if nearer is None:
        return
    conn.execute(_item.update().where(_item.c.id == nearer).values(status=rules.TO_PULL))
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(item_id=nearer))
    release(conn, hold.item_id, hold.work_id, now)
