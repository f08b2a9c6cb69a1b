"""A cancelled reservation's undo note works once (db.queries.holds.restore_hold).

The database keeps nothing of a cancelled reservation: the note (signed by web.hold_undo)
carries what putting it back needs. What the database keeps is which notes were used, so a
note cannot bring a reservation back twice — say after staff cancelled the restored one, or
after the patron cancelled it again in another tab.

One row of `hold_undo_used` per reservation put back: the cancelled reservation's id, which
names its one cancellation (a reservation row is deleted by its cancellation, and its id is
never handed out again: migration 0013, PostgreSQL's sequences), and when it was cancelled,
which says when the row is of no more use. No patron, no title. The row is written in the
restore's own transaction under the primary key, so of two undos of one note at once the
second meets the key (PostgreSQL waits for the first to commit) and is refused; a restore
refused for another reason (the rules of reserving) rolls the row back and leaves the note
usable within its time. The key is taken before the patron's row is locked (db.routing's
lock order); only an undo of the same note ever waits for it, and that undo holds no other
lock yet, so no deadlock can form around it.

A note is in time for UNDO_MINUTES after its cancellation (`in_time`); a row older than
that can refuse nothing the clock does not refuse already, and the retention job deletes it
(`purge_out_of_time`), with the same boundary, by the same clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from db import models
from db.clock import aware_utc

UNDO_MINUTES = 10
WINDOW = timedelta(minutes=UNDO_MINUTES)

_used = models.HoldUndoUsed.metadata.tables["hold_undo_used"]


def in_time(cancelled_at: datetime, now: datetime) -> bool:
    """Whether a note of a cancellation at `cancelled_at` may still be used at `now`."""
    return now - WINDOW <= cancelled_at <= now


def use(conn: Connection, hold_id: int, cancelled_at: datetime) -> bool:
    """Mark the note of the cancellation of `hold_id` used, in the caller's transaction.
    → False if it was used already (or is being used by a transaction that then commits)."""
    try:
        with conn.begin_nested():
            conn.execute(
                _used.insert().values(hold_id=hold_id, cancelled_at=aware_utc(cancelled_at))
            )
    except IntegrityError:
        return False
    return True


def purge_out_of_time(conn: Connection, now: datetime) -> int:
    """Delete the rows of notes no longer `in_time`. → rows deleted."""
    cutoff = aware_utc(now - WINDOW)
    return conn.execute(_used.delete().where(_used.c.cancelled_at < cutoff)).rowcount or 0
