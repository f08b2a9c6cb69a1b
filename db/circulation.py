"""Circulation: checkout, return, renewal, the patron's loan list and anonymous counts.

The core shared by the patron's loans, the staff counter and the staff's patron record
(db.queries.loans, .counter, .staff_patrons). Every function takes a `Connection` inside
the caller's transaction (opened by db.engine's `reads` / `writes`) and the current time
`now` (aware).

Privacy is kept by the data model: a `loan` row exists only while the item is out, and
`return_item` deletes it. After a return nothing links the patron to the item — the item
row carries only its status, `patron.last_loan_on` is a date without the item, and
`daily_count` holds anonymous counts per day, branch and material type. Log lines here
name events, branches and material types only — never a card number, barcode, patron id,
item id or title.

Dates: "today" is the library's local date (`db.clock.LIBRARY_TZ`, Asia/Tokyo — libraries using
Shiori are in Japan), so a book borrowed at 08:00 JST is due 14 local days later even though
it is still yesterday in UTC. Timestamps go in and come out aware, in UTC (the models'
UTCDateTime type).

Reservations (db.routing): a return hands the copy to the first eligible reservation of its
title (hold shelf or transit); a checkout to a patron who reserved the title deletes the
reservation; a copy on the hold shelf is lent only to the patron it is set aside for.

Loan rules (db.loan_rules): the loan period, the items of a type a patron may have out and
the renewals come from the rule of the patron's category and the copy's material type.
The counter refuses a checkout for a patron with overdue items or at a limit, or — where
the rule says "warn" — lends only when staff confirm (`confirm=True`). A due date is always
`due_date_for` (checkout and renewal alike); a renewal counts from the day of renewal, and
one that would not move the due date is refused and uses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, text
from sqlalchemy.engine import Connection

from db import calendar, engine, loan_rules, models, reminders, routing, rules
from db.catalog_write import SEP
from db.clock import aware_utc, library_today
from db.counts import bump
from db.errors import NotFound, QueryError, Refusal
from db.localized import Localized
from db.patrons import DEMO_PATRONS

log = logging.getLogger(__name__)

_T = models.Loan.metadata.tables  # every table of db.models
_loan = _T["loan"]
_item = _T["item"]
_work = _T["work"]
_branch = _T["branch"]
_mtype = _T["material_type"]
_patron = _T["patron"]
_count = _T["daily_count"]
_hold = _T["hold"]

# daily_count events
CHECKOUT = "checkout"
RETURN = "return"
RENEW = "renew"

# Why a loan cannot be renewed: refusal codes (db.errors), worded by web.
OVERDUE = "renewal_overdue"
RENEWAL_LIMIT_REACHED = "renewal_limit"
HOLDS_WAITING = "renewal_holds_waiting"
NOT_RENEWABLE_TYPE = "renewal_not_for_loan"
TOO_SOON = "renewal_too_soon"  # due: the current due date; days: the loan period


def renewal_refusal(reason: str, limit: int = rules.RENEWAL_LIMIT) -> Refusal:
    """A renewal refusal without a date (the limit, for the renewal limit)."""
    if reason == RENEWAL_LIMIT_REACHED:
        return Refusal.of(reason, limit=limit)
    return Refusal.of(reason)


def due_date_for(conn: Connection, branch_id: int, start: date, loan_days: int) -> date:
    """The due date of a loan (or renewal) made on library-local day `start` at a copy of
    `branch_id` for `loan_days` days, moved to the next day that branch is open
    (db.calendar): the one place a due date is computed."""
    return calendar.next_open_day(conn, branch_id, start + timedelta(days=loan_days))


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------


class CirculationRefused(QueryError):
    """A checkout, return or renewal the counter (or the patron) should be told about."""


class UnknownCard(CirculationRefused):
    code = "unknown_card"


class CardExpired(CirculationRefused):
    code = "card_expired"


class UnknownBarcode(CirculationRefused):
    code = "unknown_barcode"


class AlreadyOnLoan(CirculationRefused):
    code = "already_on_loan"


class NotForLoan(CirculationRefused):
    code = "not_for_loan"


_UNAVAILABLE = {
    rules.MISSING: "item_missing",
    rules.IN_PROCESS: "item_in_process",
    rules.IN_TRANSIT: "item_in_transit",
    rules.ON_HOLD_SHELF: "item_on_hold_shelf",
    rules.TO_PULL: "item_to_pull",
}


class ItemUnavailable(CirculationRefused):
    def __init__(self, status: str) -> None:
        super().__init__(_UNAVAILABLE.get(status, "item_unavailable"))
        self.status = status


class PatronBlocked(CirculationRefused):
    """The patron has overdue items or is at a limit: the counter refuses, or — where the
    loan rule says "warn" — lends once staff confirm (`confirmable`)."""

    def __init__(self, code: str, confirmable: bool, **params: object) -> None:
        super().__init__(code, **params)
        self.confirmable = confirmable


class HasOverdue(PatronBlocked):
    def __init__(self, count: int, confirmable: bool = False) -> None:
        # A warning says what is wrong, not that the loan cannot be made.
        code = "checkout_overdue_warn" if confirmable else "checkout_overdue"
        super().__init__(code, confirmable, count=count)


class LoanLimitReached(PatronBlocked):
    """The library's total per patron (rules.LOAN_LIMIT)."""

    def __init__(self, limit: int = rules.LOAN_LIMIT, confirmable: bool = False) -> None:
        super().__init__("loan_limit", confirmable, limit=limit)


