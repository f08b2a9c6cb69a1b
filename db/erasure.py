"""Deleting a patron and everything that hangs on them, at once (issue 16, seed 004-5).

Two callers: the patron who deletes their own account (db.queries.my_data) and the 3-year
purge (db.queries.retention). Both go through `erase_patrons`, so whatever is added to
`PATRON_ROWS` goes in both — a feature that keeps rows about a patron adds its table there
with one line, (table, column naming the patron).

What happens, inside the caller's writing transaction:
- Reservations end as a cancellation ends one (`end_reservations`): a copy on the hold
  shelf or in transit for them goes to the next in line, or back to the shelf; the
  cancellation is counted (anonymous daily counts are what remains).
- Their mail: unsent mail is withdrawn, delivered or given-up mail deleted; a row in doubt
  (its sender may be delivering it right now) is emptied and no longer names them.
- Every row of `PATRON_ROWS`, then the patron row. Foreign keys cascade as a second net.
- A pending library-card application of the same person (same birth date and phone) goes
  too (db.applications.delete_applications).

A patron with an item still out is never deleted (the caller checks; the DELETE re-checks).
Staff audit rows are kept: they hold a patron id but no personal values (seed 002).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, delete, exists, func, or_, select, text, update
from sqlalchemy.engine import Connection

from db import applications, models, outbox, routing, rules, series
from db.clock import library_today
from db.counts import bump

# (table, column) of every row that names a patron and goes with them. Order: children
# first. Add a table here with one line; tests/test_queries_my_data.py scans every table.
PATRON_ROWS: tuple[tuple[str, str], ...] = (
    ("web_session", "patron_id"),
    ("activation_code", "patron_id"),
    ("password_reset_link", "patron_id"),
    ("notice_preference", "patron_id"),
    ("notice_setting", "patron_id"),
    ("email_confirmation", "patron_id"),
    ("address_change", "patron_id"),
    ("booklist", "patron_id"),
    ("reference_question", "patron_id"),  # its thread and sources cascade
    ("hold_request", "patron_id"),
    ("alert_condition", "patron_id"),  # new-arrival alerts; what was mailed cascades
)

_T = models.Hold.metadata.tables
_hold_table = _T["hold"]
_hold = _hold_table.c
_patron = _T["patron"].c
_loan = _T["loan"].c
_app = _T["application"].c
_mail = outbox.mail_outbox.c

PURGE_REMINDER_DAYS = 30  # the reminder mail comes this many days before the purge
PURGE_REMINDER_KIND = "purge_reminder"


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def purge_cutoff(today: date) -> date:
    """The 3-year rule (seed 000-4): a patron whose last loan — or, who never borrowed,
    whose registration — is before this day is purged today (db.queries.retention)."""
    return years_before(today, rules.PURGE_AFTER_YEARS_WITHOUT_LOAN)


def purge_date(registered_on: date, last_loan_on: date | None) -> date:
    """The first day the 3-year rule purges this patron if they do not borrow before: the
    day after the same date three years on (a 29 February counts from the 28th)."""
    base = last_loan_on or registered_on
    day = base + timedelta(days=365 * rules.PURGE_AFTER_YEARS_WITHOUT_LOAN - 2)
    while purge_cutoff(day) <= base:
        day += timedelta(days=1)
    return day


def queue_purge_reminders(conn: Connection, now: datetime) -> int:
    """Mail every patron with an address whose purge comes within PURGE_REMINDER_DAYS, once
    per purge date (`patron.purge_reminded_for`); one with an item out is not purged and not
    reminded. → mails queued."""
    today = library_today(now)
    soon = purge_cutoff(today + timedelta(days=PURGE_REMINDER_DAYS))
    rows = conn.execute(
        select(
            _patron.id,
            _patron.email,
            _patron.lang,
            _patron.registered_on,
            _patron.last_loan_on,
            _patron.purge_reminded_for,
        )
        .where(
            _patron.email.is_not(None),
            func.coalesce(_patron.last_loan_on, _patron.registered_on) < soon,
            ~exists().where(_loan.patron_id == _patron.id),
        )
        .order_by(_patron.id)
        .with_for_update()
    ).all()
    queued = 0
    for row in rows:
        purge_on = purge_date(row.registered_on, row.last_loan_on)
        if row.purge_reminded_for == purge_on or purge_on <= today:
            continue
        mail_id = outbox.enqueue_notice(
            conn,
            kind=PURGE_REMINDER_KIND,
            to_addr=row.email,
            now=now,
            patron_id=row.id,
            lang=row.lang,
            params={"purge_on": purge_on.isoformat()},
        )
        # Marked even when the address is unusable: it would be refused every day again.
        conn.execute(
            update(_T["patron"]).where(_patron.id == row.id).values(purge_reminded_for=purge_on)
        )
        queued += mail_id is not None
    return queued


def end_reservations(conn: Connection, patron_ids: Sequence[int], now: datetime) -> None:
    """End the reservations of patrons about to be deleted as a cancellation would
    (db.routing.release): a copy set aside for one goes to the next in line or back to the
    shelf, its unsent notice is withdrawn, and it is counted as cancelled (daily_count).
    Locks in the house order: patron, item, work, series request, hold."""
    conn.execute(select(_patron.id).where(_patron.id.in_(patron_ids)).with_for_update()).all()
    held = conn.execute(
        select(_hold.id, _hold.item_id, _hold.work_id)
        .where(
            _hold.patron_id.in_(patron_ids),
            # Kept after all if they borrowed meanwhile (the patron lock now stops that).
            ~exists().where(_loan.patron_id == _hold.patron_id),
        )
        # Waiting ones first, so no copy passed on is handed to a patron leaving too.
        .order_by(_hold.item_id.is_not(None), _hold.id)
    ).all()
    for candidate in held:
        if candidate.item_id is not None:
            routing.lock_item(conn, candidate.item_id)
        routing.lock_work(conn, candidate.work_id)
        series.lock_request_of(conn, candidate.id)
        hold = conn.execute(
            select(_hold_table).where(_hold.id == candidate.id).with_for_update()
        ).first()
        if hold is not None:
            routing.release(conn, hold, now)
            # Counted as the cancellation it is, so the statistics add up.
            bump(conn, library_today(now), hold.pickup_branch_id, "", routing.CANCELLED)


def _withdrawable(conn: Connection, patron_ids: Sequence[int]) -> int:
    """The patrons' mail outbox.withdraw would delete (unsent, not being sent)."""
    return int(
        conn.execute(
            select(func.count()).where(
                _mail.patron_id.in_(patron_ids),
                _mail.sent_at.is_(None),
                _mail.send_started_at.is_(None),
            )
        ).scalar_one()
    )


