"""Retention: what is kept only for a while is deleted here, by `shiori retention run`.

- Patrons who have not borrowed for three consecutive years (seed 000-4) — or who never
  borrowed and registered more than three years ago — are deleted with everything that
  hangs on them (sessions, reservations, booklist, notice settings, codes). A patron with
  an item still out is kept: the loan must be returned first. Their reservations end as a
  cancellation ends one: a copy on the hold shelf or in transit for them goes to the next
  in line (or back to the shelf), and its unsent notice is withdrawn. The deletion is
  db.erasure's, the same as an account the patron deletes. A patron with an address is
  mailed once, 30 days before that day (db.erasure.queue_purge_reminders).
- Sessions and staff sessions that can no longer be used (idle or past their end): the
  staff counter's scan list lives in the staff session and goes with it.
- Library-card applications (issue 13) past their last day at the counter
  (SHIORI_APPLICATION_DAYS), or whose emailed link expired unopened, with their mail
  (db.applications.purge_expired).
- Throttle counters nobody has touched for two days, expired activation codes and reset links.
- Used undo notes of cancelled reservations past their HOLD_UNDO_MINUTES (db.hold_undo): a
  reservation's id and when it was cancelled, of no use once the note is out of time.
- Mail that was delivered or given up more than MAIL_KEEP_DAYS ago (the address stays on
  the row for the staff's failure list until then; the body is already gone).
- Zero-hit searches of past days (a query with a salted hash of the session): aggregated
  into distinct-session counts per query and day, then deleted with the day's salt; the
  aggregated queries after db.stats.ZERO_HIT_KEEP_DAYS (db.stats).
- Reference questions closed more than SHIORI_REFERENCE_RETENTION_DAYS ago, with their
  threads and sources (db.reference): only anonymous published cases and counts remain. A
  purged patron's questions go with the patron (ON DELETE CASCADE).
- Every unsent mail row of a purged patron, and any unsent notice whose cause is gone (a
  ready-for-pickup notice no reservation names, a due-date reminder no loan names): the
  cause withdraws its own notice when it ends, so these are rows queued before that link
  existed. A row in doubt (its sender may have delivered it) is emptied, not deleted.

Audit rows are kept: they hold a patron id but no personal values (seed 002).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, text
from sqlalchemy.engine import Connection

from db import (
    applications,
    engine,
    erasure,
    hold_undo,
    jobs,
    models,
    outbox,
    reference,
    reminders,
    sessions,
    stats,
    throttle,
)
from db.clock import library_today, naive_utc
from db.engine import writes
from db.erasure import years_before as years_before  # the 3-year rule's arithmetic

__all__ = ["RetentionReport", "run_retention"]

MAIL_KEEP_DAYS = 30

_mail = outbox.mail_outbox.c
_hold_table = models.Hold.metadata.tables["hold"]
_hold = _hold_table.c
_patron = models.Hold.metadata.tables["patron"].c
_loan = models.Hold.metadata.tables["loan"].c
_reminder = models.Hold.metadata.tables["loan_reminder"].c
_overdue = models.Hold.metadata.tables["overdue_notice"].c


@dataclass(frozen=True)
class RetentionReport:
    patrons: int
    sessions: int
    staff_sessions: int
    throttles: int
    activation_codes: int
    reset_links: int
    mail: int
    reference_questions: int = 0
    applications: int = 0
    purge_reminders: int = 0
    zero_hit_searches: int = 0  # raw rows aggregated into anonymous counts and deleted
    undo_notes: int = 0  # used undo notes out of time (db.hold_undo)


def purge_inactive_patrons(conn: Connection, now: datetime) -> tuple[int, int]:
    """Delete the patrons (see above) with everything of theirs (db.erasure, as an account
    the patron deletes). → (patrons, mail rows withdrawn)."""
    cutoff = erasure.purge_cutoff(library_today(now))
    purged = [
        int(found)
        for found in conn.execute(
            text(
                "SELECT id FROM patron WHERE COALESCE(last_loan_on, registered_on) < :cutoff "
                "AND NOT EXISTS (SELECT 1 FROM loan l WHERE l.patron_id = patron.id) "
                "ORDER BY id"
            ),
            {"cutoff": cutoff},
        ).scalars()
    ]
    return erasure.erase_patrons(conn, purged, now)


def withdraw_orphan_notices(conn: Connection) -> int:
    """Unsent notices whose cause is gone (see above). → rows deleted."""
    hold_ready = and_(
        outbox.unsent("hold_ready"),
        ~exists().where(_hold.notice_mail_id == _mail.id),
    )
    due_reminder = and_(
        outbox.unsent("due_reminder"),
        ~exists().where(_reminder.mail_id == _mail.id),
    )
    overdue = and_(
        outbox.unsent(reminders.OVERDUE_KIND),
        ~exists().where(_overdue.mail_id == _mail.id),
    )
    return sum(outbox.withdraw(conn, which) for which in (hold_ready, due_reminder, overdue))


@writes
def run_retention(
    conn: Connection, now: datetime, patron_idle_minutes: int, staff_idle_minutes: int
) -> RetentionReport:
    """Delete what the privacy rules keep only for a while (see above), in one transaction."""
    jobs.run_alone(conn, jobs.RETENTION)
    stamp = naive_utc(now)
    patron_idle = timedelta(minutes=patron_idle_minutes)
    staff_idle = timedelta(minutes=staff_idle_minutes)
    staff_sessions = sessions.purge_stale(conn, sessions.STAFF, now, staff_idle)
    codes = conn.execute(
        text("DELETE FROM activation_code WHERE expires_at <= :now"), {"now": stamp}
    )
    links = conn.execute(
        text("DELETE FROM password_reset_link WHERE expires_at <= :now"), {"now": stamp}
    )
    mail = conn.execute(
        text(
            "DELETE FROM mail_outbox WHERE (sent_at IS NOT NULL AND sent_at < :old) "
            "OR (failed_at IS NOT NULL AND failed_at < :old)"
        ),
        {"old": stamp - timedelta(days=MAIL_KEEP_DAYS)},
    )
    questions = reference.purge_closed(conn, now)
    patrons, patron_mail = purge_inactive_patrons(conn, now)
    purge_reminders = erasure.queue_purge_reminders(conn, now)
    orphans = withdraw_orphan_notices(conn)
    patron_sessions = sessions.purge_stale(conn, sessions.PATRON, now, patron_idle)
    expired_applications = applications.purge_expired(conn, now)
    zero_hits = stats.aggregate_zero_hits(conn, library_today(now))
    engine.erase_after_commit(conn)
    return RetentionReport(
        patrons=patrons,
        sessions=patron_sessions,
        staff_sessions=staff_sessions,
        throttles=throttle.purge_stale(conn, now),
        activation_codes=codes.rowcount or 0,
        reset_links=links.rowcount or 0,
        mail=(mail.rowcount or 0) + patron_mail + orphans,
        reference_questions=questions,
        applications=expired_applications,
        purge_reminders=purge_reminders,
        zero_hit_searches=zero_hits,
        undo_notes=hold_undo.purge_out_of_time(conn, now),
    )
