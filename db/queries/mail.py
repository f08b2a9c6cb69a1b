"""The mail outbox: mail is queued in the transaction that causes it and sent afterwards.

`db.outbox.enqueue` writes a row inside the caller's transaction, so a rolled-back change sends
nothing and a committed one cannot lose its mail. `send_due` (run by the mail worker)
claims due rows in a short transaction, delivers them over one SMTP connection, and marks
each row sent (its body and parameters deleted: they may name a title) or schedules a retry
with exponential backoff; after `rules.MAIL_MAX_ATTEMPTS` attempts, or a permanent 5xx
refusal, the row is marked failed for staff to see.

The text. A notice row holds a kind, a language and parameters; the sender gets a
`compose(kind, lang, params) -> (subject, body)` callable from the web tier (db has no
presentation text and never imports web) and calls it for each message before any SMTP
command of that message, so composing changes none of the windows below. A message that
cannot be composed is recorded as a failed attempt (`compose: <exception class>`) and
retried like a temporary SMTP failure. Rows with a finished subject and body are sent as
they are.

Crashes, and the one window SMTP cannot close. Delivery is staged by hand (MAIL, RCPT,
DATA and the message text, then the terminating "." on its own):

* A crash (or kill) before the final "." leaves a message the server never accepted: an
  SMTP server discards a transaction whose DATA did not end. The row keeps its claim, the
  claim expires (MAIL_CLAIM_SECONDS) and the next run sends it — nothing is lost.
* Just before the "." the row is committed as `send_started_at = now` ("in doubt"). From
  then until `_mark_sent` commits, we cannot know whether the server's 250 arrived: a
  crash there, a timeout waiting for the reply or a dropped connection may or may not have
  delivered the mail. SMTP has no way to ask, so in-doubt rows are **never sent again
  automatically** (a patron never gets the same notice twice): the next run marks them
  failed with `last_error` "in doubt: …" and `list_failed_mail` shows them to staff with
  `in_doubt=True` (no address or body; the Message-ID, derived from the row id, lets the
  mail server's log settle it). The window is one database commit plus one SMTP round
  trip, so this is rare; at-most-once there is the deliberate choice.
* A definite reply to the "." (250 → sent; 4xx → retry; 5xx → failed) is recorded as such.

Times are stored as naive UTC (the columns are `timestamp without time zone`); every
`datetime` taken in may be aware (converted to UTC) or naive (taken as UTC), and every
`datetime` handed out is aware UTC.

Logs name outbox ids, kinds and exception classes only: never addresses, subjects, bodies
or parameters.
"""

from __future__ import annotations

import contextlib
import email.policy
import functools
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from db import clock, rules
from db.clock import aware_utc, naive_utc
from db.emails import is_email
from db.engine import reads, writes
from db.outbox import clean_body, clean_subject, load_params, mail_outbox

__all__ = [
    "Compose",
    "FailedMail",
    "MailCounts",
    "SendReport",
    "SmtpSettings",
    "get_mail_counts",
    "list_failed_mail",
    "run_mail_worker",
    "send_due_mail",
]

log = logging.getLogger(__name__)

_c = mail_outbox.c

# (kind, lang, params) -> (subject, body): the web tier's mail templates.
Compose = Callable[[str, str, Mapping[str, Any]], tuple[str, str]]

MAX_RETRY_DELAY = timedelta(hours=6)
LAST_ERROR_MAX_CHARS = 200


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str  # "opac@library.example.jp" or "藤沢市図書館 <opac@library.example.jp>"
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("SMTP port out of range")
        if any(ch in self.sender for ch in "\r\n\0"):
            raise ValueError("SMTP sender must be one line")
        if not is_email(parseaddr(self.sender)[1]):
            raise ValueError("SMTP sender needs a plain address (name@host.example)")

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1]

    @property
    def domain(self) -> str:
        return self.envelope_sender.rpartition("@")[2]


@dataclass(frozen=True)
class SendReport:
    sent: int
    retried: int
    failed: int


@dataclass(frozen=True)
class FailedMail:
    id: int
    kind: str
    created_at: datetime
    attempts: int
    last_error: str
    failed_at: datetime
    in_doubt: bool = False  # the server may have accepted it: never re-sent automatically


@dataclass(frozen=True)
class MailCounts:
    pending: int
    sent: int
    failed: int


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4 … minutes, at most 6 hours."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(timedelta(seconds=rules.MAIL_RETRY_BASE_SECONDS * 2**exponent), MAX_RETRY_DELAY)


# --- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    to_addr: str
    subject: str
    body: str
    attempts: int
    created_at: datetime
    lang: str
    params: str | None  # JSON; None: subject and body are the finished text


