"""The audit of staff looks at personal data (seed 002): the staff's search, the patron's
own list of days and branches, and refusals the web tier records. Managers' actions on staff
accounts are in the same log (no patron; the account in `target_staff_code`).

The audit table has no UPDATE or DELETE path in the code, and database triggers refuse
both. Rows are written by db.staff.write_audit in the transaction that showed the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from db import staff
from db.clock import LIBRARY_TZ, aware_utc, library_today
from db.engine import reads, writes
from db.localized import Localized
from db.models import TABLES
from db.staff import ALLOWED, REFUSED, StaffActor

__all__ = [
    "AuditQuery",
    "AuditRow",
    "StaffLook",
    "list_staff_looks_at_me",
    "record_staff_refusal",
    "search_staff_audit",
]

_patron = TABLES["patron"]
_branch = TABLES["branch"]
_audit = TABLES["staff_audit"]

SCREENS = ("patron_lookup", "patron_record", "patron_edit", "counter")


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    staff_code: str
    staff_name: str
    branch_code: str
    card_number: str | None
    field_groups: tuple[str, ...]
    screen: str
    action: str
    outcome: str
    target_staff_code: str | None = None  # a manager's action on this staff account
    # A code-table change: (field, before, after) as text (db.queries.code_tables).
    changes: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class AuditQuery:
    staff_code: str = ""
    card_number: str = ""
    day_from: date | None = None
    day_to: date | None = None
    outcome: str = ""
    limit: int = 200


@dataclass(frozen=True)
class StaffLook:
    """For the patron: a day a staff member at a branch looked at their record."""

    day: date
    branch: Localized


@writes
def record_staff_refusal(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    patron_id: int | None,
    groups: tuple[str, ...],
    screen: str,
    action: str,
) -> None:
    """Record a refused attempt (the web tier refused the route for this role)."""
    staff.refuse(conn, actor, patron_id, groups, screen, action, now)


@reads
def search_staff_audit(conn: Connection, now: datetime, query: AuditQuery) -> tuple[AuditRow, ...]:
    account = TABLES["staff_account"]
    stmt = (
        select(
            _audit,
            account.c.name.label("staff_name"),
            _branch.c.code.label("branch_code"),
            _patron.c.card_number,
        )
        .select_from(
            _audit.outerjoin(account, account.c.id == _audit.c.staff_id)
            .outerjoin(_branch, _branch.c.id == _audit.c.branch_id)
            .outerjoin(_patron, _patron.c.id == _audit.c.patron_id)
        )
        .order_by(_audit.c.at.desc(), _audit.c.id.desc())
        .limit(max(1, min(query.limit, 1000)))
    )
    if query.staff_code:
        stmt = stmt.where(_audit.c.staff_code == query.staff_code.strip())
    if query.card_number:
        stmt = stmt.where(_patron.c.card_number == query.card_number.strip())
    if query.outcome in (ALLOWED, REFUSED):
        stmt = stmt.where(_audit.c.outcome == query.outcome)
    if query.day_from is not None:
        stmt = stmt.where(_audit.c.at >= _day_start(query.day_from))
    if query.day_to is not None:
        stmt = stmt.where(_audit.c.at < _day_start(query.day_to + timedelta(days=1)))
    return tuple(
        AuditRow(
            row.id,
            aware_utc(row.at),
            row.staff_code,
            row.staff_name or "",
            row.branch_code or "",
            row.card_number,
            tuple(g for g in row.field_groups.split(",") if g),
            row.screen,
            row.action,
            row.outcome,
            row.target_staff_code,
            _changes(row.changes),
        )
        for row in conn.execute(stmt)
    )


def _changes(raw: str | None) -> tuple[tuple[str, str, str], ...]:
    found = json.loads(raw) if raw else {}
    return tuple(
        (str(field), _text(pair[0]), _text(pair[1]))
        for field, pair in found.items()
        if isinstance(pair, list) and len(pair) == 2
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _day_start(day: date) -> datetime:
    """Midnight of a library-local day, as stored (naive UTC)."""
    local = datetime(day.year, day.month, day.day, tzinfo=LIBRARY_TZ)
    return aware_utc(local)


@reads
def list_staff_looks_at_me(
    conn: Connection, now: datetime, patron_id: int
) -> tuple[StaffLook, ...]:
    """The days and branches at which staff saw this patron's personal data (no names)."""
    rows = conn.execute(
        select(_audit.c.at, _branch.c.names)
        .select_from(_audit.join(_branch, _branch.c.id == _audit.c.branch_id))
        .where(_audit.c.patron_id == patron_id, _audit.c.outcome == ALLOWED)
        .order_by(_audit.c.at.desc())
        .limit(2000)
    )
    seen: list[StaffLook] = []
    for row in rows:
        look = StaffLook(library_today(aware_utc(row.at)), Localized.of(row.names))
        if look not in seen:
            seen.append(look)
    return tuple(seen[:200])
