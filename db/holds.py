"""Reservations (予約): the queue per title, assignment on return, hold shelf, notices.

Every function takes a `Connection` inside the caller's transaction (`engine.write()` for
writes) and the current time `now` (aware).

The model (models.Hold): one row per active reservation of a *title* (any copy). A row is
`waiting` until a copy is assigned to it, then `in_transit` (the copy travels to the
pickup branch) or `ready` (on the hold shelf until `ready_until`, a library-local date).
Cancelled, expired and collected reservations are deleted; only anonymous daily counts
remain (seed 000-2).

The queue: positions are derived from `ORDER BY placed_at, id` among the title's waiting
rows, never stored, so they are always distinct and gap-free. Every write to a title's
queue first locks that title's `work` row (PostgreSQL `FOR UPDATE`; SQLite's
`BEGIN IMMEDIATE` already makes the transaction the only writer), so concurrent
placements, returns and cancellations of one title are serialised and never assign one
copy twice. A double submit meets the `(patron_id, work_id)` unique constraint.

Suspended reservations (休止: `suspended_until` in the future) keep their place but are
skipped when a copy is assigned.

The limits (active reservations per patron, days on the hold shelf) are set by
`configure()` from the validated settings (SHIORI_HOLD_LIMIT, SHIORI_HOLD_SHELF_DAYS).

Logs name events and branches only, never patrons, items or titles.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, exists, func, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from db import clock, mail, models, notices, rules
from db.catalog_write import SEP
from db.errors import NotFound, QueryError

log = logging.getLogger(__name__)

LIBRARY_TZ = ZoneInfo("Asia/Tokyo")

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_pref = _T["notice_preference"]
_reminder = _T["loan_reminder"]
_item = _T["item"]
_work = _T["work"]
_branch = _T["branch"]
_mtype = _T["material_type"]
_patron = _T["patron"]
_loan = _T["loan"]

WAITING = "waiting"
IN_TRANSIT = "in_transit"
READY = "ready"

# daily_count events (anonymous statistics)
PLACED = "hold_placed"
FILLED = "hold_filled"
CANCELLED = "hold_cancelled"
EXPIRED = "hold_expired"

DEFAULT_LIMIT = 10
DEFAULT_SHELF_DAYS = 7
MAX_SUSPEND_DAYS = 365
REMINDER_DAY_CHOICES = (1, 2, 3, 5, 7)


_limits = {"limit": DEFAULT_LIMIT, "shelf_days": DEFAULT_SHELF_DAYS}


def configure(limit: int, shelf_days: int) -> None:
    """Set the library's limits (from web.settings, which validates them)."""
    _limits["limit"], _limits["shelf_days"] = limit, shelf_days


def hold_limit() -> int:
    return _limits["limit"]


def shelf_days() -> int:
    return _limits["shelf_days"]


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------


class HoldRefused(QueryError):
    """A reservation the patron cannot make or change; the message says why."""


class HoldLimitReached(HoldRefused):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"予約できるのは{limit}件までです。受け取り済み・不要な予約を取り消してください。"
            f" / You can have at most {limit} reservations; cancel one you no longer need."
        )


class AlreadyReserved(HoldRefused):
    def __init__(self) -> None:
        super().__init__("この資料はすでに予約しています。 / You have already reserved this title.")


class OnLoanToYou(HoldRefused):
    def __init__(self) -> None:
        super().__init__(
            "この資料は現在あなたが借りています。 / You have this title on loan right now."
        )


class NotReservable(HoldRefused):
    def __init__(self) -> None:
        super().__init__(
            "予約できる所蔵がありません（館内閲覧のみの資料など）。"
            " / There is no copy that can be reserved (e.g. reference only)."
        )


class UnknownBranch(HoldRefused):
    def __init__(self) -> None:
        super().__init__("受取館を選んでください。 / Choose a pickup library.")


class AlreadyReady(HoldRefused):
    def __init__(self) -> None:
        super().__init__(
            "資料はすでに用意できています。受取館は変更できません。"
            " / The item is already waiting for you; the pickup library cannot change."
        )


class CannotSuspend(HoldRefused):
    def __init__(self) -> None:
        super().__init__(
            "資料の割り当て後は休止できません。 / A reservation cannot be suspended once an "
            "item has been set aside for it."
        )


