"""Staff sessions: logging in with the staff ID and password, the live session of a cookie,
logging out.

A session that has not passed the second factor (db.queries.second_factor) is only good
for the second-factor page (the web tier checks `second_factor`). After the account's end
date it cannot log in, and its sessions end on their next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from db import clock, passwords, staff, throttle
from db.clock import aware_utc, library_today, naive_utc
from db.engine import writes
from db.errors import QueryError
from db.models import TABLES
from db.sessions import Timeouts, digest
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
_session = TABLES["staff_session"]
_TOUCH_EVERY = timedelta(seconds=60)

STAFF_LOGIN_ADDRESS = throttle.Limit(
    "staff:address", 30, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
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


def staff_log_in(staff_code: str, password: str, address: str, timeouts: Timeouts) -> StaffLogin:
    """A session that still needs the second factor; `StaffLoginFailed` for anything else."""
    code = staff_code.strip()[:20]
    checks = [(STAFF_LOGIN_CODE, code.casefold()), (STAFF_LOGIN_ADDRESS, address)]
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


@writes
def get_staff_session(
    conn: Connection, now: datetime, token: str, timeouts: Timeouts
) -> StaffSessionInfo | None:
    """The live staff session of a cookie token; ended accounts and stale rows end here."""
    if not token or len(token) > 64:
        return None
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
        return None
    naive_now = naive_utc(now)
    stale = (
        naive_utc(row.expires_at) <= naive_now
        or naive_utc(row.last_seen_at) + timeouts.idle <= naive_now
    )
    if stale or staff.ended(row, library_today(now)) or row.password_hash is None:
        conn.execute(_session.delete().where(_session.c.id == row.id))
        return None
    if naive_now - naive_utc(row.last_seen_at) >= _TOUCH_EVERY:
        conn.execute(
            _session.update().where(_session.c.id == row.id).values(last_seen_at=aware_utc(now))
        )
    actor = StaffActor(
        row.staff_id, row.staff_code, row.name, row.role, staff.duties(row.duties), row.branch_id
    )
    return StaffSessionInfo(
        actor, row.csrf_token, bool(row.second_factor), bool(row.totp_confirmed)
    )


@writes
def staff_log_out(conn: Connection, now: datetime, token: str) -> None:
    staff.end_session(conn, token)
