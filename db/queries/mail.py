"""The mail outbox: mail is queued in the transaction that causes it and sent afterwards.

`db.outbox.enqueue` writes a row inside the caller's transaction, so a rolled-back change sends
nothing and a committed one cannot lose its mail. `send_due` (run by the mail worker)
claims due rows in a short transaction, delivers them over one SMTP connection, and marks
each row sent (its body and parameters deleted: they may name a title) or records why not.

Whose fault a failure is decides what happens (`_describe`):

* The server's: the connection is refused, times out or drops, the server says 421
  (shutting down) or refuses our sender or login, before it accepted a message's MAIL
  FROM. The message is not at fault: the run stops at once and every claimed message keeps
  its place in the queue with no attempt counted (`SendReport.deferred`). The next run (the
  worker's next tick, the next `mail send`) simply tries again, so when the server is back
  the queue drains by itself, in order, however long the outage was.
* The server's or the message's: the same failures after the server accepted a message's
  MAIL FROM and before its final "." (at RCPT, DATA or within the text): an outage that
  began just then, or a message the server hangs up on (too large, filtered). That message
  takes one backoff step (an attempt counted, due again after 1, 2, 4 … minutes) and the
  rest of the batch keeps its place as above. An outage costs it one step of its retry
  period; a "poison" message moves behind the others at each try instead of stopping the
  queue for good, and is given up when its retry period is over.
* The message's, temporarily: a 4xx reply to its recipient or text, or a text that could
  not be composed (`compose: <exception class>`). Retried after 1, 2, 4 … minutes, at most
  `rules.MAIL_RETRY_CAP_SECONDS` apart.
* The message's, for good: a 5xx refusal of its recipient or text. Given up at once.

A message still unsent `retry_days` (SHIORI_MAIL_RETRY_DAYS) after it was queued is given
up (`last_error` "retry period over: …"). Given-up rows are listed for staff
(db.queries.staff_mail `list_mail_failures`), who may re-queue or dismiss them. A row refused
for good loses its body and parameters at once; any other given-up row keeps them so staff
can re-queue it, until staff dismiss it, the cause withdraws it (db.outbox.withdraw: a
return, an ended reservation, a purge) or retention deletes it.

The text. A notice row holds a kind, a language and parameters; the sender gets a
`compose(kind, lang, params) -> (subject, body)` callable from the web tier (db has no
presentation text and never imports web) and calls it for each message before any SMTP
command of that message, so composing changes none of the windows below. Rows with a
finished subject and body are sent as they are.

Claims. A run leases its rows (`claimed_until`, `claimed_by` = a random token for the run)
for `rules.MAIL_CLAIM_SECONDS` (one minute) and renews the lease while it works; each
SMTP wait is bounded by the connection timeout, at most a third of the lease. A run that
dies (crash, SIGKILL, power loss) stops renewing, so after at most one lease any run on any
host takes its rows again — no operator action, no waiting five minutes. The lease needs no
knowledge of other hosts, their process ids or a lock held across SMTP; it needs the hosts'
clocks within a few seconds of each other (NTP). A run whose lease ran out while it was busy
cannot do harm: its commit point (below) only succeeds while the row is still its own.

Crashes, and the one window SMTP cannot close. Delivery is staged by hand (MAIL, RCPT,
DATA and the message text, then the terminating "." on its own):

* A crash (or kill) before the final "." leaves a message the server never accepted: an
  SMTP server discards a transaction whose DATA did not end. The lease runs out and the
  next run sends it — nothing is lost.
* Just before the "." the row is committed as `send_started_at = now` ("in doubt"), only if
  it is still this run's and unsent (a withdrawn notice or a row another run took is not
  completed). From then until `_mark_sent` commits, we cannot know whether the server's
  250 arrived: a crash there, a timeout waiting for the reply or a dropped connection may
  or may not have delivered the mail, and SMTP has no way to ask. Some servers keep such a
  message, some drop it when the client goes away (4 of 5 were lost with one such server).
  **The policy is at-least-once**, chosen for the patron: a second "your reservation is
  ready" is a small nuisance, a missing one costs them the reservation. An in-doubt row is
  sent again with the **same Message-ID** (derived from the row), so receiving servers and
  mail clients that de-duplicate show it once; the run that saw no reply re-queues it at
  once, and a crashed run's rows are re-queued by the next run once their lease ran out.
  `doubts` counts these; after `rules.MAIL_MAX_DOUBTS` the row is given up instead
  (`last_error` "in doubt: …", `in_doubt=True` on the staff screen) so a server that
  always drops the connection after the "." cannot make us send without end. An in-doubt
  row whose notice was withdrawn meanwhile has no text left and is given up, not re-sent.
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
import os
import re
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, true, update
from sqlalchemy.engine import Connection

from db import clock, outbox, rules
from db.clock import aware_utc, naive_utc
from db.emails import is_email
from db.engine import reads, writes
from db.models import TABLES
from db.outbox import clean_body, clean_subject, load_params, mail_outbox
from db.tenancy import DEFAULT_LIBRARY, current_library, use_library

__all__ = [
    "MAIL_RETRY_DAYS",
    "Compose",
    "LibrarySender",
    "MailCounts",
    "SendReport",
    "SmtpSettings",
    "get_mail_counts",
    "library_sender",
    "mail_domains",
    "run_mail_worker",
    "send_due_mail",
]

log = logging.getLogger(__name__)

_c = mail_outbox.c
_identity = TABLES["library_identity"]
_library = TABLES["library"]

# (kind, lang, params) -> (subject, body): the web tier's mail templates.
Compose = Callable[[str, str, Mapping[str, Any]], tuple[str, str]]

MAIL_RETRY_DAYS = rules.MAIL_RETRY_DAYS  # the SHIORI_MAIL_RETRY_DAYS default
MAX_RETRY_DELAY = timedelta(seconds=rules.MAIL_RETRY_CAP_SECONDS)
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
    # The bounce address when it is not the From's (another library's sender, db.tenancy).
    envelope: str = ""
    # Domains besides the sender's own that a library's From may claim (lower case;
    # SHIORI_SMTP_FROM_DOMAINS): the operator's choice, as the relay and SPF/DKIM are theirs.
    from_domains: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("SMTP port out of range")
        if any(ch in self.sender for ch in "\r\n\0"):
            raise ValueError("SMTP sender must be one line")
        if not is_email(parseaddr(self.sender)[1]):
            raise ValueError("SMTP sender needs a plain address (name@host.example)")
        # One reply wait must fit well inside a claim's lease (see the module doc).
        if not 0 < self.timeout <= rules.MAIL_CLAIM_SECONDS / 3:
            raise ValueError("SMTP timeout must be positive and at most a third of the claim")

    @property
    def envelope_sender(self) -> str:
        return self.envelope or parseaddr(self.sender)[1]

    @property
    def domain(self) -> str:
        return self.envelope_sender.rpartition("@")[2]

    def may_send_as(self, address: str) -> bool:
        """Whether mail may say it is From `address`: its domain is the sender's own or
        one of `from_domains`."""
        domain = address.rpartition("@")[2].lower()
        own = parseaddr(self.sender)[1].rpartition("@")[2].lower()
        return domain == own or domain in self.from_domains


@dataclass(frozen=True)
class SendReport:
    sent: int
    retried: int
    failed: int
    # Left in the queue, no attempt counted, because the server was unavailable (or the
    # connection was lost) — `server_error` says how (an exception class and SMTP code).
    deferred: int = 0
    server_error: str = ""


@dataclass(frozen=True)
class MailCounts:
    pending: int
    sent: int
    failed: int


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4 … minutes, at most 1 hour."""
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
    retry_from: datetime  # the retry period counts from here


