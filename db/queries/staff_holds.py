"""Staff and a patron's reservations at the counter (電話予約): see, place, change, cancel.

The reservation rules are the patron side's (db.queries.holds: the same queue, limits and
refusals); this module puts the staff policy and the audit in front of them, so no staff
page can reach a patron's reservations without both:

- Seeing them needs the field group `holds` (db/data/staff_policy.json); a role without it
  gets None (masked), and nothing is recorded because nothing is shown.
- Placing, changing and cancelling need the action `patron.holds`. A role without it is
  refused (`StaffRefused`) and the refused attempt is recorded.
- An allowed look or action writes its `staff_audit` row (groups `holds`, screen
  `patron_holds`) in a transaction of its own that commits *before* the reservation query
  runs: a crash in between leaves a recorded look that showed nothing, never a look that
  was not recorded, and a refusal from the rules (limit, already reserved …) — which tells
  staff something about the patron — is recorded as well.

Feature modules of db.queries are independent except for this one, which is by design the
staff face of db.queries.holds (the exception is declared in pyproject.toml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from db import models, series
from db.catalog_write import SEP
from db.clock import library_today
from db.engine import reads, writes
from db.errors import NotFound
from db.queries import holds
from db.queries.holds import HoldView
from db.staff import ALLOWED, VIEW, StaffActor, StaffRefused, refuse, write_audit
from db.staff_policy import policy

__all__ = [
    "PatronHolds",
    "TitleChoice",
    "cancel_hold_for_staff",
    "change_hold_pickup_for_staff",
    "find_title_by_barcode",
    "list_holds_for_staff",
    "place_hold_for_staff",
    "resume_hold_for_staff",
    "suspend_hold_for_staff",
]

HOLDS_FIELD_GROUP = "holds"
HOLDS_SCREEN = "patron_holds"
_ACT = "patron.holds"

# staff_audit actions (besides VIEW)
PLACE, CANCEL, PICKUP = "hold_place", "hold_cancel", "hold_pickup"
SUSPEND, RESUME = "hold_suspend", "hold_resume"

_T = models.Hold.metadata.tables
_patron = _T["patron"]
_branch = _T["branch"]
_item = _T["item"]
_work = _T["work"]
_hold = _T["hold"]
_request = _T["hold_request"]


@dataclass(frozen=True)
class PatronHolds:
    """A patron's reservations as staff see them, with what the reserve form needs."""

    holds: tuple[HoldView, ...]
    home_branch_code: str
    limit: int
    held_back: frozenset[int] = frozenset()  # series volumes waiting for the one before


@dataclass(frozen=True)
class TitleChoice:
    """The title of a copy found by its barcode (the reserve form's barcode search)."""

    work_id: int
    title: str
    authors: tuple[str, ...]
    barcode: str


def _may_see(actor: StaffActor) -> bool:
    return HOLDS_FIELD_GROUP in policy().visible_fields(actor.role, actor.duties)


@writes
def _record(conn: Connection, now: datetime, actor: StaffActor, patron_id: int, action: str) -> str:
    """The allowed look or action's audit row; → the patron's home branch code."""
    home = conn.execute(
        select(_branch.c.code)
        .select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
        .where(_patron.c.id == patron_id)
    ).scalar()
    if home is None:
        raise NotFound("patron_not_found")
    write_audit(conn, actor, patron_id, (HOLDS_FIELD_GROUP,), HOLDS_SCREEN, action, ALLOWED, now)
    return str(home)


@writes
def _refuse(
    conn: Connection, now: datetime, actor: StaffActor, patron_id: int, action: str
) -> None:
    refuse(conn, actor, patron_id, (HOLDS_FIELD_GROUP,), HOLDS_SCREEN, action, now)


def _allow(actor: StaffActor, patron_id: int, action: str) -> None:
    """Record the action, or record the refusal and refuse (committed before raising)."""
    if not (_may_see(actor) and policy().may(actor.role, actor.duties, _ACT)):
        _refuse(actor, patron_id, action)
        raise StaffRefused()
    _record(actor, patron_id, action)


def list_holds_for_staff(actor: StaffActor, patron_id: int) -> PatronHolds | None:
    """The patron's reservations (audited), or None when the role may not see them."""
    if not _may_see(actor):
        return None
    home = _record(actor, patron_id, VIEW)
    return PatronHolds(holds.list_holds(patron_id), home, holds.hold_limit(), _held_back(patron_id))


@reads
def _held_back(conn: Connection, now: datetime, patron_id: int) -> frozenset[int]:
    """The patron's in-order series volumes held back for the one before (db.series)."""
    today = library_today(now)
    rows = conn.execute(
        select(_hold.c.id)
        .select_from(_hold.join(_request, _request.c.id == _hold.c.request_id))
        .where(
            _hold.c.patron_id == patron_id,
            _hold.c.item_id.is_(None),
            _request.c.mode == series.IN_ORDER,
            or_(_hold.c.suspended_until.is_(None), _hold.c.suspended_until <= today),
            or_(_hold.c.step_back_until.is_(None), _hold.c.step_back_until <= today),
            ~series.eligible(_hold, today),
        )
    ).scalars()
    return frozenset(int(r) for r in rows)


def place_hold_for_staff(
    actor: StaffActor, patron_id: int, work_id: int, pickup_code: str
) -> HoldView:
    """Reserve a title for the patron; `HoldRefused` as on the patron side."""
    _allow(actor, patron_id, PLACE)
    return holds.place_hold(patron_id, work_id, pickup_code)


def cancel_hold_for_staff(actor: StaffActor, patron_id: int, hold_id: int) -> str:
    """Cancel one of the patron's reservations (another patron's → not found). → title."""
    _allow(actor, patron_id, CANCEL)
    return holds.cancel_hold(patron_id, hold_id)


def change_hold_pickup_for_staff(
    actor: StaffActor, patron_id: int, hold_id: int, pickup_code: str
) -> HoldView:
    _allow(actor, patron_id, PICKUP)
    return holds.change_hold_pickup(patron_id, hold_id, pickup_code)


def suspend_hold_for_staff(
    actor: StaffActor, patron_id: int, hold_id: int, until: date
) -> HoldView:
    _allow(actor, patron_id, SUSPEND)
    return holds.suspend_hold(patron_id, hold_id, until)


def resume_hold_for_staff(actor: StaffActor, patron_id: int, hold_id: int) -> HoldView:
    _allow(actor, patron_id, RESUME)
    return holds.resume_hold(patron_id, hold_id)


@reads
def find_title_by_barcode(conn: Connection, now: datetime, barcode: str) -> TitleChoice | None:
    """The title of the copy with this barcode (nothing about who has it), or None."""
    row = conn.execute(
        select(_work.c.id, _work.c.title, _work.c.authors, _item.c.barcode)
        .select_from(_item.join(_work, _work.c.id == _item.c.work_id))
        .where(_item.c.barcode == barcode.strip()[:40])
    ).first()
    if row is None:
        return None
    authors = tuple(a for a in (row.authors or "").split(SEP) if a)
    return TitleChoice(row.id, row.title, authors, row.barcode)
