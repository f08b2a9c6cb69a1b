"""The pull list at the staff console: what to take off the shelf, and the scans.

The state and its rules are db.pulling (a copy promised to a reservation has status
`to_pull`; its reservation is `pulling`). Here: a branch's list, the scan of a copy found
(hold shelf through db.routing.make_ready, which queues the ready notice, or in transit), a
copy not on the shelf (missing; the reservation takes the next copy or waits again), and the
daily re-check. The list also names the copies sent home off this branch's hold shelf
without a scan (db.routing `_home`: `item.left_on_shelf_branch_id`), until a counter scans
them into the transit box. Every scan locks the copy first, then the title, then the
reservation (the order of db.routing), so two staff scanning one copy, or a scan racing a
cancellation, end with one outcome: the second scan is told the copy is no longer on the
list.

The list names no patron: title, call number, location, barcode and the pickup branch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from db import models, pulling, routing, rules
from db.clock import library_today
from db.engine import reads, writes
from db.errors import QueryError
from db.localized import Localized
from db.routing import WAITING

__all__ = [
    "PullLine",
    "PullList",
    "PullRefused",
    "PullScan",
    "list_pull_list",
    "pull_copy",
    "refill_pull_lists",
    "report_not_on_shelf",
]

log = logging.getLogger(__name__)

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_item = _T["item"]
_work = _T["work"]
_branch = _T["branch"]
_mtype = _T["material_type"]
_dest = _branch.alias("dest")


class PullRefused(QueryError):
    """A scan on the pull list that cannot be done; the code says why."""


@dataclass(frozen=True)
class PullLine:
    barcode: str
    title: str
    call_number: str
    shelf_location: str
    material: Localized
    destination_code: str  # the pickup branch
    destination: Localized


@dataclass(frozen=True)
class PullList:
    branch_code: str
    branch: Localized
    hold_shelf: tuple[PullLine, ...]  # for pickup at this branch
    transit: tuple[PullLine, ...]  # to send to another branch, by destination
    # Off this branch's hold shelf, their reservations ended: to send home (destination).
    going_home: tuple[PullLine, ...]


@dataclass(frozen=True)
class PullScan:
    """What became of a scanned copy. `route`: for a copy found, "ready" (hold shelf at
    `branch`), "in_transit" (send to `branch`) or "available" (reshelve); for a copy not on
    the shelf, "pulling" (its reservation took the copy on `branch`'s list) or "waiting"."""

    barcode: str
    title: str
    route: str
    branch: Localized | None = None


@reads
def list_pull_list(
    conn: Connection, now: datetime, branch_code: str = "", home_branch_id: int | None = None
) -> PullList:
    """The copies to take off `branch_code`'s shelves (else the home branch's), in shelf
    order: those for its own hold shelf, those to send on, and those on its hold shelf to
    send home."""
    where = _branch.c.code == branch_code if branch_code else _branch.c.id == home_branch_id
    branch = conn.execute(
        select(_branch.c.id, _branch.c.code, _branch.c.names).where(where)
    ).first()
    if branch is None:
        raise PullRefused("unknown_branch")
    lines = _lines(
        conn,
        _dest.c.id == _hold.c.pickup_branch_id,
        _item.c.branch_id == branch.id,
        _item.c.status == rules.TO_PULL,
    )
    return PullList(
        branch_code=branch.code,
        branch=Localized.of(branch.names),
        hold_shelf=tuple(line for line in lines if line.destination_code == branch.code),
        transit=tuple(line for line in lines if line.destination_code != branch.code),
        # On its hold shelf though in transit home with no reservation (a ready one
        # cancelled or expired), not scanned since: the destination is their home.
        going_home=tuple(
            _lines(
                conn,
                _dest.c.id == _item.c.branch_id,
                _item.c.left_on_shelf_branch_id == branch.id,
                _item.c.status == rules.IN_TRANSIT,
                _hold.c.id.is_(None),
            )
        ),
    )


def _lines(conn: Connection, destination: Any, *where: Any) -> list[PullLine]:
    """The copies `where` says, with their reservation if any, in shelf order by
    destination (the branch the `destination` condition joins)."""
    rows = conn.execute(
        select(
            _item.c.barcode,
            _item.c.call_number,
            _item.c.shelf_location,
            _work.c.title,
            _mtype.c.names.label("material_names"),
            _dest.c.code.label("dest_code"),
            _dest.c.names.label("dest_names"),
        )
        .select_from(
            _item.outerjoin(_hold, _hold.c.item_id == _item.c.id)
            .join(_work, _work.c.id == _item.c.work_id)
            .join(_mtype, _mtype.c.code == _item.c.material_type)
            .join(_dest, destination)
        )
        .where(*where)
        .order_by(_dest.c.sort_order, _item.c.shelf_location, _item.c.call_number, _item.c.barcode)
    ).all()
    return [
        PullLine(
            barcode=r.barcode,
            title=r.title,
            call_number=r.call_number,
            shelf_location=r.shelf_location,
            material=Localized.of(r.material_names),
            destination_code=r.dest_code,
            destination=Localized.of(r.dest_names),
        )
        for r in rows
    ]


def _listed(conn: Connection, barcode: str) -> tuple[Any, Any]:
    """The copy (locked) on a pull list, its title locked, and its reservation (locked)."""
    item = conn.execute(
        select(_item.c.id, _item.c.status, _item.c.work_id, _item.c.branch_id, _work.c.title)
        .select_from(_item.join(_work, _work.c.id == _item.c.work_id))
        .where(_item.c.barcode == barcode.strip())
        .with_for_update(of=_item)
    ).first()
    if item is None:
        raise PullRefused("unknown_barcode")
    if item.status != rules.TO_PULL:
        raise PullRefused("pull_not_listed")
    routing.lock_work(conn, item.work_id)
    hold = conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id)
        .where(_hold.c.item_id == item.id)
        .with_for_update()
    ).first()
    return item, hold


