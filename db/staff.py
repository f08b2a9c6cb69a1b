"""What the staff features share (db.queries.staff_accounts, .staff_sessions,
.second_factor, .staff_patrons, .audit, .counter): the actor behind a request, session
rows, the account rules read from the policy, and the append-only audit row.

Every function takes a `Connection` inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from db import passwords, sessions, throttle
from db.clock import aware_utc
from db.errors import QueryError, Refusal
from db.models import TABLES
from db.sessions import Timeouts
from db.staff_policy import policy

_patron = TABLES["patron"]
_audit = TABLES["staff_audit"]

STAFF_LOGIN_CODE = throttle.Limit(
    "staff:code", 5, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)

# staff_audit: actions and outcomes
VIEW, EDIT, SEARCH = "view", "edit", "search"
ALLOWED, REFUSED = "allowed", "refused"
# A manager's actions on staff accounts (screen ACCOUNTS, the account in target_staff_code).
ACCOUNTS = "staff_accounts"
ACCOUNT_CREATE, ACCOUNT_EDIT = "account_create", "account_edit"
ACCOUNT_ENROL_LINK, ACCOUNT_END = "account_enrol_link", "account_end"


class StaffRefused(QueryError):
    """The actor's role may not do this; the attempt was recorded (db.staff.refuse)."""

    code = "staff_refused"


class StaffFormRefused(QueryError):
    """Input that cannot be saved; `errors` maps each field to its refusal."""

    def __init__(self, errors: dict[str, Refusal]) -> None:
        super().__init__("check_fields")
        self.errors = errors


@dataclass(frozen=True)
class StaffActor:
    """The staff member behind a request, as the policy sees them."""

    staff_id: int
    staff_code: str
    name: str
    role: str
    duties: tuple[str, ...]
    branch_id: int


@dataclass(frozen=True)
class StaffLogin:
    token: str
    csrf_token: str


def ended(row: Row[Any], today: date) -> bool:
    """Whether the account's end date has passed."""
    ends_on: date | None = row.ends_on
    return ends_on is not None and ends_on < today


def duties(raw: str) -> tuple[str, ...]:
    return tuple(d for d in raw.split(",") if d)


def setting(name: str) -> int:
    """An account rule of the policy file (password length, link hours …)."""
    return policy().settings[name]


def check_password(password: str, staff_code: str) -> None:
    minimum = setting("password_min_chars")
    if len(password) < minimum:
        raise passwords.PasswordRejected("staff_password_too_short", min=minimum)
    passwords.check_policy(password, staff_code, date(1900, 1, 1))


def create_session(
    conn: Connection, staff_id: int, now: datetime, timeouts: Timeouts, second_factor: bool
) -> StaffLogin:
    """A staff session row (db.sessions), with or without the second factor passed."""
    token, csrf = sessions.create(
        conn, sessions.STAFF, staff_id, now, timeouts, second_factor=second_factor, counter_state=""
    )
    return StaffLogin(token, csrf)


def write_audit(
    conn: Connection,
    actor: StaffActor,
    patron_id: int | None,
    groups: list[str] | tuple[str, ...],
    screen: str,
    action: str,
    outcome: str,
    now: datetime,
    target_staff_code: str | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
) -> None:
    """One audit row. `changes` (code tables only, never a patron's values): each changed
    field with its value before and after, kept as JSON."""
    conn.execute(
        _audit.insert().values(
            at=aware_utc(now),
            staff_id=actor.staff_id,
            staff_code=actor.staff_code,
            branch_id=actor.branch_id,
            patron_id=patron_id,
            field_groups=",".join(groups)[:200],
            screen=screen[:40],
            action=action,
            outcome=outcome,
            target_staff_code=target_staff_code,
            changes=_changes_json(changes) if changes else None,
        )
    )


def _changes_json(changes: Mapping[str, tuple[Any, Any]]) -> str:
    return json.dumps({k: list(v) for k, v in changes.items()}, ensure_ascii=False, default=str)


def refuse(
    conn: Connection,
    actor: StaffActor,
    patron_id: int | None,
    groups: tuple[str, ...],
    screen: str,
    action: str,
    now: datetime,
) -> None:
    """Record a refused attempt (the web tier refused the route for this role)."""
    exists = (
        patron_id is not None
        and conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id)).first()
    )
    write_audit(conn, actor, patron_id if exists else None, groups, screen, action, REFUSED, now)