# Each step of a run commits on its own (see the crash windows above), at the run's `now`
# (the worker's clock) rather than the transaction's. Claims (leases) are stamped with `now`
# plus the time the run has been working, so a long run keeps them ahead of real time.


def _lease(at: datetime) -> datetime:
    return naive_utc(at) + timedelta(seconds=rules.MAIL_CLAIM_SECONDS)


def _run_token() -> str:
    """Names one sending run in `claimed_by`: random, so no two runs anywhere share one."""
    return f"{os.getpid() % 100_000}.{secrets.token_hex(8)}"


# When a row's retry period started: when it was queued, or re-queued by staff.
_retry_from = func.coalesce(_c.retry_from, _c.created_at)


def _held_by(token: str) -> ColumnElement[bool]:
    """Rows the run `token` holds; any row when no token is given (tests, old callers)."""
    return _c.claimed_by == token if token else true()


def _unclaimed(stamp: datetime) -> ColumnElement[bool]:
    return or_(_c.claimed_until.is_(None), _c.claimed_until < stamp)


@writes
def _claim(
    conn: Connection, _now: datetime, now: datetime, limit: int, token: str = ""
) -> list[_Claimed]:
    """Lease up to `limit` due rows to the run `token` for MAIL_CLAIM_SECONDS; read them."""
    stamp = naive_utc(now)
    due = and_(
        _c.sent_at.is_(None),
        _c.failed_at.is_(None),
        _c.send_started_at.is_(None),
        _c.next_attempt_at <= stamp,
        _unclaimed(stamp),
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
            _retry_from.label("retry_from"),
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
        .values(claimed_until=_lease(now), claimed_by=token or None)
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
            retry_from=row.retry_from,
        )
        for row in rows
    ]