# Each step of a run commits on its own (see the crash windows above), at the run's `now`
# (the worker's clock) rather than the transaction's.


@writes
def _claim(conn: Connection, _now: datetime, now: datetime, limit: int) -> list[_Claimed]:
    """Mark up to `limit` due rows as ours for MAIL_CLAIM_SECONDS, and read them."""
    stamp = naive_utc(now)
    due = and_(
        _c.sent_at.is_(None),
        _c.failed_at.is_(None),
        _c.send_started_at.is_(None),
        _c.next_attempt_at <= stamp,
        or_(_c.claimed_until.is_(None), _c.claimed_until < stamp),
    )
    query = (
        select(
            _c.id,
            _c.kind,
            _c.to_addr,
            _c.subject,
            _c.body,
            _c.attempts,
            _c.created_at,
            _c.lang,
            _c.params,
        )
        .where(due)
        .order_by(_c.next_attempt_at, _c.id)
        .limit(limit)
        # PostgreSQL: concurrent workers skip each other's rows. SQLite renders nothing
        # here; its BEGIN IMMEDIATE already makes this transaction the only writer.
        .with_for_update(skip_locked=True)
    )
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    conn.execute(
        update(mail_outbox)
        .where(_c.id.in_(ids), due)
        .values(claimed_until=stamp + timedelta(seconds=rules.MAIL_CLAIM_SECONDS))
    )
    return [
        _Claimed(
            id=row.id,
            kind=row.kind,
            to_addr=row.to_addr,
            subject=row.subject,
            body=row.body or "",
            attempts=row.attempts,
            created_at=row.created_at,
            lang=row.lang,
            params=row.params,
        )
        for row in rows
    ]


class NoComposer(Exception):
    """A notice row, and the sender was given no compose function."""


def _text(mail: _Claimed, compose: Compose | None) -> tuple[str, str]:
    """Subject and body: the row's finished text, or composed from its parameters."""
    if mail.params is None:
        return mail.subject, mail.body
    if compose is None:
        raise NoComposer
    subject, body = compose(mail.kind, mail.lang, load_params(mail.params))
    subject = clean_subject(subject)
    if not subject:
        raise ValueError("composed an empty subject")
    return subject, clean_body(body)


