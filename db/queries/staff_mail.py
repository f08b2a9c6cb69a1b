"""Mail the sender gave up on, for staff (`/staff/mail`): see it, re-queue it, dismiss it.

A row is listed once it is given up (`failed_at`): refused for good (5xx), unsent when its
retry period ran out, or in doubt too often (db.queries.mail). Staff see its kind, times,
attempts, the last error (an exception class and SMTP code, never server text) and whether
it was in doubt (it may have arrived) — never a subject, body or parameters. The address
only for a role that may see the "contact" field group (db/data/staff_policy.json), and each
patron whose address was shown is audited like any look at contact data; otherwise None.

Re-queueing makes the row due again with a fresh retry period and a clean slate of
attempts, keeping its id and so its Message-ID (a receiver that had it after all can
de-duplicate). Only a row that still holds its text can be re-queued: one refused for good,
or withdrawn because its cause ended, has none. Dismissing deletes the row and whatever it
still held. Both are audited (screen "mail_failures"), with the patron the mail was for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Connection

from db.clock import aware_utc, naive_utc
from db.engine import writes
from db.errors import NotFound, QueryError
from db.models import TABLES
from db.outbox import FORGOTTEN_WHEN_SETTLED, mail_outbox
from db.staff import ALLOWED, VIEW, StaffActor, write_audit
from db.staff_policy import policy

__all__ = [
    "MailFailure",
    "MailNothingToResend",
    "dismiss_failed_mail",
    "list_mail_failures",
    "requeue_failed_mail",
]

_c = mail_outbox.c
_patron = TABLES["patron"]

SCREEN = "mail_failures"
RESEND, DISMISS = "mail_resend", "mail_dismiss"
CONTACT = "contact"

# Mail to someone the library no longer knows is never listed nor re-queued (the sender
# deletes such a row when it is given up).
_given_up = and_(
    _c.failed_at.is_not(None),
    _c.sent_at.is_(None),
    _c.kind.not_in(FORGOTTEN_WHEN_SETTLED),
)


class MailNothingToResend(QueryError):
    """The row holds no text any more (refused for good, or its notice was withdrawn)."""

    code = "mail_nothing_to_resend"


@dataclass(frozen=True)
class MailFailure:
    id: int
    kind: str
    created_at: datetime
    failed_at: datetime
    attempts: int
    last_error: str
    in_doubt: bool  # the server may have it: re-queueing may deliver it twice
    resendable: bool  # still holds its text
    to_addr: str | None  # None: this role may not see contact data


def _existing_patron(conn: Connection, patron_id: int | None) -> int | None:
    """The patron for an audit row, if the record still exists (a purge keeps no link)."""
    if patron_id is None:
        return None
    found = conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id)).first()
    return patron_id if found else None


@writes
def list_mail_failures(
    conn: Connection, now: datetime, actor: StaffActor, limit: int = 200
) -> tuple[MailFailure, ...]:
    """Given-up mail, newest first; addresses as the actor's role allows (audited)."""
    shows_contact = CONTACT in policy().visible_fields(actor.role, actor.duties)
    rows = conn.execute(
        select(
            _c.id,
            _c.kind,
            _c.to_addr,
            _c.created_at,
            _c.failed_at,
            _c.attempts,
            _c.last_error,
            _c.send_started_at,
            _c.doubts,
            _c.patron_id,
            or_(_c.body.is_not(None), _c.params.is_not(None)).label("has_text"),
        )
        .where(_given_up)
        .order_by(_c.failed_at.desc(), _c.id.desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    if shows_contact:
        for patron_id in sorted({_existing_patron(conn, r.patron_id) or 0 for r in rows}):
            write_audit(conn, actor, patron_id or None, [CONTACT], SCREEN, VIEW, ALLOWED, now)
    return tuple(
        MailFailure(
            id=r.id,
            kind=r.kind,
            created_at=aware_utc(r.created_at),
            failed_at=aware_utc(r.failed_at),
            attempts=r.attempts,
            last_error=r.last_error,
            in_doubt=r.send_started_at is not None or r.doubts > 0,
            resendable=bool(r.has_text),
            to_addr=r.to_addr if shows_contact else None,
        )
        for r in rows
    )


def _given_up_row(conn: Connection, mail_id: int) -> tuple[int | None, bool]:
    """(patron id, holds text) of a given-up row, locked; NotFound if there is none."""
    row = conn.execute(
        select(_c.patron_id, or_(_c.body.is_not(None), _c.params.is_not(None)).label("has_text"))
        .where(_c.id == mail_id, _given_up)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("mail_not_found")
    return row.patron_id, bool(row.has_text)


@writes
def requeue_failed_mail(conn: Connection, now: datetime, actor: StaffActor, mail_id: int) -> None:
    """Make a given-up row due now, with a fresh retry period (same id, same Message-ID)."""
    patron_id, has_text = _given_up_row(conn, mail_id)
    if not has_text:
        raise MailNothingToResend()
    stamp = naive_utc(now)
    conn.execute(
        update(mail_outbox)
        .where(_c.id == mail_id, _given_up)
        .values(
            failed_at=None,
            send_started_at=None,
            claimed_until=None,
            claimed_by=None,
            attempts=0,
            doubts=0,
            next_attempt_at=stamp,
            retry_from=stamp,
        )
    )
    write_audit(conn, actor, _existing_patron(conn, patron_id), [], SCREEN, RESEND, ALLOWED, now)


@writes
def dismiss_failed_mail(conn: Connection, now: datetime, actor: StaffActor, mail_id: int) -> None:
    """Delete a given-up row and all it still held."""
    patron_id, _ = _given_up_row(conn, mail_id)
    conn.execute(delete(mail_outbox).where(_c.id == mail_id, _given_up))
    write_audit(conn, actor, _existing_patron(conn, patron_id), [], SCREEN, DISMISS, ALLOWED, now)