class BadSuspendDate(HoldRefused):
    def __init__(self) -> None:
        super().__init__(
            f"休止の期限は明日から{MAX_SUSPEND_DAYS}日以内の日付にしてください。"
            f" / Choose a date from tomorrow up to {MAX_SUSPEND_DAYS} days ahead."
        )


class HoldNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("予約が見つかりません。 / Reservation not found.")


class WorkNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("資料が見つかりません。 / Record not found.")


class NotInTransit(QueryError):
    def __init__(self) -> None:
        super().__init__("この資料は回送中ではありません。 / This item is not in transit.")


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldView:
    id: int
    work_id: int
    title: str
    authors: tuple[str, ...]
    pickup_code: str
    pickup_ja: str
    pickup_en: str
    placed_at: datetime  # aware UTC
    state: str  # waiting, suspended, in_transit, ready
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
class Routing:
    """Where a returned or released copy goes next (for the counter): no patron data."""

    state: str  # "available", "in_transit", "ready"
    branch_ja: str = ""
    branch_en: str = ""


@dataclass(frozen=True)
class DailyReport:
    expired: int
    reminders: int


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def library_today(now: datetime) -> date:
    return clock.aware_utc(now).astimezone(LIBRARY_TZ).date()


def _bump(conn: Connection, today: date, branch_id: int, material_type: str, event: str) -> None:
    """One more in the anonymous daily counts (業務統計), like db.circulation does."""
    table = _T["daily_count"]
    updated = conn.execute(
        table.update()
        .where(
            table.c.day == today,
            table.c.branch_id == branch_id,
            table.c.material_type == material_type,
            table.c.event == event,
        )
        .values(count=table.c.count + 1)
    )
    if updated.rowcount == 0:
        conn.execute(
            table.insert().values(
                day=today, branch_id=branch_id, material_type=material_type, event=event, count=1
            )
        )


def _lock_work(conn: Connection, work_id: int) -> bool:
    """Serialise writes to one title's queue (PostgreSQL row lock; SQLite is IMMEDIATE)."""
    found = conn.execute(select(_work.c.id).where(_work.c.id == work_id).with_for_update()).first()
    return found is not None


def _eligible_copies() -> Any:
    """Copies that can serve a reservation: reservable type, lendable, not missing."""
    return (
        select(func.count())
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.work_id == _hold.c.work_id,
            _mtype.c.reservable.is_(True),
            _mtype.c.loan_days > 0,
            _item.c.status != rules.MISSING,
        )
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
        _branch.c.name_ja.label("pickup_ja"),
        _branch.c.name_en.label("pickup_en"),
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
        pickup_ja=row.pickup_ja,
        pickup_en=row.pickup_en,
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


def _lock_item(conn: Connection, item_id: int) -> None:
    conn.execute(select(_item.c.id).where(_item.c.id == item_id).with_for_update()).first()


def _locked_hold(conn: Connection, patron_id: int, hold_id: int) -> Row[Any]:
    """The patron's hold, locked with its copy and title. Another patron's → HoldNotFound.

    Lock order everywhere in this module and db.circulation: patron, item, work, hold —
    so concurrent counter and patron actions on PostgreSQL never deadlock.
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
            _lock_item(conn, row.item_id)
        if not _lock_work(conn, row.work_id):
            raise HoldNotFound()
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


# ---------------------------------------------------------------------------------------
# Patron side
# ---------------------------------------------------------------------------------------


def list_holds(conn: Connection, patron_id: int, now: datetime) -> tuple[HoldView, ...]:
    """The patron's reservations: ready first, then in transit, then waiting, oldest first."""
    today = library_today(now)
    order = {READY: 0, IN_TRANSIT: 1, WAITING: 2}
    rows = conn.execute(
        _view_select().where(_hold.c.patron_id == patron_id).order_by(_hold.c.placed_at, _hold.c.id)
    ).all()
    views = [_to_view(r, today) for r in rows]
    return tuple(sorted(views, key=lambda v: order.get(v.state, 2)))