def _build_message(
    settings: SmtpSettings, mail: _Claimed, compose: Compose | None, now: datetime
) -> EmailMessage:
    """UTF-8 text/plain, base64 (safe for Japanese over any 7-bit relay), stable Message-ID."""
    subject, body = _text(mail, compose)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = settings.sender
    message["To"] = mail.to_addr
    message["Subject"] = subject
    message["Date"] = format_datetime(aware_utc(now))
    # Derived from the row, so a retried delivery carries the same id (receivers dedupe).
    message["Message-ID"] = (
        f"<shiori.{mail.id}.{naive_utc(mail.created_at):%Y%m%d%H%M%S}@{settings.domain}>"
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8", cte="base64")
    return message


class _InDoubt(Exception):
    """Failed after the final "." was sent: the server may or may not have the message."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


def _rset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _deliver(
    smtp: smtplib.SMTP,
    message: EmailMessage,
    from_addr: str,
    to_addr: str,
    commit_point: Callable[[], None],
) -> None:
    """One SMTP transaction, with `commit_point()` run just before the final ".".

    Raises what smtplib raises while the outcome is certain, `_InDoubt` after the "."
    was sent when no definite reply came back.
    """
    raw = message.as_bytes(policy=email.policy.SMTP)
    smtp.ehlo_or_helo_if_needed()
    code, resp = smtp.mail(from_addr)
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            _rset(smtp)
        raise smtplib.SMTPSenderRefused(code, resp, from_addr)
    code, resp = smtp.rcpt(to_addr)
    if code not in (250, 251):
        if code == 421:
            smtp.close()
        else:
            _rset(smtp)
        raise smtplib.SMTPRecipientsRefused({to_addr: (code, resp)})
    smtp.putcmd("data")
    code, resp = smtp.getreply()
    if code != 354:
        _rset(smtp)
        raise smtplib.SMTPDataError(code, resp)
    payload = re.sub(rb"(?m)^\.", b"..", raw)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    smtp.send(payload)
    try:
        commit_point()
    except BaseException:
        # Without the "." the server discards the message; the claim expires and a later
        # run sends it.
        smtp.close()
        raise
    try:
        smtp.send(b".\r\n")
        code, resp = smtp.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        raise _InDoubt(exc) from exc
    if code != 250:
        if code == 421:
            smtp.close()
        raise smtplib.SMTPDataError(code, resp)


@writes
def _mark_in_doubt(conn: Connection, _now: datetime, mail_id: int, now: datetime) -> None:
    result = conn.execute(
        update(mail_outbox)
        .where(_c.id == mail_id, _c.sent_at.is_(None), _c.failed_at.is_(None))
        .values(send_started_at=naive_utc(now))
    )
    if result.rowcount != 1:
        raise RuntimeError(f"mail {mail_id} changed while being sent")


@writes
def _give_up_in_doubt(
    conn: Connection, _now: datetime, mail_id: int, now: datetime, error: str
) -> None:
    conn.execute(
        update(mail_outbox)
        .where(_c.id == mail_id, _c.sent_at.is_(None))
        .values(
            failed_at=naive_utc(now),
            body=None,
            params=None,
            claimed_until=None,
            last_error=f"in doubt: {error}"[:LAST_ERROR_MAX_CHARS],
        )
    )


@writes
def _sweep_in_doubt(conn: Connection, _now: datetime, now: datetime) -> int:
    """Rows a crashed sender left in doubt (claim expired): failed, for staff, not re-sent."""
    stamp = naive_utc(now)
    result = conn.execute(
        update(mail_outbox)
        .where(
            _c.send_started_at.is_not(None),
            _c.sent_at.is_(None),
            _c.failed_at.is_(None),
            or_(_c.claimed_until.is_(None), _c.claimed_until < stamp),
        )
        .values(
            failed_at=stamp,
            body=None,
            params=None,
            claimed_until=None,
            last_error="in doubt: the sender stopped during delivery",
        )
    )
    if result.rowcount:
        log.warning("%d mail(s) in doubt after a sender stopped; see failed mail", result.rowcount)
    return int(result.rowcount)


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _disconnect(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _describe(exc: BaseException) -> tuple[str, bool]:
    """A short error for the row (class and SMTP code only) and whether it is permanent."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        code = max(codes) if codes else 0
        return f"{name} {code}", 500 <= code < 600
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # Our own sender refused: a configuration problem, not this message's. Retry.
        return f"{name} {exc.smtp_code}", False
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        permanent = isinstance(exc, smtplib.SMTPDataError) and 500 <= code < 600
        return f"{name} {code}", permanent
    return name, False


@writes
def _mark_sent(conn: Connection, _now: datetime, mail_id: int, now: datetime) -> bool:
    stamp = naive_utc(now)
    result = conn.execute(
        update(mail_outbox)
        .where(_c.id == mail_id, _c.sent_at.is_(None))
        .values(
            sent_at=stamp,
            body=None,
            params=None,
            claimed_until=None,
            failed_at=None,
            last_error="",
        )
    )
    return result.rowcount == 1


@writes
def _mark_failure(
    conn: Connection, _now: datetime, mail: _Claimed, now: datetime, error: str, permanent: bool
) -> bool:
    """Record a failed attempt; returns True if the message is now given up (failed)."""
    stamp = naive_utc(now)
    attempts = mail.attempts + 1
    give_up = permanent or attempts >= rules.MAIL_MAX_ATTEMPTS
    values: dict[str, object] = {
        "attempts": attempts,
        "last_error": error[:LAST_ERROR_MAX_CHARS],
        "claimed_until": None,
        "send_started_at": None,  # the server's reply was definite: not in doubt
    }
    if give_up:
        values.update(failed_at=stamp, body=None, params=None)
    else:
        values["next_attempt_at"] = stamp + retry_delay(attempts)
    conn.execute(
        update(mail_outbox)
        .where(_c.id == mail.id, _c.sent_at.is_(None), _c.failed_at.is_(None))
        .values(**values)
    )
    return give_up


@writes
def _release(conn: Connection, _now: datetime, mail_ids: Sequence[int]) -> None:
    """Hand back claimed rows that were not attempted (no attempt is counted)."""
    conn.execute(
        update(mail_outbox)
        .where(_c.id.in_(list(mail_ids)), _c.sent_at.is_(None))
        .values(claimed_until=None)
    )


def send_due(
    settings: SmtpSettings, now: datetime, limit: int = 50, compose: Compose | None = None
) -> SendReport:
    """Deliver up to `limit` due messages over one SMTP connection; see the module doc."""
    limit = max(1, min(limit, 1000))
    _sweep_in_doubt(now)
    batch = _claim(now, limit)
    if not batch:
        return SendReport(0, 0, 0)
    # Stop well before our claim runs out, so another worker never takes a row we may
    # still be sending.
    deadline = time.monotonic() + rules.MAIL_CLAIM_SECONDS * 0.8
    sent = retried = failed = 0
    smtp: smtplib.SMTP | None = None
    connect_error: str | None = None
    try:
        for index, mail in enumerate(batch):
            if time.monotonic() > deadline:
                _release([m.id for m in batch[index:]])
                log.warning("mail batch ran long; %d message(s) left for later", len(batch) - index)
                break
            error: str | None = connect_error
            permanent = False
            message: EmailMessage | None = None
            if error is None:
                try:
                    message = _build_message(settings, mail, compose, now)
                except Exception as exc:  # a template or parameter problem: retried later
                    error = f"compose: {type(exc).__name__}"
            if error is None and message is not None:
                try:
                    if smtp is None:
                        smtp = _connect(settings)
                    _deliver(
                        smtp,
                        message,
                        settings.envelope_sender,
                        mail.to_addr,
                        functools.partial(_mark_in_doubt, mail.id, now),
                    )
                except _InDoubt as doubt:
                    if smtp is not None:
                        smtp.close()
                    smtp = None
                    _give_up_in_doubt(mail.id, now, type(doubt.cause).__name__)
                    log.warning("mail %s in doubt (%s): not re-sent", mail.id, mail.kind)
                    failed += 1
                    continue
                except Exception as exc:  # any failure is recorded on the row, never lost
                    error, permanent = _describe(exc)
                    if smtp is None:
                        # Could not connect at all: the rest of the batch waits too.
                        connect_error = error
                    elif smtp.sock is None or isinstance(
                        exc, smtplib.SMTPServerDisconnected | OSError
                    ):
                        smtp.close()
                        smtp = None  # reconnect for the next message
            if error is None:
                if _mark_sent(mail.id, now):
                    log.info("mail %s sent (%s)", mail.id, mail.kind)
                else:
                    log.warning("mail %s was already marked sent", mail.id)
                sent += 1
            elif _mark_failure(mail, now, error, permanent):
                log.warning("mail %s failed for good (%s): %s", mail.id, mail.kind, error)
                failed += 1
            else:
                log.info("mail %s will be retried (%s): %s", mail.id, mail.kind, error)
                retried += 1
    finally:
        if smtp is not None:
            _disconnect(smtp)
    return SendReport(sent=sent, retried=retried, failed=failed)


def send_due_mail(
    settings: SmtpSettings, limit: int = 50, compose: Compose | None = None
) -> SendReport:
    """Deliver up to `limit` due messages now (the `shiori mail send` command)."""
    return send_due(settings, clock.now(), limit, compose)


def run_mail_worker(
    settings: SmtpSettings,
    interval_seconds: float,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = clock.now,
    limit: int = 50,
    compose: Compose | None = None,
) -> None:
    """Send due mail every `interval_seconds` until `stop` is set (forever without one).

    A full batch is followed at once by the next, so a backlog drains without waiting.
    A failing batch (database down …) is logged by exception class and tried again later.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            report = send_due(settings, clock(), limit, compose)
        except Exception as exc:
            # The class only: the message of a database error may quote parameters.
            log.error("mail batch failed: %s", type(exc).__name__)
            stop.wait(interval_seconds)
            continue
        if report.sent + report.retried + report.failed < limit:
            stop.wait(interval_seconds)


# --- reporting ----------------------------------------------------------------------------


@reads
def list_failed_mail(conn: Connection, now: datetime, limit: int = 200) -> tuple[FailedMail, ...]:
    """Mail given up on (or in doubt), for staff, newest first: kind, times, error — no
    address, subject, body or parameters."""
    rows = conn.execute(
        select(
            _c.id,
            _c.kind,
            _c.created_at,
            _c.attempts,
            _c.last_error,
            _c.failed_at,
            _c.send_started_at,
        )
        .where(_c.failed_at.is_not(None))
        .order_by(_c.failed_at.desc(), _c.id.desc())
        .limit(limit)
    ).all()
    return tuple(
        FailedMail(
            id=row.id,
            kind=row.kind,
            created_at=aware_utc(row.created_at),
            attempts=row.attempts,
            last_error=row.last_error,
            failed_at=aware_utc(row.failed_at),
            in_doubt=row.send_started_at is not None,
        )
        for row in rows
    )


@reads
def get_mail_counts(conn: Connection, now: datetime) -> MailCounts:
    row = conn.execute(
        select(
            func.count().filter(and_(_c.sent_at.is_(None), _c.failed_at.is_(None))),
            func.count().filter(_c.sent_at.is_not(None)),
            func.count().filter(and_(_c.sent_at.is_(None), _c.failed_at.is_not(None))),
        ).select_from(mail_outbox)
    ).one()
    return MailCounts(pending=int(row[0]), sent=int(row[1]), failed=int(row[2]))
