"""Reference service (レファレンス): the rules both sides share, in the caller's transaction.

The patron side is db.queries.reference; the staff side (its own db.queries module) and the
public collection use the same functions, so a state change, an answer and its notice are
written one way only.

A question moves through four states (受付・調査中・回答済・終了):

    state          how it gets there                                   next
    received       asked (create_question); a patron's follow-up on    investigating, closed,
                   an answered or closed question (follow_up)          answered (by an answer)
    investigating  staff take it up (move)                             received, closed,
                                                                       answered (by an answer)
    answered       staff answer (record_answer), from any open state   investigating, closed,
                                                                       answered again
    closed         staff close it (move); `closed_at` starts the       received (a follow-up)
                   retention period

- `record_answer` writes a staff message with its sources, which the patron reads in My
  Library; when they asked for it, a notice mail says only that an answer is ready, with a
  link to /my/reference/<id> (no content: the answer is read after login). Staff may answer
  again; a closed question is not answered (reopened by the patron's follow-up first).
- An answer is `answer_unread` until the patron is shown the thread (`mark_answer_read`):
  /my lists the questions with one (db.queries.my_summary), whether or not a mail went out.
  A flag and not a time: when a patron read an answer is not the library's business.
- A patron's follow-up on an open question is just added to the thread.
- Staff notes are messages with `internal` set: never returned to the patron
  (`load_question(..., internal=False)` leaves them out in SQL).

Privacy. The personal link (patron, questioner category) exists only on the question row;
messages and sources hang on it (ON DELETE CASCADE). A closed question is deleted with its
thread `retention_days()` after closing (`purge_closed`, SHIORI_REFERENCE_RETENTION_DAYS,
default 365) and a patron may delete their own answered or closed question at any time
(`delete_questions`); a patron purge deletes theirs through the foreign key. What remains
is anonymous: a `reference_case` (its question_id becomes NULL) and `reference_count`. The
question's unsent notice mail is withdrawn with it.

Concurrency: every change to a question first locks its row (`lock_question`: FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE makes the writer the only one), so an answer racing
the patron's delete or follow-up sees the other's result.

Logs name events and ids only, never question text, categories or patrons.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Row, select, text, update
from sqlalchemy.engine import Connection

from db import codes, models, notice_prefs, outbox
from db.catalog_write import SEP
from db.clock import aware_utc, aware_utc_or_none, library_today
from db.errors import NotFound, QueryError

log = logging.getLogger(__name__)

# Question states (受付・調査中・回答済・終了).
RECEIVED = "received"
INVESTIGATING = "investigating"
ANSWERED = "answered"
CLOSED = "closed"
STATUSES = (RECEIVED, INVESTIGATING, ANSWERED, CLOSED)
OPEN = (RECEIVED, INVESTIGATING)
# What a staff member may move a question to, from each state (answering is record_answer,
# a patron's follow-up is `reopen`).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    RECEIVED: (INVESTIGATING, CLOSED),
    INVESTIGATING: (RECEIVED, CLOSED),
    ANSWERED: (INVESTIGATING, CLOSED),
    CLOSED: (),
}
# A patron may delete their question in these states (not while staff are working on it).
DELETABLE = (ANSWERED, CLOSED)

# Message authors.
PATRON = "patron"
STAFF = "staff"

# Source kinds: a record of our catalogue, a bibliographic citation, a web page.
WORK = "work"
TEXT = "text"
URL = "url"
SOURCE_KINDS = (WORK, TEXT, URL)

# Anonymised case states: written by one staff member, approved by another, then public.
DRAFT = "draft"
APPROVED = "approved"
PUBLISHED = "published"
CASE_STATUSES = (DRAFT, APPROVED, PUBLISHED)

# reference_count events.
ASKED = "asked"
ANSWERED_EVENT = "answered"

# Limits (characters); web checks them first and says which field.
QUESTION_MAX_CHARS = 2000
CHECKED_MAX_CHARS = 1000
MESSAGE_MAX_CHARS = 4000
SOURCE_MAX_CHARS = 1000
SOURCES_MAX = 20
USEFUL_BY_MAX_DAYS = 366

NOTICE_KIND = "reference_answer"

_retention = {"days": 365}

_T = models.ReferenceQuestion.metadata.tables
_question = _T["reference_question"]
_message = _T["reference_message"]
_source = _T["reference_source"]
_case = _T["reference_case"]
_work = _T["work"]
_patron = _T["patron"]
_mail = outbox.mail_outbox.c


def configure_retention(days: int) -> None:
    """Days a closed question keeps its personal link (SHIORI_REFERENCE_RETENTION_DAYS)."""
    _retention["days"] = days


def retention_days() -> int:
    return _retention["days"]


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------


class ReferenceNotFound(NotFound):
    code = "reference_not_found"


class ReferenceRefused(QueryError):
    """A question, message or source that cannot be written; the code says why."""


# ---------------------------------------------------------------------------------------
# Shapes (what both sides read)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceInput:
    """A source staff cite: `work` (work_id; `text` may be empty: the record's citation is
    used), `text` (a bibliographic citation) or `url` (http or https)."""

    kind: str
    text: str = ""
    work_id: int | None = None


@dataclass(frozen=True)
class SourceView:
    kind: str
    text: str  # the citation, or the URL
    work_id: int | None  # a record of our catalogue still there (link to /records/<id>)


@dataclass(frozen=True)
class MessageView:
    id: int
    author: str  # patron, staff
    staff_id: int | None
    internal: bool  # a staff note: never in a patron's view
    body: str
    created_at: datetime  # aware UTC
    sources: tuple[SourceView, ...]


@dataclass(frozen=True)
class QuestionView:
    id: int
    patron_id: int | None
    category: str | None
    status: str
    question: str
    checked: str
    useful_by: date | None
    notify_email: bool
    created_at: datetime  # aware UTC
    updated_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    assigned_staff_id: int | None
    messages: tuple[MessageView, ...]

    @property
    def deletable(self) -> bool:
        return self.status in DELETABLE

    @property
    def answers(self) -> tuple[MessageView, ...]:
        return tuple(m for m in self.messages if m.author == STAFF and not m.internal)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def is_web_url(value: str) -> bool:
    """An absolute http or https URL with a host and no spaces or control characters."""
    if not value or len(value) > SOURCE_MAX_CHARS:
        return False
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def check_text(value: str, limit: int, *, required: bool = True) -> str:
    """`value` stripped; refused when empty (if `required`) or longer than `limit`."""
    value = value.strip()
    if required and not value:
        raise ReferenceRefused("reference_text_required")
    if len(value) > limit:
        raise ReferenceRefused("reference_text_too_long", max=limit)
    return value


def check_useful_by(useful_by: date | None, now: datetime) -> date | None:
    """A date from today (library-local) up to USEFUL_BY_MAX_DAYS ahead, or None."""
    if useful_by is None:
        return None
    today = library_today(now)
    if useful_by < today:
        raise ReferenceRefused("reference_useful_by_past")
    if useful_by > today + timedelta(days=USEFUL_BY_MAX_DAYS):
        raise ReferenceRefused("reference_useful_by_far", days=USEFUL_BY_MAX_DAYS)
    return useful_by


def work_citation(conn: Connection, work_id: int) -> str:
    """A catalogue record as a bibliographic citation: authors, title, publisher, year."""
    row = conn.execute(
        select(_work.c.title, _work.c.authors, _work.c.publisher, _work.c.pub_year).where(
            _work.c.id == work_id
        )
    ).first()
    if row is None:
        raise ReferenceRefused("reference_unknown_work")
    parts = [
        "、".join(a for a in row.authors.split(SEP) if a),
        f"『{row.title}』",
        row.publisher.split(SEP)[0] if row.publisher else "",
        f"{row.pub_year}" if row.pub_year else "",
    ]
    return ", ".join(p for p in parts if p)[:SOURCE_MAX_CHARS]


def check_sources(conn: Connection, sources: Sequence[SourceInput]) -> list[SourceInput]:
    """The sources as stored: refused if too many, of an unknown kind, a record we do not
    have, an empty citation or a URL that is not http(s)."""
    if len(sources) > SOURCES_MAX:
        raise ReferenceRefused("reference_too_many_sources", max=SOURCES_MAX)
    checked: list[SourceInput] = []
    for source in sources:
        if source.kind == WORK:
            if source.work_id is None:
                raise ReferenceRefused("reference_unknown_work")
            citation = work_citation(conn, source.work_id)  # refused if the record is gone
            text_ = check_text(source.text.strip() or citation, SOURCE_MAX_CHARS)
            checked.append(SourceInput(WORK, text_, source.work_id))
        elif source.kind == TEXT:
            checked.append(SourceInput(TEXT, check_text(source.text, SOURCE_MAX_CHARS)))
        elif source.kind == URL:
            url = source.text.strip()
            if not is_web_url(url):
                raise ReferenceRefused("reference_bad_url")
            checked.append(SourceInput(URL, url))
        else:
            raise ReferenceRefused("reference_bad_source")
    return checked


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def load_question(
    conn: Connection, question_id: int, *, patron_id: int | None = None, internal: bool
) -> QuestionView:
    """One question with its thread, oldest message first. With `patron_id`, only that
    patron's question (another's is ReferenceNotFound); `internal=False` leaves staff
    notes out."""
    where = [_question.c.id == question_id]
    if patron_id is not None:
        where.append(_question.c.patron_id == patron_id)
    q = conn.execute(select(_question).where(*where)).first()
    if q is None:
        raise ReferenceNotFound()
    msg_where = [_message.c.question_id == question_id]
    if not internal:
        msg_where.append(_message.c.internal.is_(False))
    messages = conn.execute(
        select(_message).where(*msg_where).order_by(_message.c.created_at, _message.c.id)
    ).all()
    ids = [m.id for m in messages]
    by_message: dict[int, list[SourceView]] = {i: [] for i in ids}
    if ids:
        for s in conn.execute(
            select(_source)
            .where(_source.c.message_id.in_(ids))
            .order_by(_source.c.message_id, _source.c.position, _source.c.id)
        ):
            by_message[s.message_id].append(SourceView(s.kind, s.text, s.work_id))
    return QuestionView(
        id=q.id,
        patron_id=q.patron_id,
        category=q.category,
        status=q.status,
        question=q.question,
        checked=q.checked,
        useful_by=q.useful_by,
        notify_email=bool(q.notify_email),
        created_at=aware_utc(q.created_at),
        updated_at=aware_utc(q.updated_at),
        answered_at=aware_utc_or_none(q.answered_at),
        closed_at=aware_utc_or_none(q.closed_at),
        assigned_staff_id=q.assigned_staff_id,
        messages=tuple(
            MessageView(
                id=m.id,
                author=m.author,
                staff_id=m.staff_id,
                internal=bool(m.internal),
                body=m.body,
                created_at=aware_utc(m.created_at),
                sources=tuple(by_message[m.id]),
            )
            for m in messages
        ),
    )


def lock_question(conn: Connection, question_id: int, patron_id: int | None = None) -> Row[Any]:
    """The question row locked for this transaction (FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers); ReferenceNotFound if it is not there (or
    not this patron's)."""
    stmt = select(_question).where(_question.c.id == question_id)
    if patron_id is not None:
        stmt = stmt.where(_question.c.patron_id == patron_id)
    row = conn.execute(stmt.with_for_update()).first()
    if row is None:
        raise ReferenceNotFound()
    return row


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def bump_count(conn: Connection, day: date, category: str | None, event: str) -> None:
    """Add one to the anonymous count of `event` on `day` for a questioner category."""
    conn.execute(
        text(
            "INSERT INTO reference_count (day, category, event, count) "
            "VALUES (:day, :category, :event, 1) "
            "ON CONFLICT (library_id, day, category, event) "
            "DO UPDATE SET count = reference_count.count + 1"
        ),
        {"day": day, "category": category or "", "event": event},
    )


def create_question(
    conn: Connection,
    now: datetime,
    *,
    patron_id: int | None,
    category: str | None,
    question: str,
    checked: str,
    useful_by: date | None,
    notify_email: bool,
) -> int:
    """Write a new `received` question (checked here: text limits, date, category)."""
    if category is not None and not codes.is_category(conn, category):
        raise ReferenceRefused("unknown_category")
    body = check_text(question, QUESTION_MAX_CHARS)
    looked = check_text(checked, CHECKED_MAX_CHARS, required=False)
    stamp = aware_utc(now)
    new_id = conn.execute(
        _question.insert()
        .values(
            patron_id=patron_id,
            category=category,
            status=RECEIVED,
            question=body,
            checked=looked,
            useful_by=check_useful_by(useful_by, now),
            notify_email=notify_email,
            created_at=stamp,
            updated_at=stamp,
        )
        .returning(_question.c.id)
    ).scalar_one()
    bump_count(conn, library_today(now), category, ASKED)
    log.info("reference question %s received", new_id)
    return int(new_id)


def add_message(
    conn: Connection,
    now: datetime,
    question_id: int,
    *,
    author: str,
    body: str,
    staff_id: int | None = None,
    internal: bool = False,
    sources: Sequence[SourceInput] = (),
) -> int:
    """Append a message (and its sources, checked) to a question's thread. → its id.
    The caller has locked the question and decides what the state becomes."""
    if author not in (PATRON, STAFF) or (author == PATRON and (internal or staff_id)):
        raise ValueError("a patron's message names no staff member and is never internal")
    text_ = check_text(body, MESSAGE_MAX_CHARS)
    cited = check_sources(conn, sources)
    stamp = aware_utc(now)
    message_id = conn.execute(
        _message.insert()
        .values(
            question_id=question_id,
            author=author,
            staff_id=staff_id,
            internal=internal,
            body=text_,
            created_at=stamp,
        )
        .returning(_message.c.id)
    ).scalar_one()
    for position, source in enumerate(cited):
        conn.execute(
            _source.insert().values(
                message_id=message_id,
                position=position,
                kind=source.kind,
                work_id=source.work_id,
                text=source.text,
            )
        )
    conn.execute(update(_question).where(_question.c.id == question_id).values(updated_at=stamp))
    return int(message_id)


def record_answer(
    conn: Connection,
    now: datetime,
    *,
    question_id: int,
    staff_id: int,
    body: str,
    sources: Sequence[SourceInput],
    make_link: Callable[[int], str],
) -> int:
    """Staff answer a question (any state but closed): the answer and its sources join the
    thread, the question becomes `answered` (assigned to `staff_id` if nobody was) and,
    when the patron asked for mail and has an address, a notice that says only that an
    answer is ready (`make_link(question_id)`: the absolute URL of /my/reference/<id>)
    is queued in this transaction. An older unsent notice of the question is withdrawn
    first, so one mail announces the latest answer. → the answer's message id."""
    row = lock_question(conn, question_id)
    if row.status == CLOSED:
        raise ReferenceRefused("reference_closed")
    message_id = add_message(
        conn, now, question_id, author=STAFF, body=body, staff_id=staff_id, sources=sources
    )
    stamp = aware_utc(now)
    conn.execute(
        update(_question)
        .where(_question.c.id == question_id)
        .values(
            status=ANSWERED,
            answered_at=stamp,
            updated_at=stamp,
            answer_unread=row.patron_id is not None,
        )
    )
    conn.execute(
        update(_question)
        .where(_question.c.id == question_id, _question.c.assigned_staff_id.is_(None))
        .values(assigned_staff_id=staff_id)
    )
    bump_count(conn, library_today(now), row.category, ANSWERED_EVENT)
    _withdraw_notices(conn, [question_id])
    if row.notify_email and row.patron_id is not None:
        _notify(conn, now, question_id, row.patron_id, make_link(question_id))
    log.info("reference question %s answered", question_id)
    return message_id


def _notify(conn: Connection, now: datetime, question_id: int, patron_id: int, link: str) -> None:
    patron = conn.execute(
        select(_patron.c.email, _patron.c.lang).where(_patron.c.id == patron_id)
    ).first()
    if patron is None or not patron.email:
        return
    if not notice_prefs.setting_of(conn, patron_id, notice_prefs.REFERENCE_ANSWER).email:
        return  # 連絡不要: the answer waits in My Library
    mail_id = outbox.enqueue_notice(
        conn,
        kind=NOTICE_KIND,
        to_addr=patron.email,
        now=now,
        patron_id=patron_id,
        lang=patron.lang,
        params={"link": link},
    )
    conn.execute(
        update(_question).where(_question.c.id == question_id).values(notice_mail_id=mail_id)
    )


def _withdraw_notices(conn: Connection, question_ids: list[int]) -> int:
    if not question_ids:
        return 0
    mail_ids = [
        int(m)
        for m in conn.execute(
            select(_question.c.notice_mail_id).where(
                _question.c.id.in_(question_ids), _question.c.notice_mail_id.is_not(None)
            )
        ).scalars()
    ]
    if not mail_ids:
        return 0
    return outbox.withdraw(conn, _mail.id.in_(mail_ids) & (_mail.kind == NOTICE_KIND))


def move(conn: Connection, now: datetime, question_id: int, to: str) -> str:
    """A staff change of state along TRANSITIONS (refused otherwise). → the old state.
    Closing stamps `closed_at` (retention counts from it)."""
    row = lock_question(conn, question_id)
    if to not in TRANSITIONS.get(row.status, ()):
        raise ReferenceRefused("reference_bad_status")
    stamp = aware_utc(now)
    values: dict[str, object] = {"status": to, "updated_at": stamp}
    if to == CLOSED:
        values["closed_at"] = stamp
    conn.execute(update(_question).where(_question.c.id == question_id).values(**values))
    return str(row.status)


def answer_unread(conn: Connection, patron_id: int, question_id: int) -> bool:
    """Whether the patron's question has an answer they have not been shown."""
    return bool(
        conn.execute(
            select(_question.c.answer_unread).where(
                _question.c.id == question_id, _question.c.patron_id == patron_id
            )
        ).scalar()
    )


def mark_answer_read(conn: Connection, patron_id: int, question_id: int) -> None:
    """The patron has been shown the thread of their question: its answers are read."""
    conn.execute(
        update(_question)
        .where(
            _question.c.id == question_id,
            _question.c.patron_id == patron_id,
            _question.c.answer_unread.is_(True),
        )
        .values(answer_unread=False)
    )


def unread_answers(conn: Connection, patron_id: int) -> list[tuple[int, str]]:
    """(id, question) of the patron's questions with an answer they have not been shown,
    the latest answer first."""
    return [
        (int(r.id), str(r.question))
        for r in conn.execute(
            select(_question.c.id, _question.c.question)
            .where(_question.c.patron_id == patron_id, _question.c.answer_unread.is_(True))
            .order_by(_question.c.answered_at.desc(), _question.c.id.desc())
        )
    ]


def follow_up(conn: Connection, now: datetime, patron_id: int, question_id: int, body: str) -> int:
    """A patron's follow-up in the thread; reopens an answered or closed question
    (`received`, closed_at cleared). → the message id."""
    row = lock_question(conn, question_id, patron_id)
    message_id = add_message(conn, now, question_id, author=PATRON, body=body)
    if row.status in (ANSWERED, CLOSED):
        conn.execute(
            update(_question)
            .where(_question.c.id == question_id)
            .values(status=RECEIVED, closed_at=None)
        )
        log.info("reference question %s reopened", question_id)
    return message_id


def delete_questions(conn: Connection, which: ColumnElement[bool]) -> int:
    """Delete the questions `which` selects with their threads and sources (cascade) and
    withdraw their unsent notices; cases written from them stay (anonymous). → deleted."""
    ids = [int(i) for i in conn.execute(select(_question.c.id).where(which)).scalars()]
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        _withdraw_notices(conn, chunk)
        # Explicit, not only by cascade: the same on an engine whose foreign keys are off.
        message_ids = select(_message.c.id).where(_message.c.question_id.in_(chunk))
        conn.execute(_source.delete().where(_source.c.message_id.in_(message_ids)))
        conn.execute(_message.delete().where(_message.c.question_id.in_(chunk)))
        conn.execute(update(_case).where(_case.c.question_id.in_(chunk)).values(question_id=None))
        result = conn.execute(_question.delete().where(_question.c.id.in_(chunk)))
        deleted += int(result.rowcount or 0)
    return deleted


def purge_closed(conn: Connection, now: datetime) -> int:
    """Delete the questions closed more than `retention_days()` ago (see above)."""
    cutoff = aware_utc(now) - timedelta(days=retention_days())
    return delete_questions(conn, (_question.c.status == CLOSED) & (_question.c.closed_at < cutoff))