def forget_mail(conn: Connection, patron_ids: Sequence[int]) -> int:
    """Withdraw the patrons' unsent mail and delete what was delivered or given up; a row a
    sender is delivering right now (in doubt) stays emptied, names nobody (ids may be given
    out again) and is marked forgotten: the sender deletes it, address and all, once that
    delivery settles. → rows withdrawn (unsent ones only, as retention reports them)."""
    mine = _mail.patron_id.in_(patron_ids)
    withdrawn = outbox.withdraw(conn, mine)
    conn.execute(
        delete(outbox.mail_outbox).where(
            mine, or_(_mail.sent_at.is_not(None), _mail.failed_at.is_not(None))
        )
    )
    conn.execute(
        update(outbox.mail_outbox)
        .where(mine)
        .values(patron_id=None, kind=outbox.FORGOTTEN, subject="")
    )
    return withdrawn


def _same_person_applications(conn: Connection, patron_ids: Sequence[int]) -> list[int]:
    people = conn.execute(
        select(_patron.birth_date, _patron.phone_digits).where(_patron.id.in_(patron_ids))
    ).all()
    found: list[int] = []
    for born, phone_digits in people:
        found += conn.execute(
            select(_app.id).where(_app.birth_date == born, _app.phone_digits == phone_digits)
        ).scalars()
    return found


def erase_patrons(conn: Connection, patron_ids: Sequence[int], now: datetime) -> tuple[int, int]:
    """Delete the patrons and everything of theirs (see above), 500 at a time; one with a
    loan is skipped. → (patrons deleted, mail rows withdrawn)."""
    patrons = mail = 0
    for start in range(0, len(patron_ids), 500):
        chunk = list(patron_ids[start : start + 500])
        # Locks the patrons first (no loan can start meanwhile), then who has none is final:
        # a skipped patron keeps their mail and everything else.
        conn.execute(select(_patron.id).where(_patron.id.in_(chunk)).with_for_update()).all()
        free = [
            int(p)
            for p in conn.execute(
                select(_patron.id).where(
                    _patron.id.in_(chunk), ~exists().where(_loan.patron_id == _patron.id)
                )
            ).scalars()
        ]
        if not free:
            continue
        # Ending a reservation withdraws its notice itself: counted with the rest.
        queued = _withdrawable(conn, free)
        end_reservations(conn, free, now)
        mail += queued - _withdrawable(conn, free) + forget_mail(conn, free)
        applications.delete_applications(conn, _same_person_applications(conn, free))
        for table, column in PATRON_ROWS:
            conn.execute(
                text(f'DELETE FROM "{table}" WHERE "{column}" IN :ids').bindparams(
                    bindparam("ids", free, expanding=True)
                )
            )
        deleted = conn.execute(
            text(
                "DELETE FROM patron WHERE id IN :ids "
                "AND NOT EXISTS (SELECT 1 FROM loan l WHERE l.patron_id = patron.id)"
            ).bindparams(bindparam("ids", free, expanding=True))
        )
        patrons += deleted.rowcount or 0
    return patrons, mail
