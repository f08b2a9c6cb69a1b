"""Staff sessions: logging in with the staff ID and password, the live session of a cookie,
logging out.

A session that has not passed the second factor (db.queries.second_factor) is only good
for the second-factor page (the web tier checks `second_factor`). After the account's end
date it cannot log in, and its sessions end on their next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from db import clock, passwords, sessions, staff, throttle
from db.clock import library_today
from db.engine import reads, writes
from db.errors import QueryError
from db.models import TABLES
from db.sessions import STAFF, Timeouts, digest
from db.staff import STAFF_LOGIN_CODE, StaffActor, StaffLogin

__all__ = [
    "StaffActor",
    "StaffLogin",
    "StaffLoginFailed",
    "StaffSessionInfo",
    "get_staff_session",
    "staff_log_in",
    "staff_log_out",
]

_account = TABLES["staff_account"]
_session = STAFF.table

STAFF_LOGIN_ADDRESS = throttle.Limit(
    "staff:address", 30, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)
# A browser that passed both factors for the account before (a device cookie).
STAFF_LOGIN_DEVICE = throttle.Limit(
    "staff:device", 5, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)


class StaffLoginFailed(QueryError):
    code = "staff_login_failed"


@dataclass(frozen=True)
class StaffSessionInfo:
    actor: StaffActor
    csrf_token: str
    second_factor: bool
    totp_enrolled: bool


@writes
def _reserve_account(
    conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]], code: str
) -> Row[Any] | None:
    throttle.reserve(conn, checks, now)
    return conn.execute(select(_account).where(_account.c.staff_code == code)).first()


def staff_log_in(
    staff_code: str,
    password: str,
    address: str,
    timeouts: Timeouts,
    known_device: str | None = None,
) -> StaffLogin:
    """A session that still needs the second factor; `StaffLoginFailed` for anything else.
    `known_device`: as for patrons (db.queries.accounts.log_in), the device's own limit
    replaces the account's and the address's."""
    code = staff_code.strip()[:20]
    checks = (
        [(STAFF_LOGIN_DEVICE, f"{code.casefold()}\x00{known_device}")]
        if known_device is not None
        else [(STAFF_LOGIN_CODE, code.casefold()), (STAFF_LOGIN_ADDRESS, address)]
    )
    try:
        row = _reserve_account(checks, code)
    except throttle.Throttled:
        passwords.verify(None, password)
        raise StaffLoginFailed() from None
    stored = getattr(row, "password_hash", None)
    if not passwords.verify(stored, password) or row is None:
        raise StaffLoginFailed()
    if staff.ended(row, library_today(clock.now())):
        raise StaffLoginFailed()
    rehashed = (
        passwords.hash_password(password) if stored and passwords.needs_rehash(stored) else None
    )
    return _start_session(checks, row.id, rehashed, timeouts)


@writes
def _start_session(
    conn: Connection,
    now: datetime,
    checks: list[tuple[throttle.Limit, str]],
    staff_id: int,
    rehashed: str | None,
    timeouts: Timeouts,
) -> StaffLogin:
    throttle.succeeded(conn, checks)
    if rehashed:
        conn.execute(
            _account.update().where(_account.c.id == staff_id).values(password_hash=rehashed)
        )
    return staff.create_session(conn, staff_id, now, timeouts, second_factor=False)


def get_staff_session(token: str, timeouts: Timeouts) -> StaffSessionInfo | None:
    """The live staff session of a cookie token; ended accounts and stale rows end here.
    As for patrons, a write happens only to end a session or, at most once a minute, to
    record use."""
    info, action = _read_staff_session(token, timeouts)
    if action:
        _upkeep(token, action)
    return info


@reads
def _read_staff_session(
    conn: Connection, now: datetime, token: str, timeouts: Timeouts
) -> tuple[StaffSessionInfo | None, str]:
    if not token or len(token) > 64:
        return None, ""
    row = conn.execute(
        select(_session, _account.c.staff_code, _account.c.name, _account.c.role)
        .add_columns(
            _account.c.duties,
            _account.c.branch_id,
            _account.c.ends_on,
            _account.c.password_hash,
            _account.c.totp_confirmed,
        )
        .select_from(_session.join(_account, _account.c.id == _session.c.staff_id))
        .where(_session.c.id == digest(token))
    ).first()
    if row is None:
        return None, ""
    action = sessions.upkeep_of(row, now, timeouts.idle)
    # An account past its end date, or reset for a new enrolment, ends its sessions too.
    if staff.ended(row, library_today(now)) or row.password_hash is None:
        action = sessions.EXPIRE
    if action == sessions.EXPIRE:
        return None, action
    actor = StaffActor(
        row.staff_id, row.staff_code, row.name, row.role, staff.duties(row.duties), row.branch_id
    )
    info = StaffSessionInfo(
        actor, row.csrf_token, bool(row.second_factor), bool(row.totp_confirmed)
    )
    return info, action


@writes
def _upkeep(conn: Connection, now: datetime, token: str, action: str) -> None:
    sessions.upkeep(conn, STAFF, token, action, now)


@writes
def staff_log_out(conn: Connection, now: datetime, token: str) -> None:
    sessions.end(conn, STAFF, token)