@writes
def _renew(
    conn: Connection, _now: datetime, token: str, mail_ids: Sequence[int], at: datetime
) -> set[int]:
    """Extend the run's lease on `mail_ids`; returns the ids that are still the run's."""
    renewed = conn.execute(
        update(mail_outbox)
        .where(
            _c.id.in_(list(mail_ids)),
            _c.claimed_by == token,
            _c.sent_at.is_(None),
            _c.failed_at.is_(None),
        )
        .values(claimed_until=_lease(at))
        .returning(_c.id)
    ).all()
    return {int(row.id) for row in renewed}


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


def message_id(mail_id: int, created_at: datetime, domain: str) -> str:
    """Derived from the row, so every delivery of one message carries the same id."""
    return f"<shiori.{mail_id}.{naive_utc(created_at):%Y%m%d%H%M%S}@{domain}>"


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
    # A re-sent message (in doubt, or retried) keeps its id: receivers and clients dedupe.
    message["Message-ID"] = message_id(mail.id, mail.created_at, settings.domain)
    message["Auto-Submitted"] = "auto-generated"
    unsubscribe = _list_unsubscribe(mail)
    if unsubscribe:  # RFC 8058 one-click unsubscribe (new-arrival alerts)
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body, charset="utf-8", cte="base64")
    return message


_HEADER_URL = re.compile(r"https?://[!#-;=?-~]{1,1000}")  # printable ASCII, no <, >, space


def _list_unsubscribe(mail: _Claimed) -> str:
    """A notice's `list_unsubscribe` parameter, if it is a plain http(s) URL."""
    if mail.params is None:
        return ""
    url = load_params(mail.params).get("list_unsubscribe")
    return url if isinstance(url, str) and _HEADER_URL.fullmatch(url) else ""


class _MidMessage(Exception):
    """The connection dropped, timed out or was closed (421) after the server accepted this
    message's MAIL FROM and before its final ".": the server's fault, or this message's."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


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

    Raises what smtplib raises while the outcome is certain, `_MidMessage` when the
    connection failed between an accepted MAIL FROM and the ".", `_InDoubt` after the "."
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
    try:
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
    except OSError as exc:  # smtplib's errors included
        if _describe(exc)[1] == "server":
            raise _MidMessage(exc) from exc
        raise
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


class _LostClaim(RuntimeError):
    """The row is no longer this run's (withdrawn, or taken after its lease ran out)."""


def _forget_settled(conn: Connection, which: ColumnElement[bool] | None = None) -> None:
    """Delete the settled rows (delivered or given up) of forgotten kinds, address and all:
    mail to someone the library no longer knows stays on nobody's failure list."""
    conn.execute(
        delete(mail_outbox).where(
            _c.kind.in_(outbox.FORGOTTEN_WHEN_SETTLED),
            or_(_c.sent_at.is_not(None), _c.failed_at.is_not(None)),
            true() if which is None else which,
        )
    )


