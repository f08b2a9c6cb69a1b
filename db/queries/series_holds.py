"""Series reservations (シリーズ予約), stepping back (予約順位の繰下げ) and the estimate
window on the patron's reservations.

The rules — what "in order" and "together" mean, what an expired or cancelled volume does,
how stepping back works, how the estimate window is made and remembered — are stated once,
in db.series; the window itself is db.estimate. Each function here is one transaction
(db.engine `reads` / `writes`); patron-scoped ones take `patron_id` first and filter by it,
so another patron's hold or request is `NotFound`.

Each volume of a request is an ordinary hold (db.queries.holds shows, cancels, suspends
and moves it like any other), so the hold limit counts volumes. Writes lock in the order
used everywhere (patron, item, work, hold).

Logs name events and branches only, never patrons, items or titles.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from db import clock, models, outbox, pulling, routing, rules, series
from db.catalog_write import SEP
from db.clock import library_today
from db.counts import bump
from db.engine import reads, writes
from db.errors import QueryError
from db.routing import HoldNotFound, WorkNotFound

__all__ = [
    "SERIES_MAX_VOLUMES",
    "SERIES_MODES",
    "STEP_BACK_MAX_DAYS",
    "EstimateChange",
    "HoldExtra",
    "SeriesChoice",
    "SeriesRefused",
    "SeriesVolume",
    "cancel_series",
    "continue_series",
    "get_series_choice",
    "hold_shelf_days",
    "list_hold_extras",
    "note_estimate_seen",
    "place_series",
    "step_back",
    "undo_step_back",
]

log = logging.getLogger(__name__)

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_request = _T["hold_request"]
_item = _T["item"]
_work = _T["work"]
_branch = _T["branch"]
_mtype = _T["material_type"]
_patron = _T["patron"]
_loan = _T["loan"]

SERIES_MODES = series.MODES
SERIES_MAX_VOLUMES = 30  # volumes listed on the series form
STEP_BACK_MAX_DAYS = 60
PLACED = "hold_placed"  # daily_count events, as db.queries.holds counts them
CANCELLED = routing.CANCELLED
_WAITING = "waiting"


def hold_shelf_days() -> int:
    """Days a ready copy waits on the hold shelf (and a kept one for its set)."""
    return routing.shelf_days()


class SeriesRefused(QueryError):
    """A series request or step back the patron cannot make; `title` names the volume."""


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesVolume:
    work_id: int
    title: str
    volume: str  # the volume designation from the series statement ("1", "上" …), or ""
    reservable: bool  # has a copy that can serve a reservation
    reserved: bool  # the patron already reserves it
    on_loan: bool  # the patron has it on loan


@dataclass(frozen=True)
class SeriesChoice:
    """What the series form needs: the series name and its volumes in volume order."""

    work_id: int
    title: str
    series: str
    volumes: tuple[SeriesVolume, ...]
    home_branch_code: str


@dataclass(frozen=True)
class EstimateChange:
    """The window the patron last acknowledged, and why today's differs (reason codes:
    `fewer_ahead`/`more_ahead` with `count`, `copies_due` when the copies' dates moved,
    `no_copies` when no copy can serve it now)."""

    since: date
    was_first: date | None
    was_last: date | None
    reasons: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class HoldExtra:
    """What db.series adds to a hold on the patron's page."""

    hold_id: int
    request_id: int | None
    mode: str | None  # in_order, together
    sequence: int | None
    volumes: int  # volumes still reserved in the request
    paused: bool  # in order: an earlier volume expired uncollected
    held_back: bool  # in order: waits until the earlier volumes are collected
    kept: bool  # together: a copy is set aside until the set is complete
    step_back_passes: int
    step_back_until: date | None
    first: date | None  # the estimate window (waiting holds)
    last: date | None
    change: EstimateChange | None


# ---------------------------------------------------------------------------------------
# Series choice and request
# ---------------------------------------------------------------------------------------

_SERIES_PART = re.compile(r"\s*;\s*")


def _series_parts(value: str) -> list[tuple[str, str]]:
    """`Work.series` as (name, volume) pairs: "MF文庫J ; あ-22-02 | 叢書" → two pairs."""
    out = []
    for part in value.split(SEP):
        name, _, volume = part.partition(";")
        if name.strip():
            out.append((name.strip(), volume.strip()))
    return out


def _volume_key(volume: str) -> tuple[Any, ...]:
    numbers = [int(n) for n in re.findall(r"\d+", volume)]
    return (0 if numbers else 1, numbers, volume)


