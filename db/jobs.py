"""Scheduled jobs run by timers on more than one host at once (deploy/: `holds daily`,
`retention run`): one run of a job at a time, across every host.

Each job's writing transaction first takes the job's transaction-level advisory lock on
PostgreSQL; a second host's run of the same job waits there until the first commits, then
reads afresh (every statement after the lock sees the first run's commit, READ COMMITTED)
and finds nothing left to do: a loan is reminded of once, a reservation expires once, and
neither run fails on the other's markers. On SQLite, BEGIN IMMEDIATE already runs one
writer at a time. The mail worker needs no lock: it claims rows with SKIP LOCKED and a lease
(db.queries.mail), so several workers share the outbox and send each message once.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.tenancy import current_library

# pg_advisory_xact_lock keys: "SHIORI" and 0xB0 ("batch") with the job's number.
HOLDS_EXPIRE = 0x5348494F5249B001
DUE_REMINDERS = 0x5348494F5249B002
OVERDUE_NOTICES = 0x5348494F5249B003
RETENTION = 0x5348494F5249B004


def lock_key(job: int, library: int) -> int:
    """The advisory lock of `job` in `library` (db.tenancy): libraries run their jobs side
    by side, each library's runs one at a time. Bits 16 and up hold the library."""
    return job ^ (library << 16)


def run_alone(conn: Connection, job: int) -> None:
    """Called first in the job's transaction: wait for another host's run of `job` in this
    transaction's library to end."""
    if conn.dialect.name == "postgresql":
        key = lock_key(job, current_library.get())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