@writes
def _mark_in_doubt(
    conn: Connection,
    _now: datetime,
    mail_id: int,
    now: datetime,
    token: str = "",
    at: datetime | None = None,
) -> None:
    """The commit point: only if the row is still this run's (and still unsent)."""
    mine = _c.claimed_by == token if token else _c.claimed_by.is_(None)
    result = conn.execute(
        update(mail_outbox)
        .where(_c.id == mail_id, _c.sent_at.is_(None), _c.failed_at.is_(None), mine)
        .values(send_started_at=naive_utc(now), claimed_until=_lease(at or now))
    )
    if result.rowcount != 1:
        raise _LostClaim(f"mail {mail_id} changed while being sent")


def _commit_point(mail_id: int, now: datetime, token: str, at: Callable[[], datetime]) -> None:
    _mark_in_doubt(mail_id, now, token, at())


def _settle_doubt(error: str) -> dict[str, Any]:
    """Values for a row left in doubt: re-sent (same Message-ID) until MAIL_MAX_DOUBTS, or
    given up when it has no text left to send (withdrawn meanwhile). In SQL, so the sweep
    of rows a stopped sender left behind settles them the same way."""
    give_up = or_(
        _c.doubts + 1 >= rules.MAIL_MAX_DOUBTS,
        and_(_c.params.is_(None), _c.body.is_(None)),
    )
    return {
        "doubts": _c.doubts + 1,
        "claimed_until": None,
        "claimed_by": None,
        "last_error": f"in doubt: {error}"[:LAST_ERROR_MAX_CHARS],
        # Given up: failed_at set and send_started_at kept (the staff screen's in-doubt
        # flag); otherwise due again at once with send_started_at cleared.
        "failed_at": case((give_up, _c.send_started_at), else_=None),
        "send_started_at": case((give_up, _c.send_started_at), else_=None),
        "next_attempt_at": case((give_up, _c.next_attempt_at), else_=_c.send_started_at),
    }


@writes
def _mark_doubt(conn: Connection, _now: datetime, mail_id: int, error: str) -> None:
    conn.execute(
        update(mail_outbox)
        .where(
            _c.id == mail_id,
            _c.sent_at.is_(None),
            _c.failed_at.is_(None),
            _c.send_started_at.is_not(None),
        )
        .values(**_settle_doubt(error))
    )
    _forget_settled(conn, _c.id == mail_id)


@writes
def _sweep_in_doubt(conn: Connection, _now: datetime, now: datetime) -> int:
    """Rows a stopped sender left in doubt (its lease ran out): settled as in doubt."""
    stamp = naive_utc(now)
    result = conn.execute(
        update(mail_outbox)
        .where(
            _c.send_started_at.is_not(None),
            _c.sent_at.is_(None),
            _c.failed_at.is_(None),
            _unclaimed(stamp),
        )
        .values(**_settle_doubt("the sender stopped during delivery"))
    )
    _forget_settled(conn)
    if result.rowcount:
        log.warning("%d mail(s) in doubt after a sender stopped: re-sent", result.rowcount)
    return int(result.rowcount)


@writes
def _expire(conn: Connection, _now: datetime, now: datetime, retry_days: int) -> int:
    """Give up unsent rows older than the retry period (an outage longer than it)."""
    stamp = naive_utc(now)
    result = conn.execute(
        update(mail_outbox)
        .where(
            _c.sent_at.is_(None),
            _c.failed_at.is_(None),
            _c.send_started_at.is_(None),
            _retry_from <= stamp - timedelta(days=retry_days),
            _unclaimed(stamp),
        )
        .values(
            failed_at=stamp,
            claimed_until=None,
            claimed_by=None,
            last_error=case(
                (_c.last_error == "", "retry period over"),
                else_=func.substr(literal("retry period over: ") + _c.last_error, 1, 200),
            ),
        )
    )
    _forget_settled(conn)
    if result.rowcount:
        log.warning("%d mail(s) given up: the retry period is over", result.rowcount)
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


