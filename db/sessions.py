"""Session rows, patron and staff alike: the browser holds a random 128-bit token; the
tables hold its SHA-256, so a copy of the database cannot be replayed as cookies.

Shared by patron accounts and sessions and by the staff features (db.queries.*); every
function takes a `Connection` inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.clock import naive_utc


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, idle_minutes: int, absolute_hours: int) -> Timeouts:
        return cls(timedelta(minutes=idle_minutes), timedelta(hours=absolute_hours))


def digest(token: str) -> str:
    """The stored key of a session (or link) token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


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
            "id": digest(token),
            "p": patron_id,
            "csrf": csrf,
            "now": now,
            "exp": now + timeouts.absolute,
            "kiosk": kiosk,
            "dev": device[:100],
        },
    )
    return token, csrf


def end_all(conn: Connection, patron_id: int, except_token: str | None = None) -> int:
    keep = digest(except_token) if except_token else ""
    result = conn.execute(
        text("DELETE FROM web_session WHERE patron_id = :p AND id <> :keep"),
        {"p": patron_id, "keep": keep},
    )
    return result.rowcount or 0