@reads
def get_series_choice(
    conn: Connection, now: datetime, patron_id: int, work_id: int
) -> SeriesChoice | None:
    """The series of a title and its volumes (works whose series statement names the same
    series), or None when the title has no series sibling."""
    work = conn.execute(select(_work.c.title, _work.c.series).where(_work.c.id == work_id)).first()
    if work is None:
        raise WorkNotFound()
    names = [name for name, _ in _series_parts(work.series)]
    if not names:
        return None
    name = names[0]
    like = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        select(_work.c.id, _work.c.title, _work.c.series, _work.c.pub_year)
        .where(_work.c.series.like(like, escape="\\"))
        .order_by(_work.c.id)
        .limit(SERIES_MAX_VOLUMES * 4)
    ).all()
    found: list[tuple[tuple[Any, ...], Any, str]] = []
    for r in rows:
        for part_name, volume in _series_parts(r.series):
            if part_name == name:
                found.append(((_volume_key(volume), r.pub_year or 0, r.title, r.id), r, volume))
                break
    if len(found) < 2:
        return None
    found.sort(key=lambda f: f[0])
    ids = [r.id for _, r, _ in found[:SERIES_MAX_VOLUMES]]
    reservable = set(
        conn.execute(
            select(_item.c.work_id)
            .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
            .where(
                _item.c.work_id.in_(ids),
                pulling.serves_holds(),
                _item.c.status != rules.MISSING,
            )
        ).scalars()
    )
    reserved = set(
        conn.execute(
            select(_hold.c.work_id).where(_hold.c.patron_id == patron_id, _hold.c.work_id.in_(ids))
        ).scalars()
    )
    on_loan = set(
        conn.execute(
            select(_item.c.work_id)
            .select_from(_loan.join(_item, _item.c.id == _loan.c.item_id))
            .where(_loan.c.patron_id == patron_id, _item.c.work_id.in_(ids))
        ).scalars()
    )
    home = conn.execute(
        select(_branch.c.code)
        .select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
        .where(_patron.c.id == patron_id)
    ).scalar()
    return SeriesChoice(
        work_id=work_id,
        title=work.title,
        series=name,
        volumes=tuple(
            SeriesVolume(
                work_id=r.id,
                title=r.title,
                volume=volume,
                reservable=r.id in reservable,
                reserved=r.id in reserved,
                on_loan=r.id in on_loan,
            )
            for _, r, volume in found[:SERIES_MAX_VOLUMES]
        ),
        home_branch_code=home or "",
    )


def _refuse_volume(conn: Connection, patron_id: int, work_id: int, title: str) -> None:
    """The refusals of db.queries.holds.place_hold, for one volume (named by `title`)."""
    if conn.execute(
        select(_hold.c.id).where(_hold.c.patron_id == patron_id, _hold.c.work_id == work_id)
    ).first():
        raise SeriesRefused("already_reserved", title=title)
    if conn.execute(
        select(_loan.c.id)
        .select_from(_loan.join(_item, _item.c.id == _loan.c.item_id))
        .where(_loan.c.patron_id == patron_id, _item.c.work_id == work_id)
        .limit(1)
    ).first():
        raise SeriesRefused("on_loan_to_you", title=title)
    if not conn.execute(
        select(_item.c.id)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.work_id == work_id,
            pulling.serves_holds(),
            _item.c.status != rules.MISSING,
        )
        .limit(1)
    ).first():
        raise SeriesRefused("not_reservable", title=title)