def _describe(exc: BaseException) -> tuple[str, str]:
    """A short error for the row (class and SMTP code only) and whose fault it is:

    "server": the server is unreachable, timed out, closed the connection, is shutting down
    (421) or refuses our sender or login — not this message's fault: the run stops and the
    message keeps its place without an attempt counted (unless it came after the message's
    MAIL FROM was accepted: `_MidMessage`, one backoff step). "permanent": a 5xx refusal of
    this message (recipient or content): given up. "temporary": a 4xx for this message, or
    it could not be composed: retried with backoff.
    """
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        code = max(codes) if codes else 0
        fault = "server" if code == 421 else "permanent" if 500 <= code < 600 else "temporary"
        return f"{name} {code}", fault
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPHeloError):
        return f"{name} {exc.smtp_code}", "server"
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        if code == 421 or not isinstance(exc, smtplib.SMTPDataError):
            return f"{name} {code}", "server"
        return f"{name} {code}", "permanent" if 500 <= code < 600 else "temporary"
    if isinstance(exc, OSError):  # refused, timed out, reset, TLS, smtplib's disconnects
        return name, "server"
    return name, "temporary"


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
            claimed_by=None,
            failed_at=None,
            last_error="",
        )
    )
    _forget_settled(conn, _c.id == mail_id)
    return result.rowcount == 1


@writes
def _mark_failure(
    conn: Connection,
    _now: datetime,
    mail: _Claimed,
    now: datetime,
    error: str,
    permanent: bool,
    retry_days: int = rules.MAIL_RETRY_DAYS,
    token: str = "",
) -> bool:
    """Record a failed attempt; returns True if the message is now given up (failed).
    With the run's `token`: only while the row is still the run's."""
    stamp = naive_utc(now)
    attempts = mail.attempts + 1
    retry_at = stamp + retry_delay(attempts)
    give_up = permanent or retry_at > naive_utc(mail.retry_from) + timedelta(days=retry_days)
    values: dict[str, object] = {
        "attempts": attempts,
        "last_error": error[:LAST_ERROR_MAX_CHARS],
        "claimed_until": None,
        "claimed_by": None,
        "send_started_at": None,  # the server's reply was definite: not in doubt
    }
    if give_up:
        values["failed_at"] = stamp
        if permanent:  # refused for good: nothing to re-send, so nothing is kept
            values.update(body=None, params=None)
    else:
        values["next_attempt_at"] = retry_at
    conn.execute(
        update(mail_outbox)
        .where(_c.id == mail.id, _c.sent_at.is_(None), _c.failed_at.is_(None), _held_by(token))
        .values(**values)
    )
    _forget_settled(conn, _c.id == mail.id)
    return give_up


@writes
def _release(
    conn: Connection,
    _now: datetime,
    mail_ids: Sequence[int],
    error: str | None = None,
    token: str = "",
) -> None:
    """Hand back claimed rows that were not attempted (no attempt is counted); `error`: why
    (the server was unavailable), kept for staff."""
    values: dict[str, object] = {"claimed_until": None, "claimed_by": None}
    if error is not None:
        values["last_error"] = error[:LAST_ERROR_MAX_CHARS]
    conn.execute(
        update(mail_outbox)
        .where(
            _c.id.in_(list(mail_ids)),
            _c.sent_at.is_(None),
            _c.send_started_at.is_(None),
            _held_by(token),
        )
        .values(**values)
    )