@writes
def pull_copy(conn: Connection, now: datetime, barcode: str) -> PullScan:
    """Staff found a listed copy on the shelf: on the hold shelf here (the ready notice is
    queued) or in transit to the pickup branch."""
    item, _hold_row = _listed(conn, barcode)
    route = routing.found(conn, item.id, item.work_id, item.branch_id, now)
    return PullScan(barcode.strip(), item.title, route.state, route.branch)


@writes
def report_not_on_shelf(conn: Connection, now: datetime, barcode: str) -> PullScan:
    """A listed copy is not on the shelf: it is marked missing, and its reservation takes
    the next copy on a shelf (a pull list again) or waits for a returned one."""
    item, hold = _listed(conn, barcode)
    conn.execute(_item.update().where(_item.c.id == item.id).values(status=rules.MISSING))
    log.info("pull not on shelf branch=%s", item.branch_id)
    if hold is None:
        return PullScan(barcode.strip(), item.title, WAITING)
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(state=WAITING, item_id=None))
    pulling.fill(conn, item.work_id, now)
    next_branch = conn.execute(
        select(_item.c.branch_id)
        .select_from(_hold.join(_item, _item.c.id == _hold.c.item_id))
        .where(_hold.c.id == hold.id)
    ).scalar()
    if next_branch is None:
        return PullScan(barcode.strip(), item.title, WAITING)
    return PullScan(
        barcode.strip(), item.title, pulling.PULLING, routing.branch_names(conn, next_branch)
    )


@writes
def refill_pull_lists(conn: Connection, now: datetime) -> int:
    """The daily re-check: titles with an eligible waiting reservation and a copy on the
    shelf (a suspension ended, a copy was added or found) get it on a pull list. → copies.

    A listed copy whose reservation vanished without releasing it (its patron's row deleted)
    is back on the shelf first, for the next reservation or anyone."""
    today = library_today(now)
    conn.execute(
        _item.update()
        .where(
            _item.c.status == rules.TO_PULL,
            ~select(_hold.c.id).where(_hold.c.item_id == _item.c.id).exists(),
        )
        .values(status=rules.AVAILABLE)
    )
    on_shelf = (
        select(_item.c.id)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.work_id == _hold.c.work_id,
            _item.c.status == rules.AVAILABLE,
            pulling.serves_holds(),
        )
        .exists()
    )
    works = conn.execute(
        select(_hold.c.work_id)
        .where(
            _hold.c.item_id.is_(None),
            or_(_hold.c.suspended_until.is_(None), _hold.c.suspended_until <= today),
            on_shelf,
        )
        .distinct()
        .order_by(_hold.c.work_id)
    ).scalars()
    listed = 0
    for work_id in list(works):
        if routing.lock_work(conn, work_id):
            listed += pulling.fill(conn, work_id, now)
    return listed