@writes
def place_series(
    conn: Connection,
    now: datetime,
    patron_id: int,
    work_ids: Sequence[int],
    mode: str,
    pickup_code: str,
    limit: int,
) -> int:
    """Reserve several titles as one request, volume order = the order of `work_ids`.
    All or nothing: a refused volume refuses the request (`title` says which). `limit` is
    the patron's reservation limit (db.queries.hold_limit). → the request id."""
    today = library_today(now)
    if mode not in series.MODES:
        raise SeriesRefused("choose_option")
    ids = list(dict.fromkeys(work_ids))
    if len(ids) < 2:
        raise SeriesRefused("series_too_few")
    pickup = conn.execute(select(_branch.c.id).where(_branch.c.code == pickup_code)).scalar()
    if pickup is None:
        raise SeriesRefused("unknown_pickup")
    conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id).with_for_update())
    held = conn.execute(
        select(func.count()).select_from(_hold).where(_hold.c.patron_id == patron_id)
    ).scalar_one()
    if held + len(ids) > limit:
        raise SeriesRefused("series_over_limit", limit=limit, free=max(limit - held, 0))
    titles: dict[int, str] = {}
    for work_id in sorted(ids):  # lock titles in id order: two requests never deadlock
        if not routing.lock_work(conn, work_id):
            raise WorkNotFound()
        titles[work_id] = conn.execute(
            select(_work.c.title).where(_work.c.id == work_id)
        ).scalar_one()
    for work_id in ids:
        _refuse_volume(conn, patron_id, work_id, titles[work_id])
    request_id = conn.execute(
        _request.insert()
        .values(patron_id=patron_id, mode=mode, created_at=clock.aware_utc(now))
        .returning(_request.c.id)
    ).scalar_one()
    hold_ids: list[int] = []
    try:
        with conn.begin_nested():
            for sequence, work_id in enumerate(ids, start=1):
                # Each volume goes to the end of its title's queue, under the title's lock.
                placed_at = routing.queue_place(conn, work_id, now)
                hold_id = conn.execute(
                    _hold.insert()
                    .values(
                        patron_id=patron_id,
                        work_id=work_id,
                        pickup_branch_id=pickup,
                        placed_at=placed_at,
                        state=_WAITING,
                        request_id=request_id,
                        sequence=sequence,
                    )
                    .returning(_hold.c.id)
                ).scalar_one()
                hold_ids.append(int(hold_id))
                bump(conn, today, pickup, "", PLACED)
    except IntegrityError:  # a double submit that slipped past the checks above
        raise SeriesRefused("already_reserved", title=titles[ids[0]]) from None
    # The first volume (every volume, together) may take a copy free on a shelf now.
    routing.offer_next_volumes(conn, int(request_id), now)
    for hold_id in hold_ids:  # then the windows shown, each after the volumes before it
        series.note_estimate(conn, hold_id, today, routing.shelf_days())
    log.info("series request placed branch=%s volumes=%s", pickup, len(ids))
    return int(request_id)


def _request_of(
    conn: Connection, patron_id: int, request_id: int, *, lock: bool = True
) -> Row[Any]:
    query = select(_request).where(_request.c.id == request_id, _request.c.patron_id == patron_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise HoldNotFound()
    return row


@writes
def cancel_series(conn: Connection, now: datetime, patron_id: int, request_id: int) -> int:
    """Cancel every volume of a request; copies set aside go to the next in line. → count."""
    today = library_today(now)
    conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id).with_for_update())
    _request_of(conn, patron_id, request_id, lock=False)  # locked below, after the titles
    rows = conn.execute(
        select(_hold.c.id, _hold.c.item_id, _hold.c.work_id)
        .where(_hold.c.request_id == request_id, _hold.c.patron_id == patron_id)
        .order_by(_hold.c.sequence.desc())  # last first: no later volume is offered a copy
    ).all()
    for r in rows:
        if r.item_id is not None:
            routing.lock_item(conn, r.item_id)
        routing.lock_work(conn, r.work_id)
    series.lock_request(conn, request_id)
    cancelled = 0
    for r in rows:
        hold = conn.execute(select(_hold).where(_hold.c.id == r.id).with_for_update()).first()
        if hold is None:
            continue
        routing.release(conn, hold, now)
        bump(conn, today, hold.pickup_branch_id, "", CANCELLED)
        cancelled += 1
    log.info("series request cancelled volumes=%s", cancelled)
    return cancelled


@writes
def continue_series(conn: Connection, now: datetime, patron_id: int, request_id: int) -> None:
    """Resume an in-order request paused after a volume expired uncollected."""
    _request_of(conn, patron_id, request_id)
    conn.execute(_request.update().where(_request.c.id == request_id).values(paused_on=None))
    routing.offer_next_volumes(conn, request_id, now)


# ---------------------------------------------------------------------------------------
# Step back
# ---------------------------------------------------------------------------------------


@writes
def step_back(
    conn: Connection, now: datetime, patron_id: int, hold_id: int, days: int | None
) -> None:
    """Let the next reader go first: once (`days` None) or for `days` days. A copy already
    set aside for this hold goes to the next in line; the reservation and its place stay.
    Refused for a copy set aside when nobody else could take it."""
    today = library_today(now)
    if days is not None and not 1 <= days <= STEP_BACK_MAX_DAYS:
        raise SeriesRefused("step_back_days", max=STEP_BACK_MAX_DAYS)
    hold = routing.locked_hold(conn, patron_id, hold_id)
    values: dict[str, Any] = (
        {"step_back_passes": 1, "step_back_until": None}
        if days is None
        else {"step_back_until": today + timedelta(days=days), "step_back_passes": 0}
    )
    if hold.item_id is not None:
        others = conn.execute(
            select(_hold.c.id)
            .where(
                _hold.c.work_id == hold.work_id,
                _hold.c.item_id.is_(None),
                _hold.c.id != hold.id,
                series.eligible(_hold, today),
            )
            .limit(1)
        ).first()
        if others is None:
            raise SeriesRefused("step_back_nobody_behind")
        values |= {"state": _WAITING, "item_id": None, "ready_until": None, "notice_mail_id": None}
        if hold.notice_mail_id is not None:
            c = outbox.mail_outbox.c
            outbox.withdraw(conn, and_(c.id == hold.notice_mail_id, c.kind == "hold_ready"))
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(**values))
    if hold.item_id is not None:
        routing.reroute(conn, hold.item_id, hold.work_id, hold, now)
    log.info("hold stepped back branch=%s", hold.pickup_branch_id)