class MaterialLimitReached(PatronBlocked):
    """The rule's number of items of this material type for the patron's category."""

    def __init__(self, limit: int, material: Localized, confirmable: bool = False) -> None:
        super().__init__("loan_limit_material", confirmable, limit=limit, material=material)


class NotOnLoan(CirculationRefused):
    code = "not_on_loan"


class RenewalRefused(CirculationRefused):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code, **refusal.values)
        self.reason = refusal.code


class LoanNotFound(NotFound):
    code = "loan_not_found"


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoanView:
    id: int
    work_id: int
    title: str
    authors: tuple[str, ...]
    branch: Localized
    barcode: str
    checked_out_at: datetime  # aware, UTC
    due_on: date  # library-local date
    renewals: int
    overdue: bool
    renewable: bool
    refusal: Refusal | None  # why it cannot be renewed


@dataclass(frozen=True)
class CheckoutReceipt:
    loan_id: int
    title: str
    due_on: date
    patron_id: int = 0
    # Lent although a "warn" rule warned (overdue items, a limit): staff confirmed.
    overridden: bool = False


@dataclass(frozen=True)
class ReturnReceipt:
    title: str
    was_overdue: bool
    # Where the copy goes now (db.routing): "available" (reshelve), "ready" (hold shelf at
    # route_branch) or "in_transit" (send to route_branch). Names no patron.
    route: str = rules.AVAILABLE
    route_branch: Localized | None = None
    # A copy checked in that was not lent but found: "to_pull" (set aside on a pull list),
    # "missing" or "in_transit" (received from transit: no reservation holds it); "" for a
    # return.
    found: str = ""


@dataclass(frozen=True)
class RenewAllReport:
    renewed: tuple[str, ...]  # titles
    refused: tuple[tuple[str, Refusal], ...]  # (title, why)


@dataclass(frozen=True)
class DailyCountView:
    day: date
    branch_code: str
    material_type: str
    event: str
    count: int


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _holds_waiting(conn: Connection, work_id: int) -> bool:
    """Whether someone has reserved this work, so a renewal would keep it from them.

    Reservations that already have a copy set aside (in transit, on the shelf) wait for
    nobody's loan; suspended ones still count (they keep their place).
    """
    found = conn.execute(
        text("SELECT 1 FROM hold WHERE work_id = :work_id AND item_id IS NULL LIMIT 1"),
        {"work_id": work_id},
    ).first()
    return found is not None


def _loan_select() -> Select[Any]:
    return select(
        _loan.c.id,
        _loan.c.item_id,
        _loan.c.checked_out_at,
        _loan.c.due_on,
        _loan.c.renewals,
        _item.c.work_id,
        _item.c.barcode,
        _item.c.branch_id,
        _item.c.material_type,
        _work.c.title,
        _work.c.authors,
        _branch.c.names.label("branch_names"),
        loan_rules.loan_days_col().label("loan_days"),
        loan_rules.max_renewals_col().label("max_renewals"),
    ).select_from(
        _loan.join(_item, _item.c.id == _loan.c.item_id)
        .join(_work, _work.c.id == _item.c.work_id)
        .join(_branch, _branch.c.id == _item.c.branch_id)
        .join(_mtype, _mtype.c.code == _item.c.material_type)
        .join(_patron, _patron.c.id == _loan.c.patron_id)
        .outerjoin(
            loan_rules.loan_rule, loan_rules.joined(_patron.c.category, _item.c.material_type)
        )
    )