def send_due(
    settings: SmtpSettings,
    now: datetime,
    limit: int = 50,
    compose: Compose | None = None,
    retry_days: int = rules.MAIL_RETRY_DAYS,
) -> SendReport:
    """Deliver up to `limit` due messages over one SMTP connection; see the module doc."""
    limit = max(1, min(limit, 1000))
    _sweep_in_doubt(now)
    _expire(now, retry_days)
    token = _run_token()
    batch = _claim(now, limit, token)
    if not batch:
        return SendReport(0, 0, 0)
    settings = _library_sender(settings)
    started = time.monotonic()
    renewed_at = started

    def at() -> datetime:
        """The run's clock: `now` plus the time this run has been working."""
        return now + timedelta(seconds=time.monotonic() - started)

    sent = retried = failed = deferred = 0
    server_error = ""
    smtp: smtplib.SMTP | None = None
    try:
        for index, mail in enumerate(batch):
            if time.monotonic() - renewed_at > rules.MAIL_CLAIM_SECONDS / 3:
                ours = _renew(token, [m.id for m in batch[index:]], at())
                renewed_at = time.monotonic()
                if mail.id not in ours:
                    log.warning("mail %s was taken by another run", mail.id)
                    continue
            error: str | None = None
            fault = "temporary"
            try:
                message = _build_message(settings, mail, compose, now)
            except Exception as exc:  # a template or parameter problem: retried later
                error = f"compose: {type(exc).__name__}"
            else:
                try:
                    if smtp is None:
                        smtp = _connect(settings)
                    _deliver(
                        smtp,
                        message,
                        settings.envelope_sender,
                        mail.to_addr,
                        functools.partial(_commit_point, mail.id, now, token, at),
                    )
                except _LostClaim:
                    smtp = None  # closed before the "."
                    log.warning("mail %s was withdrawn or taken while being sent", mail.id)
                    continue
                except _MidMessage as cut:
                    if smtp is not None:
                        smtp.close()  # a late reply must not be read as the next one's
                    smtp = None
                    error, fault = _describe(cut.cause)[0], "mid-message"
                except _InDoubt as doubt:
                    if smtp is not None:
                        smtp.close()  # a late reply must not be read as the next one's
                    smtp = None
                    _mark_doubt(mail.id, type(doubt.cause).__name__)
                    log.warning("mail %s in doubt (%s): re-sent later", mail.id, mail.kind)
                    error, fault = type(doubt.cause).__name__, "doubt"
                except Exception as exc:  # any failure is recorded on the row, never lost
                    error, fault = _describe(exc)
            if error is None:
                if _mark_sent(mail.id, now):
                    log.info("mail %s sent (%s)", mail.id, mail.kind)
                else:
                    log.warning("mail %s was already marked sent", mail.id)
                sent += 1
            elif fault in ("temporary", "permanent", "mid-message"):
                # "mid-message": cut off inside this message's transaction, by an outage or
                # by this message (too large, filtered). It takes one backoff step, so a
                # message the server always hangs up on moves behind the others instead of
                # stopping the queue, and is given up only when its retry period is over.
                if _mark_failure(mail, now, error, fault == "permanent", retry_days, token):
                    log.warning("mail %s failed for good (%s): %s", mail.id, mail.kind, error)
                    failed += 1
                else:
                    log.info("mail %s will be retried (%s): %s", mail.id, mail.kind, error)
                    retried += 1
            if fault in ("server", "doubt", "mid-message"):
                # Not (only) this message's fault: the rest of the batch keeps its place,
                # no attempt counted; the next run tries again.
                rest = [m.id for m in batch[index + (fault != "server") :]]
                if rest:
                    _release(rest, error, token)
                deferred = len(rest)
                server_error = error or ""
                if rest:
                    log.warning(
                        "SMTP server unavailable (%s): %d mail(s) wait for the next run",
                        error,
                        len(rest),
                    )
                break
    finally:
        if smtp is not None:
            if smtp.sock is None:
                smtp.close()
            else:
                _disconnect(smtp)
    return SendReport(sent, retried, failed, deferred, server_error)


def _own_from() -> tuple[str, str] | None:
    """This library's own (name, address) for the From of its mail (db.tenancy): a library
    other than the first, with an address in its identity (名称・連絡先, kept by its
    managers). The first keeps the deployment's SHIORI_SMTP_FROM, as before there were
    several."""
    if current_library.get() == DEFAULT_LIBRARY:
        return None
    name, address = _identity_address()
    if not address or not is_email(address) or any(ch in name for ch in "\r\n\0"):
        return None
    return name, address


def _library_sender(settings: SmtpSettings) -> SmtpSettings:
    return _sending_as(settings, _own_from())


def _sending_as(settings: SmtpSettings, own: tuple[str, str] | None) -> SmtpSettings:
    """The deployment's sender, or this library's own address when it has one in a domain
    the deployment may send as (SmtpSettings.may_send_as: a manager cannot make the relay
    claim someone else's domain). The envelope (bounce) address stays the deployment's."""
    if own is None or not settings.may_send_as(own[1]):
        return settings
    # Unencoded, as SHIORI_SMTP_FROM is: the message encodes the name when it is sent.
    sender = str(Address(display_name=own[0], addr_spec=own[1]))
    return replace(settings, sender=sender, envelope=settings.envelope_sender)