@writes
def undo_step_back(conn: Connection, now: datetime, patron_id: int, hold_id: int) -> None:
    """Take the place back at once: a copy on a shelf goes on a pull list for it now."""
    hold = routing.locked_hold(conn, patron_id, hold_id)
    conn.execute(
        _hold.update().where(_hold.c.id == hold.id).values(step_back_passes=0, step_back_until=None)
    )
    pulling.fill(conn, hold.work_id, now)  # the title is locked (routing.locked_hold)


# ---------------------------------------------------------------------------------------
# The patron's page
# ---------------------------------------------------------------------------------------


@writes
def note_estimate_seen(conn: Connection, now: datetime, patron_id: int, hold_id: int) -> None:
    """The patron read the changed estimate: remember today's window as the one shown."""
    found = conn.execute(
        select(_hold.c.id).where(_hold.c.id == hold_id, _hold.c.patron_id == patron_id)
    ).first()
    if found is None:
        raise HoldNotFound()
    series.note_estimate(conn, hold_id, library_today(now), routing.shelf_days())


def _change(row: Any, w: series.Window) -> EstimateChange | None:
    if row.est_on is None or (row.est_from, row.est_to) == (w.first, w.last):
        return None
    reasons: list[str] = []
    count = 0
    if w.first is None:  # no copy can serve it now (missing, withdrawn)
        reasons.append("no_copies")
    elif row.est_ahead is not None and row.est_ahead != w.ahead:
        reasons.append("fewer_ahead" if w.ahead < row.est_ahead else "more_ahead")
        count = abs(row.est_ahead - w.ahead)
    else:
        reasons.append("copies_due")
    return EstimateChange(
        since=row.est_on, was_first=row.est_from, was_last=row.est_to, reasons=tuple(reasons),
        count=count,
    )  # fmt: skip


@reads
def list_hold_extras(conn: Connection, now: datetime, patron_id: int) -> dict[int, HoldExtra]:
    """Series, step-back and estimate details of each of the patron's holds, by hold id."""
    today = library_today(now)
    shelf = routing.shelf_days()
    req = _request
    vol = _hold.alias("vol")
    volumes = (
        select(func.count())
        .select_from(vol)
        .where(vol.c.request_id == _hold.c.request_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            _hold.c.id,
            _hold.c.item_id,
            _hold.c.state,
            _hold.c.request_id,
            _hold.c.sequence,
            _hold.c.step_back_passes,
            _hold.c.step_back_until,
            _hold.c.est_from,
            _hold.c.est_to,
            _hold.c.est_ahead,
            _hold.c.est_on,
            req.c.mode,
            req.c.paused_on,
            volumes.label("volumes"),
            series.eligible(_hold, today).label("eligible"),
            or_(_hold.c.suspended_until.is_(None), _hold.c.suspended_until <= today).label(
                "active"
            ),
        )
        .select_from(_hold.outerjoin(req, req.c.id == _hold.c.request_id))
        .where(_hold.c.patron_id == patron_id)
        .order_by(_hold.c.request_id, _hold.c.sequence, _hold.c.id)
    ).all()
    windows = {
        r.id: series.shown_window(conn, r.id, today, shelf) for r in rows if r.item_id is None
    }
    out: dict[int, HoldExtra] = {}
    for r in rows:
        win = windows.get(r.id)
        until = r.step_back_until if r.step_back_until and r.step_back_until > today else None
        out[r.id] = HoldExtra(
            hold_id=r.id,
            request_id=r.request_id,
            mode=r.mode,
            sequence=r.sequence,
            volumes=int(r.volumes or 0),
            paused=r.paused_on is not None,
            held_back=r.mode == series.IN_ORDER
            and r.item_id is None
            and bool(r.active)
            and until is None
            and not bool(r.eligible),
            kept=r.state == series.KEPT,
            step_back_passes=int(r.step_back_passes),
            step_back_until=until,
            first=win.first if win else None,
            last=win.last if win else None,
            change=_change(r, win) if win else None,
        )
    return out
