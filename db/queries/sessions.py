"""Patron sessions: the live session of a cookie, the patron's list of logins, logging out.

Most requests only read the session; a write happens only to end a stale one or, at most
once a minute (more often for short kiosk timeouts: `touch_interval`), to record use
(`get_session`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db import sessions
from db.engine import reads, writes
from db.errors import NotFound
from db.sessions import PATRON, Timeouts, digest, touch_interval

__all__ = [
    "SessionInfo",
    "SessionListing",
    "Timeouts",
    "end_my_other_sessions",
    "end_my_session",
    "get_session",
    "list_my_sessions",
    "log_out",
    "touch_interval",
]

_table = PATRON.table


@dataclass(frozen=True)
class SessionInfo:
    patron_id: int
    csrf_token: str
    kiosk: bool
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class SessionListing:
    handle: str  # a short, non-secret handle (prefix of the stored hash) to end it by
    device: str
    created_at: datetime
    last_seen_at: datetime
    kiosk: bool
    current: bool


@reads
def _read_session(
    conn: Connection, now: datetime, token: str, timeouts: Timeouts, kiosk_timeouts: Timeouts
) -> tuple[SessionInfo | None, str]:
    """The live session for a cookie token (or None) and the upkeep it needs, if any.

    Reading only: most requests need no write, so they never take the write lock."""
    if not token or len(token) > 64:
        return None, ""
    row = conn.execute(select(_table).where(_table.c.id == digest(token))).first()
    if row is None:
        return None, ""
    action = sessions.upkeep_of(row, now, (kiosk_timeouts if row.kiosk else timeouts).idle)
    if action == sessions.EXPIRE:
        return None, action
    info = SessionInfo(
        row.patron_id, row.csrf_token, bool(row.kiosk), row.created_at, row.last_seen_at
    )
    return info, action


@writes
def _upkeep(conn: Connection, now: datetime, token: str, action: str) -> None:
    sessions.upkeep(conn, PATRON, token, action, now)


def get_session(token: str, timeouts: Timeouts, kiosk_timeouts: Timeouts) -> SessionInfo | None:
    """The live session of a cookie token. A write happens only to end a stale session or,
    at most once a minute, to record use."""
    info, action = _read_session(token, timeouts, kiosk_timeouts)
    if action:
        _upkeep(token, action)
    return info


@writes
def log_out(conn: Connection, now: datetime, token: str) -> None:
    sessions.end(conn, PATRON, token)


@reads
def list_my_sessions(
    conn: Connection, now: datetime, patron_id: int, current_token: str
) -> tuple[SessionListing, ...]:
    current = digest(current_token)
    return tuple(
        SessionListing(
            row.id[:12],
            row.device,
            row.created_at,
            row.last_seen_at,
            bool(row.kiosk),
            row.id == current,
        )
        for row in conn.execute(
            select(_table)
            .where(_table.c.patron_id == patron_id)
            .order_by(_table.c.last_seen_at.desc())
        )
    )


@writes
def end_my_session(conn: Connection, now: datetime, patron_id: int, handle: str) -> None:
    if len(handle) != 12 or not all(c in "0123456789abcdef" for c in handle):
        raise NotFound("session_not_found")
    result = conn.execute(
        text("DELETE FROM web_session WHERE patron_id = :p AND id LIKE :h"),
        {"p": patron_id, "h": handle + "%"},
    )
    if not result.rowcount:
        raise NotFound("session_not_found")


@writes
def end_my_other_sessions(
    conn: Connection, now: datetime, patron_id: int, current_token: str
) -> int:
    return sessions.end_all(conn, PATRON, patron_id, current_token)
