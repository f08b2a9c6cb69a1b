"""Session rows, patron and staff alike: the browser holds a random 128-bit token; the
tables hold its SHA-256, so a copy of the database cannot be replayed as cookies.

One code path for both kinds, the table as a parameter (`PATRON`, `STAFF`): create a row
(with its own CSRF token), decide whether a row is still live under its idle and absolute
timeouts (reads never write unless the session ended or its use is worth recording, at
most once a minute), touch, end one, end all of an owner ("log out other devices", a
password change, staff-side revocation), purge stale rows.

The two tables stay separate: besides the common columns, a patron session has `kiosk`
and `device` and belongs to a patron; a staff session has the `second_factor` flag and the
counter's scan list and belongs to a staff account (each owner row deletes its sessions on
CASCADE). Merging them would need a nullable owner on either side and a check constraint,
for no change in behaviour.

Shared by patron accounts and sessions and by the staff features (db.queries.*); every
function takes a `Connection` inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.engine import Connection, Row

from db.clock import aware_utc, naive_utc
from db.models import TABLES

TOUCH_EVERY = timedelta(seconds=60)
TOUCH = "touch"  # upkeep: record that the session was used
EXPIRE = "expire"  # upkeep: the session is over, delete it


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, idle_minutes: int, absolute_hours: int) -> Timeouts:
        return cls(timedelta(minutes=idle_minutes), timedelta(hours=absolute_hours))


@dataclass(frozen=True)
class Store:
    """A session table and the column naming its owner."""

    table: Table
    owner_column: str

    @property
    def owner(self) -> Column[Any]:
        return self.table.c[self.owner_column]


PATRON = Store(TABLES["web_session"], "patron_id")
STAFF = Store(TABLES["staff_session"], "staff_id")


def digest(token: str) -> str:
    """The stored key of a session (or link) token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(
    conn: Connection,
    store: Store,
    owner_id: int,
    now: datetime,
    timeouts: Timeouts,
    **columns: Any,
) -> tuple[str, str]:
    """A new session (with the kind's own `columns`); returns (cookie token, CSRF token)."""
    now = aware_utc(now)  # the tables' datetime columns take aware values (stored as UTC)
    token = secrets.token_urlsafe(16)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        store.table.insert().values(
            id=digest(token),
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timeouts.absolute,
            **{store.owner_column: owner_id},
            **columns,
        )
    )
    return token, csrf


def touch_interval(idle: timedelta) -> timedelta:
    """How stale a session's recorded last use may get: a minute, but a 12th of a short
    idle timeout (a kiosk's two minutes: ten seconds), so a kiosk's countdown in the
    browser and the server's clock agree within that."""
    return min(TOUCH_EVERY, idle / 12)


def upkeep_of(row: Row[Any], now: datetime, idle: timedelta) -> str:
    """What a found row needs: EXPIRE (past its absolute or idle limit), TOUCH (live, last
    use recorded `touch_interval` ago or more) or "" (live, nothing to write)."""
    now = naive_utc(now)
    expires_at, last_seen_at = naive_utc(row.expires_at), naive_utc(row.last_seen_at)
    if expires_at <= now or last_seen_at + idle <= now:
        return EXPIRE
    return TOUCH if now - last_seen_at >= touch_interval(idle) else ""


def upkeep(conn: Connection, store: Store, token: str, action: str, now: datetime) -> None:
    if action == EXPIRE:
        end(conn, store, token)
    elif action == TOUCH:
        conn.execute(
            store.table.update()
            .where(store.table.c.id == digest(token))
            .values(last_seen_at=aware_utc(now))
        )


def end(conn: Connection, store: Store, token: str) -> None:
    conn.execute(store.table.delete().where(store.table.c.id == digest(token)))


def end_all(conn: Connection, store: Store, owner_id: int, except_token: str | None = None) -> int:
    """End every session of an owner, but the one of `except_token` if given."""
    keep = digest(except_token) if except_token else ""
    result = conn.execute(
        store.table.delete().where(store.owner == owner_id, store.table.c.id != keep)
    )
    return result.rowcount or 0


def purge_stale(conn: Connection, store: Store, now: datetime, idle: timedelta) -> int:
    """Delete the rows past their absolute limit or idle for `idle` (retention)."""
    now = aware_utc(now)
    table = store.table
    result = conn.execute(
        table.delete().where((table.c.expires_at <= now) | (table.c.last_seen_at <= now - idle))
    )
    return result.rowcount or 0