@dataclass(frozen=True)
class LibrarySender:
    sender: str  # the From of this library's notices
    own_domain_refused: bool  # its own address was passed over: a domain not allowed


def library_sender(settings: SmtpSettings) -> LibrarySender:
    """The From this library's notices carry now, for its managers to see."""
    own = _own_from()
    refused = own is not None and not settings.may_send_as(own[1])
    return LibrarySender(_sending_as(settings, own).sender, refused)


def mail_domains(raw: str) -> frozenset[str]:
    """Comma-separated mail domains, lower case without a final dot; ValueError if one is
    not a domain an address could have."""
    found = set()
    for part in raw.replace(";", ",").split(","):
        domain = part.strip().lower().rstrip(".")
        if domain and not is_email(f"x@{domain}"):
            raise ValueError("not a mail domain")
        if domain:
            found.add(domain)
    return frozenset(found)


@reads
def _identity_address(conn: Connection, now: datetime) -> tuple[str, str]:
    row = conn.execute(select(_identity.c.short_names, _identity.c.email)).first()
    if row is None:
        return "", ""
    names = row.short_names or {}
    return str(names.get("ja") or ""), str(row.email or "")


@reads
def _library_ids(conn: Connection, now: datetime) -> tuple[int, ...]:
    return tuple(conn.execute(select(_library.c.id).order_by(_library.c.id)).scalars())


def _send_every_library(
    settings: SmtpSettings,
    now: datetime,
    limit: int,
    compose: Compose | None,
    retry_days: int,
) -> SendReport:
    """One run of `send_due` in each library (the worker without --library). A library
    whose run raises is logged and the others still run; the first such error is raised
    after them, for the worker to log and retry."""
    sent = retried = failed = deferred = 0
    server_error = ""
    raised: Exception | None = None
    for library in _library_ids():
        with use_library(library):
            try:
                report = send_due(settings, now, limit, compose, retry_days)
            except Exception as exc:  # the class only: a message may quote an address
                log.error("mail run failed in library %d: %s", library, type(exc).__name__)
                raised = raised or exc
                continue
        sent, retried = sent + report.sent, retried + report.retried
        failed, deferred = failed + report.failed, deferred + report.deferred
        server_error = server_error or report.server_error
    if raised is not None:
        raise raised
    return SendReport(sent, retried, failed, deferred, server_error)


def send_due_mail(
    settings: SmtpSettings,
    limit: int = 50,
    compose: Compose | None = None,
    retry_days: int = rules.MAIL_RETRY_DAYS,
) -> SendReport:
    """Deliver up to `limit` due messages now (the `shiori mail send` command)."""
    return send_due(settings, clock.now(), limit, compose, retry_days)


def run_mail_worker(
    settings: SmtpSettings,
    interval_seconds: float,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = clock.now,
    limit: int = 50,
    compose: Compose | None = None,
    retry_days: int = rules.MAIL_RETRY_DAYS,
    every_library: bool = False,
) -> None:
    """Send due mail every `interval_seconds` until `stop` is set (forever without one):
    the current library's, or with `every_library` each library's in turn (db.tenancy).

    A full batch is followed at once by the next, so a backlog drains without waiting.
    While the SMTP server is unavailable every run stops at its first message and the
    queue keeps its order; the first run after it is back delivers. A failing batch
    (database down …) is logged by exception class and tried again later.
    """
    stop = stop or threading.Event()
    outage = ""
    while not stop.is_set():
        try:
            send = _send_every_library if every_library else send_due
            report = send(settings, clock(), limit, compose, retry_days)
        except Exception as exc:
            # The class only: the message of a database error may quote parameters.
            log.error("mail batch failed: %s", type(exc).__name__)
            stop.wait(interval_seconds)
            continue
        if report.deferred and not outage:
            outage = report.server_error or "unavailable"
            log.error("SMTP server unavailable (%s): mail waits until it is back", outage)
        elif outage and not report.deferred and report.sent + report.retried + report.failed:
            log.warning("SMTP server back after %s: sending", outage)
            outage = ""
        if report.deferred or report.sent + report.retried + report.failed < limit:
            stop.wait(interval_seconds)


# --- reporting ----------------------------------------------------------------------------


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
