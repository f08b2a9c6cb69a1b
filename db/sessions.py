"""Server-side sessions. The browser holds a random 128-bit token; the table holds its
SHA-256, so a copy of the database cannot be replayed as cookies."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db.clock import naive_utc
from db.models import TABLES

_TOUCH_EVERY = timedelta(seconds=60)
_table = TABLES["web_session"]  # last_seen is written at most once a minute


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, idle_minutes: int, absolute_hours: int) -> Timeouts:
        return cls(timedelta(minutes=idle_minutes), timedelta(hours=absolute_hours))


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create(
    conn: Connection, patron_id: int, now: datetime, timeouts: Timeouts, kiosk: bool, device: str
) -> tuple[str, str]:
    """A new session; returns (cookie token, CSRF token)."""
    now = naive_utc(now)
    token = secrets.token_urlsafe(16)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO web_session (id, patron_id, csrf_token, created_at, last_seen_at, "
            "expires_at, kiosk, device) VALUES (:id, :p, :csrf, :now, :now, :exp, :kiosk, :dev)"
        ),
        {
            "id": _digest(token),
            "p": patron_id,
            "csrf": csrf,
            "now": now,
            "exp": now + timeouts.absolute,
            "kiosk": kiosk,
            "dev": device[:100],
        },
    )
    return token, csrf


TOUCH = "touch"  # upkeep: record that the session was used
EXPIRE = "expire"  # upkeep: the session is over, delete it


def inspect(
    conn: Connection, token: str, now: datetime, timeouts: Timeouts, kiosk_timeouts: Timeouts
) -> tuple[SessionInfo | None, str]:
    """The live session for a cookie token (or None) and the upkeep it needs, if any.

    Reading only: most requests need no write, so they never take the write lock."""
    if not token or len(token) > 64:
        return None, ""
    now = naive_utc(now)
    row = conn.execute(select(_table).where(_table.c.id == _digest(token))).first()
    if row is None:
        return None, ""
    idle = kiosk_timeouts.idle if row.kiosk else timeouts.idle
    expires_at, last_seen_at = naive_utc(row.expires_at), naive_utc(row.last_seen_at)
    if expires_at <= now or last_seen_at + idle <= now:
        return None, EXPIRE
    info = SessionInfo(
        row.patron_id, row.csrf_token, bool(row.kiosk), row.created_at, row.last_seen_at
    )
    return info, TOUCH if now - last_seen_at >= _TOUCH_EVERY else ""


def upkeep(conn: Connection, token: str, action: str, now: datetime) -> None:
    if action == EXPIRE:
        end(conn, token)
    elif action == TOUCH:
        conn.execute(
            text("UPDATE web_session SET last_seen_at = :now WHERE id = :id"),
            {"now": naive_utc(now), "id": _digest(token)},
        )


def end(conn: Connection, token: str) -> None:
    conn.execute(text("DELETE FROM web_session WHERE id = :id"), {"id": _digest(token)})


def end_all(conn: Connection, patron_id: int, except_token: str | None = None) -> int:
    keep = _digest(except_token) if except_token else ""
    result = conn.execute(
        text("DELETE FROM web_session WHERE patron_id = :p AND id <> :keep"),
        {"p": patron_id, "keep": keep},
    )
    return result.rowcount or 0


def end_by_handle(conn: Connection, patron_id: int, handle: str) -> bool:
    if len(handle) != 12 or not all(c in "0123456789abcdef" for c in handle):
        return False
    result = conn.execute(
        text("DELETE FROM web_session WHERE patron_id = :p AND id LIKE :h"),
        {"p": patron_id, "h": handle + "%"},
    )
    return bool(result.rowcount)


def listing(conn: Connection, patron_id: int, current_token: str) -> tuple[SessionListing, ...]:
    current = _digest(current_token)
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


def purge_expired(conn: Connection, now: datetime, idle: timedelta) -> int:
    now = naive_utc(now)
    result = conn.execute(
        text("DELETE FROM web_session WHERE expires_at <= :now OR last_seen_at <= :idle"),
        {"now": now, "idle": now - idle},
    )
    return result.rowcount or 0
