"""Throttling that holds across worker processes: counters live in the database.

An attempt is counted *before* it is tried, inside a write transaction, so parallel
requests can never let more than the limit through. Past the limit each further failure
doubles the wait (up to a cap) instead of locking the real owner out for good.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db.clock import aware_utc, naive_utc
from db.models import TABLES


@dataclass(frozen=True)
class Limit:
    scope: str  # e.g. "login:card"
    attempts: int  # allowed within the window before waits begin
    window: timedelta
    first_wait: timedelta
    max_wait: timedelta


class Throttled(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


def _key(scope: str, value: str) -> str:
    # Hashed so the table never holds a card number or an address as such.
    return hashlib.sha256(f"{scope}\x00{value}".encode()).hexdigest()


_table = TABLES["throttle"]


def _lock(conn: Connection, key: str, now: datetime) -> tuple[int, datetime, datetime | None]:
    # The row is locked (PostgreSQL FOR UPDATE; SQLite's BEGIN IMMEDIATE already is).
    query = select(_table.c.failures, _table.c.window_start, _table.c.blocked_until).where(
        _table.c.key == key
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        insert = (
            "INSERT INTO throttle (key, failures, window_start) VALUES (:k, 0, :now) "
            "ON CONFLICT (library_id, key) DO NOTHING"
        )
        conn.execute(text(insert), {"k": key, "now": naive_utc(now)})
        row = conn.execute(query).one()
    return int(row.failures), row.window_start, row.blocked_until


def reserve(conn: Connection, checks: list[tuple[Limit, str]], now: datetime) -> None:
    """Count one attempt against every (limit, value); raise Throttled if any must wait.

    Call inside a write transaction. A refused attempt is not counted again.
    """
    now = aware_utc(now)
    waits: list[timedelta] = []
    rows = []
    for limit, value in checks:
        key = _key(limit.scope, value)
        failures, window_start, blocked_until = _lock(conn, key, now)
        window_start = aware_utc(window_start)
        blocked_until = aware_utc(blocked_until) if blocked_until else None
        if blocked_until is not None and blocked_until > now:
            waits.append(blocked_until - now)
        if window_start + limit.window < now and (blocked_until is None or blocked_until <= now):
            failures, window_start = 0, now  # a quiet window forgives
        rows.append((limit, key, failures, window_start))
    if waits:
        raise Throttled(max(waits))
    for limit, key, failures, window_start in rows:
        failures += 1
        blocked_until = None
        if failures >= limit.attempts:
            over = failures - limit.attempts
            blocked_until = now + min(limit.first_wait * (2 ** min(over, 20)), limit.max_wait)
        conn.execute(
            text(
                "UPDATE throttle SET failures = :f, window_start = :w, blocked_until = :b "
                "WHERE key = :k"
            ),
            {
                "f": failures,
                "w": naive_utc(window_start),
                "b": naive_utc(blocked_until) if blocked_until else None,
                "k": key,
            },
        )


def busy(conn: Connection, limit: Limit, value: str, now: datetime) -> bool:
    """Count one attempt against a shared limit that never refuses: True once more than
    `limit.attempts` came within the window, so the caller can ask for a smaller budget
    instead of turning everyone away."""
    now = aware_utc(now)
    key = _key(limit.scope, value)
    count, window_start, _ = _lock(conn, key, now)
    window_start = aware_utc(window_start)
    if window_start + limit.window < now:
        count, window_start = 0, now
    count += 1
    conn.execute(
        text(
            "UPDATE throttle SET failures = :f, window_start = :w, blocked_until = NULL "
            "WHERE key = :k"
        ),
        {"f": count, "w": naive_utc(window_start), "k": key},
    )
    return count > limit.attempts


def succeeded(conn: Connection, checks: list[tuple[Limit, str]]) -> None:
    """A success is not a failure: clear the owner's counter (the first check) and take the
    attempt back from the shared ones, so a busy library address is not slowed by patrons
    who type their password right."""
    (owner, value), *shared = checks
    conn.execute(text("DELETE FROM throttle WHERE key = :k"), {"k": _key(owner.scope, value)})
    for limit, shared_value in shared:
        conn.execute(
            text("UPDATE throttle SET failures = failures - 1 WHERE key = :k AND failures > 0"),
            {"k": _key(limit.scope, shared_value)},
        )


def purge_stale(conn: Connection, now: datetime, older_than: timedelta = timedelta(days=2)) -> int:
    cutoff = naive_utc(now) - older_than
    result = conn.execute(
        text(
            "DELETE FROM throttle WHERE window_start < :c "
            "AND (blocked_until IS NULL OR blocked_until < :c)"
        ),
        {"c": cutoff},
    )
    return result.rowcount or 0


MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

LOGIN_CARD = Limit("login:card", 5, 15 * MINUTE, MINUTE, HOUR)
LOGIN_ADDRESS = Limit("login:address", 30, 15 * MINUTE, MINUTE, HOUR)
# A browser that logged in to the card before (a device cookie): its own failures only.
LOGIN_DEVICE = Limit("login:device", 5, 15 * MINUTE, MINUTE, HOUR)
# The site-wide count never refuses (busy()); past it, unknown browsers get a smaller
# budget per address, so a storm slows attackers without shutting every patron out.
LOGIN_ALL = Limit("login:all", 2000, 5 * MINUTE, 5 * timedelta(seconds=1), MINUTE)
LOGIN_ADDRESS_BUSY = Limit("login:address-busy", 5, 15 * MINUTE, MINUTE, HOUR)
# The first-password path uses facts relatives may know: much stricter.
FIRST_CARD = Limit("first:card", 3, DAY, HOUR, DAY)
FIRST_ADDRESS = Limit("first:address", 10, DAY, HOUR, DAY)
FIRST_ALL = Limit("first:all", 300, HOUR, MINUTE, HOUR)
CODE_CARD = Limit("code:card", 5, HOUR, 10 * MINUTE, DAY)
CODE_ADDRESS = Limit("code:address", 20, HOUR, 10 * MINUTE, DAY)
CODE_ALL = Limit("code:all", 300, HOUR, MINUTE, HOUR)
RESET_CARD = Limit("reset:card", 3, HOUR, HOUR, DAY)
RESET_ADDRESS = Limit("reset:address", 20, HOUR, 10 * MINUTE, DAY)
# Every request counts, sent or not: this also caps the reset mail the site can be made to send.
RESET_ALL = Limit("reset:all", 300, HOUR, MINUTE, HOUR)
CHANGE_PATRON = Limit("change:patron", 5, 15 * MINUTE, MINUTE, HOUR)
# A patron's "confirm this new address" links (db.queries.my_data): every request counts,
# so a logged-in account cannot be made to mail strangers.
EMAIL_LINK_PATRON = Limit("email-link:patron", 5, DAY, HOUR, DAY)