def get_hold(conn: Connection, patron_id: int, hold_id: int, now: datetime) -> HoldView:
    return _patron_hold(conn, patron_id, hold_id, now)


def get_hold_form(conn: Connection, patron_id: int, work_id: int, now: datetime) -> HoldForm:
    work = conn.execute(select(_work.c.title).where(_work.c.id == work_id)).first()
    if work is None:
        raise WorkNotFound()
    copies = conn.execute(
        select(func.count())
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.work_id == work_id,
            _mtype.c.reservable.is_(True),
            _mtype.c.loan_days > 0,
            _item.c.status != rules.MISSING,
        )
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


def place_hold(
    conn: Connection, patron_id: int, work_id: int, pickup_code: str, now: datetime
) -> HoldView:
    """Reserve a title for pickup at a branch. Refusals say why (limit, duplicate …)."""
    today = library_today(now)
    pickup_id = _branch_id(conn, pickup_code)
    # The patron row first (the limit below counts their reservations), then the title.
    conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id).with_for_update())
    if not _lock_work(conn, work_id):
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
        select(_item.c.id)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.work_id == work_id,
            _mtype.c.reservable.is_(True),
            _mtype.c.loan_days > 0,
            _item.c.status != rules.MISSING,
        )
        .limit(1)
    ).first()
    if reservable is None:
        raise NotReservable()
    limit = hold_limit()
    held = conn.execute(
        select(func.count()).select_from(_hold).where(_hold.c.patron_id == patron_id)
    ).scalar_one()
    if held >= limit:
        raise HoldLimitReached(limit)
    try:
        with conn.begin_nested():
            hold_id = conn.execute(
                _hold.insert()
                .values(
                    patron_id=patron_id,
                    work_id=work_id,
                    pickup_branch_id=pickup_id,
                    placed_at=clock.aware_utc(now),
                    state=WAITING,
                )
                .returning(_hold.c.id)
            ).scalar_one()
    except IntegrityError:
        # A double submit that slipped past the check above: one reservation stays.
        raise AlreadyReserved() from None
    _bump(conn, today, pickup_id, "", PLACED)
    log.info("hold placed branch=%s", pickup_id)
    return _patron_hold(conn, patron_id, int(hold_id), now)


def cancel_hold(conn: Connection, patron_id: int, hold_id: int, now: datetime) -> str:
    """Delete the reservation; a copy set aside for it goes to the next in line. → title."""
    today = library_today(now)
    hold = _locked_hold(conn, patron_id, hold_id)
    title = conn.execute(select(_work.c.title).where(_work.c.id == hold.work_id)).scalar_one()
    conn.execute(_hold.delete().where(_hold.c.id == hold.id))
    _bump(conn, today, hold.pickup_branch_id, "", CANCELLED)
    if hold.item_id is not None:
        _reroute(conn, hold.item_id, hold.work_id, hold, now)
    log.info("hold cancelled branch=%s", hold.pickup_branch_id)
    return str(title)


def change_pickup(
    conn: Connection, patron_id: int, hold_id: int, pickup_code: str, now: datetime
) -> HoldView:
    hold = _locked_hold(conn, patron_id, hold_id)
    if hold.state == READY:
        raise AlreadyReady()
    pickup_id = _branch_id(conn, pickup_code)
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(pickup_branch_id=pickup_id))
    return _patron_hold(conn, patron_id, hold_id, now)


def suspend_hold(
    conn: Connection, patron_id: int, hold_id: int, until: date, now: datetime
) -> HoldView:
    """休止: skip this reservation until `until` (it keeps its place in the queue)."""
    today = library_today(now)
    if not today < until <= today + timedelta(days=MAX_SUSPEND_DAYS):
        raise BadSuspendDate()
    hold = _locked_hold(conn, patron_id, hold_id)
    if hold.item_id is not None:
        raise CannotSuspend()
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(suspended_until=until))
    return _patron_hold(conn, patron_id, hold_id, now)


def resume_hold(conn: Connection, patron_id: int, hold_id: int, now: datetime) -> HoldView:
    hold = _locked_hold(conn, patron_id, hold_id)
    conn.execute(_hold.update().where(_hold.c.id == hold.id).values(suspended_until=None))
    return _patron_hold(conn, patron_id, hold_id, now)