def _patron_loans(
    conn: Connection, patron_id: int, *where: ColumnElement[bool], lock: bool = False
) -> list[Row[Any]]:
    stmt = (
        _loan_select()
        .where(_loan.c.patron_id == patron_id, *where)
        .order_by(_loan.c.due_on, _loan.c.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=_loan)  # PostgreSQL; SQLite holds BEGIN IMMEDIATE
    return list(conn.execute(stmt))


def _renewed_due(conn: Connection, row: Row[Any], today: date) -> date:
    return due_date_for(conn, row.branch_id, today, row.loan_days)


def _refusal(conn: Connection, row: Row[Any], today: date) -> Refusal | None:
    """Why this loan cannot be renewed today, or None."""
    if row.due_on < today:
        return renewal_refusal(OVERDUE)
    if row.loan_days <= 0:
        return renewal_refusal(NOT_RENEWABLE_TYPE)
    if row.renewals >= row.max_renewals:
        return renewal_refusal(RENEWAL_LIMIT_REACHED, row.max_renewals)
    if _holds_waiting(conn, row.work_id):
        return renewal_refusal(HOLDS_WAITING)
    if _renewed_due(conn, row, today) <= row.due_on:
        # Renewing now (on the loan day, say) would not move the date: it would only use up
        # a renewal.
        return Refusal.of(TOO_SOON, due=row.due_on, days=row.loan_days)
    return None


def _view(row: Row[Any], today: date, refusal: Refusal | None) -> LoanView:
    return LoanView(
        id=row.id,
        work_id=row.work_id,
        title=row.title,
        authors=tuple(a for a in row.authors.split(SEP) if a) if row.authors else (),
        branch=Localized.of(row.branch_names),
        barcode=row.barcode,
        checked_out_at=aware_utc(row.checked_out_at),
        due_on=row.due_on,
        renewals=row.renewals,
        overdue=row.due_on < today,
        renewable=refusal is None,
        refusal=refusal,
    )


def _renew_row(conn: Connection, row: Row[Any], today: date) -> date:
    # From today, as Japanese libraries do; never earlier than the current due date (a
    # renewal that would not move it is refused before this: see _refusal).
    due_on: date = max(row.due_on, _renewed_due(conn, row, today))
    conn.execute(
        _loan.update()
        .where(_loan.c.id == row.id)
        .values(due_on=due_on, renewals=_loan.c.renewals + 1)
    )
    bump(conn, today, row.branch_id, row.material_type, RENEW)
    log.info("renew branch=%s material=%s", row.branch_id, row.material_type)
    return due_on


# ---------------------------------------------------------------------------------------
# Patron side
# ---------------------------------------------------------------------------------------


def list_loans(conn: Connection, patron_id: int, now: datetime) -> tuple[LoanView, ...]:
    """The patron's current loans, soonest due first."""
    today = library_today(now)
    return tuple(_view(r, today, _refusal(conn, r, today)) for r in _patron_loans(conn, patron_id))


def renew(conn: Connection, patron_id: int, loan_id: int, now: datetime) -> LoanView:
    """Renew one of the patron's loans: due today + the rule's loan days, later than before.
    Another patron's → NotFound."""
    today = library_today(now)
    rows = _patron_loans(conn, patron_id, _loan.c.id == loan_id, lock=True)
    if not rows:
        raise LoanNotFound()
    row = rows[0]
    reason = _refusal(conn, row, today)
    if reason is not None:
        raise RenewalRefused(reason)
    _renew_row(conn, row, today)
    (fresh,) = _patron_loans(conn, patron_id, _loan.c.id == loan_id)
    return _view(fresh, today, _refusal(conn, fresh, today))


def renew_all(conn: Connection, patron_id: int, now: datetime) -> RenewAllReport:
    """Renew every loan that may be renewed; report the others with the reason."""
    today = library_today(now)
    renewed: list[str] = []
    refused: list[tuple[str, Refusal]] = []
    for row in _patron_loans(conn, patron_id, lock=True):
        reason = _refusal(conn, row, today)
        if reason is None:
            _renew_row(conn, row, today)
            renewed.append(row.title)
        else:
            refused.append((row.title, reason))
    return RenewAllReport(renewed=tuple(renewed), refused=tuple(refused))


# ---------------------------------------------------------------------------------------
# Counter side
# ---------------------------------------------------------------------------------------


def checkout(
    conn: Connection,
    card_number: str,
    barcode: str,
    now: datetime,
    confirm: bool = False,
    at_branch_id: int | None = None,
) -> CheckoutReceipt:
    """Lend an item to a patron. Due date: today (library-local) + the loan days of the rule
    for the patron's category and the copy's material type (`due_date_for`), on a day the
    lending branch is open: `at_branch_id` (the counter's), else the pickup branch of the
    reservation the copy was set aside for, else the copy's own branch.

    A patron with overdue items or at a limit is refused (`PatronBlocked`); where the rule
    says "warn" the refusal is `confirmable` and `confirm=True` (staff confirmed) lends —
    within the library's total LOAN_LIMIT, which no rule lifts."""
    today = library_today(now)
    patron = conn.execute(
        select(_patron.c.id, _patron.c.expires_on, _patron.c.category)
        .where(_patron.c.card_number == card_number.strip())
        .with_for_update()  # the loan limit below counts this patron's loans
    ).first()
    if patron is None:
        raise UnknownCard()
    if patron.expires_on < today:
        raise CardExpired()
    item = conn.execute(
        select(
            _item.c.id,
            _item.c.status,
            _item.c.branch_id,
            _item.c.material_type,
            _item.c.work_id,
            _work.c.title,
            _mtype.c.loan_days,
            _mtype.c.names.label("material_names"),
            _loan.c.id.label("loan_id"),
        )
        .select_from(
            _item.join(_work, _work.c.id == _item.c.work_id)
            .join(_mtype, _mtype.c.code == _item.c.material_type)
            .outerjoin(_loan, _loan.c.item_id == _item.c.id)
        )
        .where(_item.c.barcode == barcode.strip())
        .with_for_update(of=_item)
    ).first()
    if item is None:
        raise UnknownBarcode()
    rule = loan_rules.rule_for(conn, patron.category, item.material_type)
    if item.loan_days <= 0 or rule.loan_days <= 0:
        raise NotForLoan()
    if item.loan_id is not None or item.status == rules.ON_LOAN:
        raise AlreadyOnLoan()
    if item.status != rules.AVAILABLE and not (
        item.status in (rules.ON_HOLD_SHELF, rules.TO_PULL)
        and routing.held_for(conn, item.id) == patron.id
    ):
        raise ItemUnavailable(item.status)
    material = Localized.of(item.material_names)
    overridden = False
    try:
        _check_patron(conn, patron.id, rule, material, today, confirmed=False)
    except PatronBlocked as blocked:
        if not (confirm and rule.warns and blocked.confirmable):
            raise
        # Staff lent despite the warning (the counter audits it); the total limit still holds.
        _check_patron(conn, patron.id, rule, material, today, confirmed=True)
        overridden = True
    pickup = conn.execute(
        select(_hold.c.pickup_branch_id).where(_hold.c.item_id == item.id)
    ).scalar()
    lending = at_branch_id or pickup or item.branch_id
    due_on = due_date_for(conn, lending, today, rule.loan_days)
    loan_id = conn.execute(
        _loan.insert()
        .values(
            patron_id=patron.id,
            item_id=item.id,
            checked_out_at=aware_utc(now),
            due_on=due_on,
            renewals=0,
        )
        .returning(_loan.c.id)
    ).scalar_one()
    routing.set_status(conn, item.id, rules.ON_LOAN)
    conn.execute(
        _patron.update()
        .where(
            _patron.c.id == patron.id,
            (_patron.c.last_loan_on.is_(None)) | (_patron.c.last_loan_on < today),
        )
        .values(last_loan_on=today)
    )
    routing.on_checkout(conn, patron.id, item.id, item.work_id, now)
    bump(conn, today, item.branch_id, item.material_type, CHECKOUT)
    log.info("checkout branch=%s material=%s", item.branch_id, item.material_type)
    return CheckoutReceipt(
        loan_id=int(loan_id),
        title=item.title,
        due_on=due_on,
        patron_id=int(patron.id),
        overridden=overridden,
    )


def _check_patron(
    conn: Connection,
    patron_id: int,
    rule: loan_rules.LoanRule,
    material: Localized,
    today: date,
    confirmed: bool,
) -> None:
    """Overdue items first (the reason staff most need to tell), then the limits.
    `confirmed`: staff confirmed what a "warn" rule only warns about (overdue items, the
    rule's limit); the library's total LOAN_LIMIT holds all the same."""
    counts = conn.execute(
        select(
            func.count().label("held"),
            func.count().filter(_loan.c.due_on < today).label("overdue"),
            func.count().filter(_item.c.material_type == rule.material_type).label("of_type"),
        )
        .select_from(_loan.join(_item, _item.c.id == _loan.c.item_id))
        .where(_loan.c.patron_id == patron_id)
    ).one()
    if counts.overdue and not confirmed:
        raise HasOverdue(int(counts.overdue), rule.warns)
    if counts.held >= rules.LOAN_LIMIT:  # no rule lifts the library's total
        raise LoanLimitReached(rules.LOAN_LIMIT)
    if counts.of_type >= rule.max_items and not confirmed:
        raise MaterialLimitReached(rule.max_items, material, rule.warns)


# Copies a return scan checks in although nobody borrowed them: the copy is in the
# building after all (return_item).
FOUND_STATUSES = (rules.TO_PULL, rules.MISSING)

_STRAY_STATUSES = (rules.ON_LOAN, rules.ON_HOLD_SHELF)


def _unheld(conn: Connection, item_id: int) -> bool:
    held = conn.execute(
        text("SELECT 1 FROM hold WHERE item_id = :id LIMIT 1"), {"id": item_id}
    ).first()
    return held is None


def _stray(conn: Connection, item_id: int, status: str) -> bool:
    """An item marked out (lent, on the hold shelf) that no loan or reservation accounts
    for — records migrated without their borrower, or the demo catalogue's anonymous
    statuses. As at any library counter, checking it in puts it back in circulation (or to
    the next reservation) instead of refusing the book in hand."""
    return status in _STRAY_STATUSES and _unheld(conn, item_id)


def _received(conn: Connection, item_id: int, status: str) -> bool:
    """A copy in transit that no reservation holds — going home (db.routing `_home`), or a
    migrated record: a return scan receives it as the receive scan does. Nothing was lent,
    so nothing is counted as returned."""
    return status == rules.IN_TRANSIT and _unheld(conn, item_id)


def return_item(
    conn: Connection, barcode: str, now: datetime, at_branch_id: int | None = None
) -> ReturnReceipt:
    """Check an item in: the loan row is deleted and only an anonymous count remains.

    The copy goes to the first eligible reservation of its title (hold shelf when the
    pickup branch is where it was returned, else transit), or back to `available`.

    A copy found in the building is checked in too (`ReturnReceipt.found`): one on a pull
    list goes to its reservation as the list's "found" scan does (db.routing.found), a
    missing one back into circulation through the same routing as a return.
    """
    today = library_today(now)
    row = conn.execute(
        select(
            _item.c.id,
            _item.c.branch_id,
            _item.c.material_type,
            _item.c.work_id,
            _work.c.title,
            _item.c.status,
            _loan.c.id.label("loan_id"),
            _loan.c.due_on,
        )
        .select_from(
            _item.join(_work, _work.c.id == _item.c.work_id).outerjoin(
                _loan, _loan.c.item_id == _item.c.id
            )
        )
        .where(_item.c.barcode == barcode.strip())
        .with_for_update(of=_item)
    ).first()
    if row is None:
        raise UnknownBarcode()
    # The copy is where it was handed in: the counter's branch when known (a patron may
    # return a book at any branch), else its own branch.
    here = at_branch_id if at_branch_id is not None else row.branch_id
    if row.loan_id is None and (
        row.status in FOUND_STATUSES or _received(conn, row.id, row.status)
    ):
        # Found in the building, or received from transit: nothing was lent, so nothing is
        # counted as returned.
        if row.status == rules.TO_PULL:  # as the pull list's "found" scan
            route = routing.found(conn, row.id, row.work_id, here, now)
        else:  # missing, in transit: to the next reservation, the shelf or home
            route = routing.route_item(conn, row.id, row.work_id, here, now)
        log.info("check-in found branch=%s status=%s", here, row.status)
        return ReturnReceipt(
            title=row.title,
            was_overdue=False,
            route=route.state,
            route_branch=route.branch,
            found=row.status,
        )
    if row.loan_id is None and not _stray(conn, row.id, row.status):
        raise NotOnLoan()
    if row.loan_id is not None:
        reminders.withdraw(conn, row.loan_id)
        conn.execute(_loan.delete().where(_loan.c.id == row.loan_id))
        engine.erase_after_commit(conn)
    route = routing.route_item(conn, row.id, row.work_id, here, now)
    bump(conn, today, row.branch_id, row.material_type, RETURN)
    log.info("return branch=%s material=%s", row.branch_id, row.material_type)
    return ReturnReceipt(
        title=row.title,
        was_overdue=row.due_on is not None and row.due_on < today,
        route=route.state,
        route_branch=route.branch,
    )


# ---------------------------------------------------------------------------------------
# Demo data and statistics
# ---------------------------------------------------------------------------------------

DEMO_OVERDUE_DAYS = 3  # the first overdue demo loan is this many days late, the next one more


def give_demo_loans(conn: Connection, now: datetime) -> int:
    """Give each demo patron (db.patrons.DEMO_PATRONS) its documented loans. Returns loans made.

    Only patrons that exist and have no loan get any, so running it again adds nothing. The
    items are the lowest-numbered available, loanable copies of works nobody has borrowed,
    one copy per work, so the demo people hold different books; the first
    `overdue` of a patron's loans were checked out long enough ago to be
    DEMO_OVERDUE_DAYS (+1 for each further one) days overdue today.
    """
    made = 0
    lent = _item.alias("lent")
    for demo in DEMO_PATRONS:
        card = demo.patron.card_number
        patron_id = conn.execute(
            select(_patron.c.id).where(_patron.c.card_number == card)
        ).scalar_one_or_none()
        if patron_id is None or demo.loans <= 0:
            continue
        has_loans = conn.execute(
            select(_loan.c.id).where(_loan.c.patron_id == patron_id).limit(1)
        ).first()
        if has_loans is not None:
            continue
        candidates = conn.execute(
            select(_item.c.barcode, _item.c.work_id, _mtype.c.loan_days)
            .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
            .where(
                _item.c.status == rules.AVAILABLE,
                _mtype.c.loan_days > 0,
                ~select(_loan.c.id)
                .select_from(_loan.join(lent, lent.c.id == _loan.c.item_id))
                .where(lent.c.work_id == _item.c.work_id)
                .exists(),
            )
            .order_by(_item.c.id)
            .limit(demo.loans * 10)
        )
        chosen: list[tuple[str, int]] = []  # (barcode, loan days)
        works: set[int] = set()
        for cand in candidates:
            if cand.work_id not in works:
                works.add(cand.work_id)
                chosen.append((cand.barcode, cand.loan_days))
            if len(chosen) == demo.loans:
                break
        # The overdue ones last: lent in the past, they are not overdue yet when lent, and
        # the loans made after them would be refused (a patron with overdue items).
        for n, (barcode, loan_days) in reversed(list(enumerate(chosen))):
            at = now
            if n < demo.overdue:
                at = now - timedelta(days=loan_days + DEMO_OVERDUE_DAYS + n)
            checkout(conn, card, barcode, at)
            made += 1
    return made


def daily_counts(conn: Connection, day_from: date, day_to: date) -> tuple[DailyCountView, ...]:
    """Anonymous counts (業務統計) for the days from `day_from` to `day_to`, inclusive."""
    rows = conn.execute(
        select(
            _count.c.day,
            _branch.c.code,
            _count.c.material_type,
            _count.c.event,
            _count.c.count.label("n"),
        )
        .select_from(_count.join(_branch, _branch.c.id == _count.c.branch_id))
        .where(_count.c.day >= day_from, _count.c.day <= day_to)
        .order_by(
            _count.c.day,
            _branch.c.sort_order,
            _branch.c.code,
            _count.c.material_type,
            _count.c.event,
        )
    )
    return tuple(
        DailyCountView(
            day=r.day,
            branch_code=r.code,
            material_type=r.material_type,
            event=r.event,
            count=r.n,
        )
        for r in rows
    )
