"""Due-date reminders and overdue notices: queued by the daily job, withdrawn when the
loan ends first.

A reminder mail names the loans it reminds of in `loan_reminder`, an overdue notice in
`overdue_notice`, so each loan is reminded of once and told it is overdue once. Both follow
the patron's notice settings (db.notice_prefs: mailed or not, titles or not). The day a
reminder names is the due date, always a day the lending branch is open (db.calendar):
checkout and renewal store an open day, a closure added later moves the due dates it covers
(db.queries.calendar), and the mail names the next open day on or after the stored date all
the same. Every function takes a `Connection` inside the caller's writing transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, exists, select
from sqlalchemy.engine import Connection

from db import calendar, models, notice_prefs, outbox
from db.clock import library_today

_T = models.Hold.metadata.tables
_pref = _T["notice_preference"]
_reminder = _T["loan_reminder"]
_overdue = _T["overdue_notice"]
OVERDUE_KIND = "overdue_reminder"
_item = _T["item"]
_work = _T["work"]
_patron = _T["patron"]
_loan = _T["loan"]


def withdraw(conn: Connection, loan_id: int) -> None:
    """Before a loan is deleted (or its due date moves): drop its reminder and overdue
    notice if not yet being sent (one in doubt is emptied). The other loans that mail named
    lose their marker too, so the next run reminds them afresh."""
    for marker in (_reminder, _overdue):
        for mail_id in conn.execute(
            select(marker.c.mail_id).where(
                marker.c.loan_id == loan_id, marker.c.mail_id.is_not(None)
            )
        ).scalars():
            if outbox.withdraw(conn, outbox.mail_outbox.c.id == mail_id):
                conn.execute(marker.delete().where(marker.c.mail_id == mail_id))


def _untold_loans(
    kind: str, marker: Table, *when: ColumnElement[bool], with_days: bool = False
) -> Select[Any]:
    """Loans of patrons with an email who did not turn `kind` off, not yet marked in `marker`
    (told), with what the mail needs; the loans locked, in patron order. `with_days` joins
    the due-date reminder's day count (a patron without one has none)."""
    columns = [
        _loan.c.id,
        _loan.c.patron_id,
        _loan.c.due_on,
        _item.c.branch_id,
        _work.c.title,
        _patron.c.email,
        _patron.c.lang,
        notice_prefs.titles_wanted(kind, _patron.c.id).label("titles"),
    ]
    joined = _loan.join(_patron, _patron.c.id == _loan.c.patron_id)
    if with_days:
        columns.append(_pref.c.due_reminder_days)
        joined = joined.join(_pref, _pref.c.patron_id == _patron.c.id)
    return (
        select(*columns)
        .select_from(
            joined.join(_item, _item.c.id == _loan.c.item_id).join(
                _work, _work.c.id == _item.c.work_id
            )
        )
        .where(
            _patron.c.email.is_not(None),
            notice_prefs.mailed(kind, _patron.c.id),
            ~exists().where(marker.c.loan_id == _loan.c.id),
            *when,
        )
        .order_by(_loan.c.patron_id, _loan.c.due_on, _loan.c.id)
        .with_for_update(of=_loan)
    )


def queue_due(conn: Connection, now: datetime) -> int:
    """Queue one due-date reminder per patron who asked for it (a day count, and the kind not
    turned off in db.notice_prefs), once per loan. → mails."""
    today = library_today(now)
    rows = conn.execute(
        _untold_loans(
            notice_prefs.DUE_SOON,
            _reminder,
            _loan.c.due_on >= today,
            _pref.c.due_reminder_days.is_not(None),
            with_days=True,
        )
    ).all()
    per_patron: dict[int, list[Any]] = {}
    for row in rows:
        if row.due_on <= today + timedelta(days=row.due_reminder_days):
            per_patron.setdefault(row.patron_id, []).append(row)
    # The titles only if the patron asked for them (db.notice_prefs): else dates only.
    return _queue_per_patron(
        conn,
        now,
        "due_reminder",
        _reminder,
        per_patron,
        lambda r: calendar.next_open_day(conn, r.branch_id, r.due_on),
    )


def queue_overdue(conn: Connection, now: datetime) -> int:
    """Queue one overdue notice per patron with loans past their due date that were not
    told yet, unless the patron turned overdue notices off. → mails."""
    today = library_today(now)
    rows = conn.execute(_untold_loans(notice_prefs.OVERDUE, _overdue, _loan.c.due_on < today)).all()
    per_patron: dict[int, list[Any]] = {}
    for row in rows:
        per_patron.setdefault(row.patron_id, []).append(row)
    return _queue_per_patron(conn, now, OVERDUE_KIND, _overdue, per_patron, lambda r: r.due_on)


def _queue_per_patron(
    conn: Connection,
    now: datetime,
    kind: str,
    marker: Table,
    per_patron: dict[int, list[Any]],
    due_of: Callable[[Any], date],
) -> int:
    """One mail of `kind` per patron listing their loans (titles only where the row says the
    patron wants them), each loan marked in `marker` so it is told once. → mails."""
    sent = 0
    for loans in per_patron.values():
        first = loans[0]
        params = {
            "loans": [
                {**({"title": r.title} if r.titles else {}), "due": due_of(r).isoformat()}
                for r in loans
            ]
        }
        mail_id = outbox.enqueue_notice(
            conn,
            kind=kind,
            to_addr=first.email,
            patron_id=first.patron_id,
            lang=first.lang,
            params=params,
            now=now,
        )
        if mail_id is None:
            continue
        conn.execute(marker.insert(), [{"loan_id": r.id, "mail_id": mail_id} for r in loans])
        sent += 1
    return sent