def get_notice_prefs(conn: Connection, patron_id: int) -> NoticePrefs:
    row = conn.execute(
        select(_patron.c.email, _pref.c.hold_ready, _pref.c.due_reminder_days)
        .select_from(_patron.outerjoin(_pref, _pref.c.patron_id == _patron.c.id))
        .where(_patron.c.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("利用者が見つかりません。 / Patron not found.")
    return NoticePrefs(
        has_email=bool(row.email),
        hold_ready=True if row.hold_ready is None else bool(row.hold_ready),
        due_reminder_days=row.due_reminder_days,
    )


def set_notice_prefs(
    conn: Connection, patron_id: int, hold_ready: bool, due_reminder_days: int | None
) -> NoticePrefs:
    if due_reminder_days is not None and due_reminder_days not in REMINDER_DAY_CHOICES:
        raise HoldRefused("選択肢から選んでください。 / Choose one of the options.")
    values = {"hold_ready": hold_ready, "due_reminder_days": due_reminder_days}
    updated = conn.execute(_pref.update().where(_pref.c.patron_id == patron_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(_pref.insert().values(patron_id=patron_id, **values))
    return get_notice_prefs(conn, patron_id)


# ---------------------------------------------------------------------------------------
# Counter side: called by db.circulation and the daily job
# ---------------------------------------------------------------------------------------


def _branch_names(conn: Connection, branch_id: int) -> tuple[str, str]:
    row = conn.execute(
        select(_branch.c.name_ja, _branch.c.name_en).where(_branch.c.id == branch_id)
    ).one()
    return str(row.name_ja), str(row.name_en)


def _notify_ready(conn: Connection, hold_id: int, now: datetime) -> None:
    """Queue the ready-for-pickup mail in this transaction, if the patron asked for it."""
    row = conn.execute(
        select(
            _patron.c.email,
            _patron.c.lang,
            _pref.c.hold_ready,
            _work.c.title,
            _branch.c.name_ja,
            _branch.c.name_en,
            _hold.c.ready_until,
        )
        .select_from(
            _hold.join(_patron, _patron.c.id == _hold.c.patron_id)
            .outerjoin(_pref, _pref.c.patron_id == _patron.c.id)
            .join(_work, _work.c.id == _hold.c.work_id)
            .join(_branch, _branch.c.id == _hold.c.pickup_branch_id)
        )
        .where(_hold.c.id == hold_id)
    ).one()
    if not row.email or row.hold_ready is False:
        return
    subject, body = notices.hold_ready(
        row.lang, row.title, row.name_ja, row.name_en, row.ready_until
    )
    try:
        with conn.begin_nested():
            mail.enqueue(
                conn, kind="hold_ready", to_addr=row.email, subject=subject, body=body, now=now
            )
    except QueryError:
        # An address the outbox refuses must not undo the return at the counter.
        log.warning("hold_ready notice not queued: unusable address")


def withdraw_reminder(conn: Connection, loan_id: int) -> None:
    """Before a loan is deleted: drop its reminder if not yet being sent. The other loans
    that mail named lose their marker too, so the next run reminds them afresh."""
    for mail_id in conn.execute(
        select(_reminder.c.mail_id).where(
            _reminder.c.loan_id == loan_id, _reminder.c.mail_id.is_not(None)
        )
    ).scalars():
        withdrawn = conn.execute(
            text(
                "DELETE FROM mail_outbox WHERE id = :m AND sent_at IS NULL "
                "AND send_started_at IS NULL"
            ),
            {"m": mail_id},
        )
        if withdrawn.rowcount:
            conn.execute(_reminder.delete().where(_reminder.c.mail_id == mail_id))


def _make_ready(conn: Connection, hold_id: int, item_id: int, now: datetime) -> None:
    until = library_today(now) + timedelta(days=shelf_days())
    conn.execute(
        _hold.update()
        .where(_hold.c.id == hold_id)
        .values(state=READY, item_id=item_id, ready_until=until)
    )
    conn.execute(_item.update().where(_item.c.id == item_id).values(status=rules.ON_HOLD_SHELF))
    _notify_ready(conn, hold_id, now)


def _next_hold(conn: Connection, work_id: int, today: date) -> Any:
    return conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id)
        .where(
            _hold.c.work_id == work_id,
            _hold.c.item_id.is_(None),
            or_(_hold.c.suspended_until.is_(None), _hold.c.suspended_until <= today),
        )
        .order_by(_hold.c.placed_at, _hold.c.id)
        .limit(1)
        .with_for_update()
    ).first()


def route_item(
    conn: Connection, item_id: int, work_id: int, at_branch_id: int, now: datetime
) -> Routing:
    """Give a copy that is free at `at_branch_id` to the first eligible reservation.

    Ready at once when the pickup branch is where the copy is, else in transit. With nobody
    eligible the copy is `available`. The caller has locked the item row.
    """
    today = library_today(now)
    reservable = conn.execute(
        select(_mtype.c.reservable)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(_item.c.id == item_id)
    ).scalar()
    if not reservable or not _lock_work(conn, work_id):
        conn.execute(_item.update().where(_item.c.id == item_id).values(status=rules.AVAILABLE))
        return Routing(rules.AVAILABLE)
    nxt = _next_hold(conn, work_id, today)
    if nxt is None:
        conn.execute(_item.update().where(_item.c.id == item_id).values(status=rules.AVAILABLE))
        return Routing(rules.AVAILABLE)
    ja, en = _branch_names(conn, nxt.pickup_branch_id)
    if nxt.pickup_branch_id == at_branch_id:
        _make_ready(conn, nxt.id, item_id, now)
        log.info("hold ready branch=%s", nxt.pickup_branch_id)
        return Routing(READY, ja, en)
    conn.execute(
        _hold.update().where(_hold.c.id == nxt.id).values(state=IN_TRANSIT, item_id=item_id)
    )
    conn.execute(_item.update().where(_item.c.id == item_id).values(status=rules.IN_TRANSIT))
    log.info("hold in transit to branch=%s", nxt.pickup_branch_id)
    return Routing(IN_TRANSIT, ja, en)


def _reroute(conn: Connection, item_id: int, work_id: int, old: Row[Any], now: datetime) -> None:
    """A copy set aside for a reservation that ended: to the next in line, or back."""
    item = conn.execute(
        select(_item.c.id, _item.c.status).where(_item.c.id == item_id).with_for_update()
    ).one()
    if item.status == rules.IN_TRANSIT:
        # Still travelling: the next reservation takes it wherever it goes.
        nxt = _next_hold(conn, work_id, library_today(now))
        if nxt is not None:
            conn.execute(
                _hold.update().where(_hold.c.id == nxt.id).values(state=IN_TRANSIT, item_id=item_id)
            )
        return  # with nobody waiting, receiving it puts it back on the shelf
    route_item(conn, item_id, work_id, old.pickup_branch_id, now)


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
    _lock_work(conn, work_id)
    hold = conn.execute(
        select(_hold)
        .where(_hold.c.patron_id == patron_id, _hold.c.work_id == work_id)
        .with_for_update()
    ).first()
    if hold is None:
        return
    conn.execute(_hold.delete().where(_hold.c.id == hold.id))
    _bump(conn, library_today(now), hold.pickup_branch_id, "", FILLED)
    if hold.item_id is not None and hold.item_id != item_id:
        _reroute(conn, hold.item_id, work_id, hold, now)
    log.info("hold filled branch=%s", hold.pickup_branch_id)


def held_for(conn: Connection, item_id: int) -> int | None:
    """The patron a copy on the hold shelf (or in transit) is set aside for."""
    found = conn.execute(select(_hold.c.patron_id).where(_hold.c.item_id == item_id)).scalar()
    return int(found) if found is not None else None


def receive_item(
    conn: Connection, barcode: str, now: datetime, at_branch_id: int | None = None
) -> Routing:
    """A copy in transit arrived at its pickup branch: the reservation becomes ready.

    With `at_branch_id` (the counter's branch) a copy that arrived somewhere else is refused
    with the branch it must go on to, and stays in transit."""
    item = conn.execute(
        select(_item.c.id, _item.c.status, _item.c.work_id)
        .where(_item.c.barcode == barcode.strip())
        .with_for_update()
    ).first()
    if item is None:
        raise NotFound("この資料番号は登録されていません。 / Unknown item barcode.")
    if item.status != rules.IN_TRANSIT:
        raise NotInTransit()
    _lock_work(conn, item.work_id)
    hold = conn.execute(
        select(_hold.c.id, _hold.c.pickup_branch_id)
        .where(_hold.c.item_id == item.id)
        .with_for_update()
    ).first()
    if hold is None:
        conn.execute(_item.update().where(_item.c.id == item.id).values(status=rules.AVAILABLE))
        return Routing(rules.AVAILABLE)
    if at_branch_id is not None and hold.pickup_branch_id != at_branch_id:
        ja, en = _branch_names(conn, hold.pickup_branch_id)
        raise HoldRefused(
            f"この資料の受取館は{ja}です。そちらへ回送してください。 / "
            f"This item is for pickup at {en}: send it on there."
        )
    _make_ready(conn, hold.id, item.id, now)
    ja, en = _branch_names(conn, hold.pickup_branch_id)
    return Routing(READY, ja, en)


def expire_holds(conn: Connection, now: datetime) -> int:
    """Delete ready reservations not collected in time; their copies go to the next in line."""
    today = library_today(now)
    due = conn.execute(
        select(_hold.c.id, _hold.c.item_id, _hold.c.work_id)
        .where(_hold.c.state == READY, _hold.c.ready_until < today)
        .order_by(_hold.c.id)
    ).all()
    expired = 0
    for candidate in due:
        if candidate.item_id is not None:
            _lock_item(conn, candidate.item_id)
        _lock_work(conn, candidate.work_id)
        hold = conn.execute(
            select(_hold)
            .where(_hold.c.id == candidate.id, _hold.c.state == READY, _hold.c.ready_until < today)
            .with_for_update()
        ).first()
        if hold is None:  # collected or cancelled meanwhile
            continue
        conn.execute(_hold.delete().where(_hold.c.id == hold.id))
        _bump(conn, today, hold.pickup_branch_id, "", EXPIRED)
        if hold.item_id is not None:
            route_item(conn, hold.item_id, hold.work_id, hold.pickup_branch_id, now)
        expired += 1
        log.info("hold expired branch=%s", hold.pickup_branch_id)
    return expired


def queue_due_reminders(conn: Connection, now: datetime) -> int:
    """Queue one due-date reminder per patron who asked for it, once per loan. → mails."""
    today = library_today(now)
    rows = conn.execute(
        select(
            _loan.c.id,
            _loan.c.patron_id,
            _loan.c.due_on,
            _work.c.title,
            _patron.c.email,
            _patron.c.lang,
            _pref.c.due_reminder_days,
        )
        .select_from(
            _loan.join(_patron, _patron.c.id == _loan.c.patron_id)
            .join(_pref, _pref.c.patron_id == _patron.c.id)
            .join(_item, _item.c.id == _loan.c.item_id)
            .join(_work, _work.c.id == _item.c.work_id)
        )
        .where(
            _pref.c.due_reminder_days.is_not(None),
            _patron.c.email.is_not(None),
            _loan.c.due_on >= today,
            ~exists().where(_reminder.c.loan_id == _loan.c.id),
        )
        .order_by(_loan.c.patron_id, _loan.c.due_on, _loan.c.id)
        .with_for_update(of=_loan)
    ).all()
    per_patron: dict[int, list[Any]] = {}
    for row in rows:
        if row.due_on <= today + timedelta(days=row.due_reminder_days):
            per_patron.setdefault(row.patron_id, []).append(row)
    sent = 0
    for loans in per_patron.values():
        first = loans[0]
        subject, body = notices.due_reminder(first.lang, [(r.title, r.due_on) for r in loans])
        try:
            with conn.begin_nested():
                mail_id = mail.enqueue(
                    conn,
                    kind="due_reminder",
                    to_addr=first.email,
                    subject=subject,
                    body=body,
                    now=now,
                )
        except QueryError:
            log.warning("due_reminder not queued: unusable address")
            continue
        conn.execute(_reminder.insert(), [{"loan_id": r.id, "mail_id": mail_id} for r in loans])
        sent += 1
    return sent
