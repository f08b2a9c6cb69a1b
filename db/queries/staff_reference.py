"""The staff side of the reference service (レファレンス): the queue, opening a question,
assigning it, its status, answering with sources, internal notes, closing.

The policy first, then the audit, then the work:

- Everything needs the action `reference` (db/data/staff_policy.json): staff and managers,
  and temporary staff given the duty `reference`; never interns. A role without it is
  refused (`StaffRefused`) and the refused attempt is recorded (db.staff.refuse).
- The queue shows no personal data (number, status, dates, who has it), so listing it is
  not a look at anyone's question. Every open of a question, and every action on one,
  writes its `staff_audit` row (field group `reference`, screen `reference`, the asking
  patron) in a transaction of its own that commits *before* the question is read or
  changed: a crash in between leaves a recorded look that showed nothing, never an
  unrecorded one.
- The question's state and its thread are written through db.reference, the plain module
  the patron side (db.queries.reference) shares: the answer and its sources, the "your
  answer is ready" notice (which names nothing of the question), the anonymous count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.engine import Connection

from db import reference
from db.clock import aware_utc, library_today
from db.engine import reads, writes
from db.errors import Refusal
from db.models import TABLES
from db.staff import (
    ALLOWED,
    VIEW,
    StaffActor,
    StaffFormRefused,
    StaffRefused,
    duties,
    refuse,
    write_audit,
)
from db.staff_policy import policy

__all__ = [
    "REFERENCE_QUEUE_STATUSES",
    "AnswerInput",
    "ReferenceQueueRow",
    "ReferenceStaff",
    "StaffReferenceEntry",
    "StaffReferenceQuestion",
    "add_reference_note",
    "answer_reference_question",
    "assign_reference_question",
    "close_reference_question",
    "list_reference_queue",
    "list_reference_staff",
    "open_reference_question",
    "start_reference_question",
]

REFERENCE_ACTION = "reference"
REFERENCE_FIELD_GROUP = "reference"
REFERENCE_SCREEN = "reference"
# staff_audit actions (besides VIEW)
ASSIGN, START, ANSWER, NOTE, CLOSE = (
    "reference_assign",
    "reference_start",
    "reference_answer",
    "reference_note",
    "reference_close",
)

_QUEUE_MAX = 300
# The queue's filters: "" is every question not closed.
REFERENCE_QUEUE_STATUSES = ("", *reference.STATUSES)

_question = TABLES["reference_question"]
_message = TABLES["reference_message"]
_staff = TABLES["staff_account"]


@dataclass(frozen=True)
class ReferenceQueueRow:
    """One question in the queue: nothing about the patron or what they asked."""

    id: int
    status: str
    created_at: datetime
    age_days: int
    useful_by: date | None
    assigned_staff_id: int | None
    assigned_name: str | None
    follow_up: bool  # the patron wrote after the last answer


@dataclass(frozen=True)
class ReferenceStaff:
    """A staff member who may take reference questions (the assign list)."""

    id: int
    staff_code: str
    name: str


@dataclass(frozen=True)
class StaffReferenceEntry:
    """A message of the thread: the patron's follow-up, an answer, or an internal note."""

    id: int
    author: str  # patron, staff
    staff_name: str | None
    internal: bool
    body: str
    created_at: datetime
    sources: tuple[reference.SourceView, ...]


@dataclass(frozen=True)
class StaffReferenceQuestion:
    id: int
    status: str
    category: str | None
    question: str
    checked: str
    useful_by: date | None
    notify_email: bool
    created_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    assigned_staff_id: int | None
    assigned_name: str | None
    thread: tuple[StaffReferenceEntry, ...]  # what the patron sees too, oldest first
    notes: tuple[StaffReferenceEntry, ...]  # internal notes, never shown to the patron
    moves: tuple[str, ...]  # the states staff may move it to (db.reference.TRANSITIONS)


@dataclass(frozen=True)
class AnswerInput:
    """An answer as staff typed it: the text, catalogue records picked by search, and
    outside sources (bibliographic citations and http/https URLs), one per line."""

    body: str
    work_ids: tuple[int, ...] = ()
    citations: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()


def _may(actor: StaffActor) -> bool:
    grants = policy().grants(actor.role, actor.duties)
    return REFERENCE_ACTION in grants[0] and REFERENCE_FIELD_GROUP in grants[1]


@writes
def _refuse(
    conn: Connection, now: datetime, actor: StaffActor, question_id: int | None, action: str
) -> None:
    patron_id = None
    if question_id is not None:
        patron_id = conn.execute(
            select(_question.c.patron_id).where(_question.c.id == question_id)
        ).scalar()
    refuse(conn, actor, patron_id, (REFERENCE_FIELD_GROUP,), REFERENCE_SCREEN, action, now)


@writes
def _record(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    question_id: int,
    action: str,
    target_staff_code: str | None = None,
) -> None:
    row = conn.execute(select(_question.c.patron_id).where(_question.c.id == question_id)).first()
    if row is None:
        raise reference.ReferenceNotFound()
    write_audit(
        conn,
        actor,
        row.patron_id,
        (REFERENCE_FIELD_GROUP,),
        REFERENCE_SCREEN,
        action,
        ALLOWED,
        now,
        target_staff_code,
    )


def _check(actor: StaffActor, question_id: int | None, action: str) -> None:
    """Refuse (recorded, committed before raising) a role without the reference action."""
    if not _may(actor):
        _refuse(actor, question_id, action)
        raise StaffRefused()


def _allow(
    actor: StaffActor, question_id: int, action: str, target_staff_code: str | None = None
) -> None:
    _check(actor, question_id, action)
    _record(actor, question_id, action, target_staff_code)


def _ended(ends_on: date | None, today: date) -> bool:
    return ends_on is not None and ends_on < today  # as db.staff.ended


def _may_take(role: str, raw_duties: str) -> bool:
    return policy().may(role, duties(raw_duties), REFERENCE_ACTION)


def list_reference_queue(
    actor: StaffActor, status: str = "", mine: bool = False
) -> tuple[ReferenceQueueRow, ...]:
    """The queue, oldest first: every question not closed (or those of one status), or only
    those assigned to the actor. Refused (and recorded) for a role without reference."""
    _check(actor, None, "reference_queue")
    return _queue(actor.staff_id, status if status in REFERENCE_QUEUE_STATUSES else "", mine)


@reads
def _queue(
    conn: Connection, now: datetime, staff_id: int, status: str, mine: bool
) -> tuple[ReferenceQueueRow, ...]:
    q = _question
    later = (
        select(_message.c.id)
        .where(
            _message.c.question_id == q.c.id,
            _message.c.author == reference.PATRON,
            _message.c.created_at > q.c.answered_at,
        )
        .correlate(q)
    )
    stmt = (
        select(
            q.c.id,
            q.c.status,
            q.c.created_at,
            q.c.useful_by,
            q.c.assigned_staff_id,
            _staff.c.name.label("assigned_name"),
            and_(q.c.answered_at.is_not(None), exists(later)).label("follow_up"),
        )
        .select_from(q.outerjoin(_staff, _staff.c.id == q.c.assigned_staff_id))
        .order_by(q.c.created_at, q.c.id)
        .limit(_QUEUE_MAX)
    )
    if status:
        stmt = stmt.where(q.c.status == status)
    else:
        stmt = stmt.where(q.c.status != reference.CLOSED)
    if mine:
        stmt = stmt.where(q.c.assigned_staff_id == staff_id)
    today = library_today(now)
    return tuple(
        ReferenceQueueRow(
            r.id,
            r.status,
            aware_utc(r.created_at),
            (today - library_today(aware_utc(r.created_at))).days,
            r.useful_by,
            r.assigned_staff_id,
            r.assigned_name,
            bool(r.follow_up),
        )
        for r in conn.execute(stmt)
    )


@reads
def list_reference_staff(conn: Connection, now: datetime) -> tuple[ReferenceStaff, ...]:
    """Accounts that may take reference questions (role or duty), not ended, by staff ID."""
    today = library_today(now)
    rows = conn.execute(
        select(
            _staff.c.id,
            _staff.c.staff_code,
            _staff.c.name,
            _staff.c.role,
            _staff.c.duties,
            _staff.c.ends_on,
        ).order_by(_staff.c.staff_code)
    )
    return tuple(
        ReferenceStaff(r.id, r.staff_code, r.name)
        for r in rows
        if _may_take(r.role, r.duties) and not _ended(r.ends_on, today)
    )


def open_reference_question(actor: StaffActor, question_id: int) -> StaffReferenceQuestion:
    """The question with its thread and internal notes (the open is audited first)."""
    _allow(actor, question_id, VIEW)
    return _read(question_id)


@reads
def _read(conn: Connection, now: datetime, question_id: int) -> StaffReferenceQuestion:
    view = reference.load_question(conn, question_id, internal=True)
    ids = {m.staff_id for m in view.messages} | {view.assigned_staff_id}
    names = {
        r.id: str(r.name)
        for r in conn.execute(
            select(_staff.c.id, _staff.c.name).where(
                _staff.c.id.in_([i for i in ids if i is not None])
            )
        )
    }
    entries = [
        StaffReferenceEntry(
            m.id,
            m.author,
            names.get(m.staff_id) if m.staff_id is not None else None,
            m.internal,
            m.body,
            m.created_at,
            m.sources,
        )
        for m in view.messages
    ]
    assigned = view.assigned_staff_id
    return StaffReferenceQuestion(
        view.id,
        view.status,
        view.category,
        view.question,
        view.checked,
        view.useful_by,
        view.notify_email,
        view.created_at,
        view.answered_at,
        view.closed_at,
        assigned,
        names.get(assigned) if assigned is not None else None,
        tuple(e for e in entries if not e.internal),
        tuple(e for e in entries if e.internal),
        reference.TRANSITIONS.get(view.status, ()),
    )


def assign_reference_question(actor: StaffActor, question_id: int, staff_id: int) -> str:
    """Give the question to a staff member who may take reference questions (oneself or
    another). → their name. `StaffFormRefused` (field `assignee`) for anyone else."""
    _check(actor, question_id, ASSIGN)
    code = _assignee_code(staff_id)
    _record(actor, question_id, ASSIGN, code)
    return _assign(question_id, staff_id)


@reads
def _assignee_code(conn: Connection, now: datetime, staff_id: int) -> str:
    row = conn.execute(
        select(_staff.c.staff_code, _staff.c.role, _staff.c.duties, _staff.c.ends_on).where(
            _staff.c.id == staff_id
        )
    ).first()
    if (
        row is None
        or _ended(row.ends_on, library_today(now))
        or not _may_take(row.role, row.duties)
    ):
        raise StaffFormRefused({"assignee": Refusal.of("reference_assignee")})
    return str(row.staff_code)


@writes
def _assign(conn: Connection, now: datetime, question_id: int, staff_id: int) -> str:
    row = reference.lock_question(conn, question_id)
    if row.status == reference.CLOSED:
        raise reference.ReferenceRefused("reference_closed")
    conn.execute(
        update(_question)
        .where(_question.c.id == question_id)
        .values(assigned_staff_id=staff_id, updated_at=aware_utc(now))
    )
    return str(conn.execute(select(_staff.c.name).where(_staff.c.id == staff_id)).scalar_one())


def _sources(answer: AnswerInput) -> tuple[list[reference.SourceInput], dict[str, Refusal]]:
    """The answer's sources in citing order (catalogue records, citations, URLs), and what
    is wrong with them, per field."""
    errors: dict[str, Refusal] = {}
    citations = [c.strip() for c in answer.citations if c.strip()]
    urls = [u.strip() for u in answer.urls if u.strip()]
    work_ids = list(dict.fromkeys(answer.work_ids))
    if any(len(c) > reference.SOURCE_MAX_CHARS for c in citations):
        max_chars = reference.SOURCE_MAX_CHARS
        errors["citations"] = Refusal.of("reference_text_too_long", max=max_chars)
    bad = next((u for u in urls if not reference.is_web_url(u)), None)
    if bad is not None:
        errors["urls"] = Refusal.of("reference_bad_url")
    if len(work_ids) + len(citations) + len(urls) > reference.SOURCES_MAX:
        errors["sources"] = Refusal.of("reference_too_many_sources", max=reference.SOURCES_MAX)
    sources = [
        *(reference.SourceInput(reference.WORK, "", w) for w in work_ids),
        *(reference.SourceInput(reference.TEXT, c) for c in citations),
        *(reference.SourceInput(reference.URL, u) for u in urls),
    ]
    return sources, errors


def answer_reference_question(
    actor: StaffActor, question_id: int, answer: AnswerInput, make_link: Callable[[int], str]
) -> None:
    """Answer with sources (status 回答済). When the patron asked for mail, the notice that
    says only that an answer is ready is queued with the answer (`make_link(question_id)`:
    the absolute address of the patron's page of the question). `StaffFormRefused` per
    field for input that cannot be saved; `ReferenceRefused` for a closed question."""
    _check(actor, question_id, ANSWER)
    sources, errors = _sources(answer)
    body = answer.body.strip()
    if not body:
        errors["answer"] = Refusal.of("reference_text_required")
    elif len(body) > reference.MESSAGE_MAX_CHARS:
        errors["answer"] = Refusal.of("reference_text_too_long", max=reference.MESSAGE_MAX_CHARS)
    if errors:
        raise StaffFormRefused(errors)
    _record(actor, question_id, ANSWER)
    _answer(question_id, actor.staff_id, body, sources, make_link)


@writes
def _answer(
    conn: Connection,
    now: datetime,
    question_id: int,
    staff_id: int,
    body: str,
    sources: list[reference.SourceInput],
    make_link: Callable[[int], str],
) -> None:
    try:
        reference.record_answer(
            conn,
            now,
            question_id=question_id,
            staff_id=staff_id,
            body=body,
            sources=sources,
            make_link=make_link,
        )
    except reference.ReferenceRefused as refused:
        if refused.code == "reference_unknown_work":  # a record deleted meanwhile
            raise StaffFormRefused({"sources": refused.refusal}) from None
        raise


def add_reference_note(actor: StaffActor, question_id: int, body: str) -> None:
    """An internal note on the question (never shown to the patron)."""
    _check(actor, question_id, NOTE)
    text = body.strip()
    if not text:
        raise StaffFormRefused({"note": Refusal.of("reference_text_required")})
    if len(text) > reference.MESSAGE_MAX_CHARS:
        max_chars = reference.MESSAGE_MAX_CHARS
        raise StaffFormRefused({"note": Refusal.of("reference_text_too_long", max=max_chars)})
    _record(actor, question_id, NOTE)
    _note(question_id, actor.staff_id, text)


@writes
def _note(conn: Connection, now: datetime, question_id: int, staff_id: int, body: str) -> None:
    reference.lock_question(conn, question_id)
    reference.add_message(
        conn, now, question_id, author=reference.STAFF, body=body, staff_id=staff_id, internal=True
    )


def start_reference_question(actor: StaffActor, question_id: int) -> None:
    """受付 → 調査中 (or back to 調査中 after an answer): someone is on it; a question nobody
    had is assigned to the actor. `ReferenceRefused` from any other state."""
    _allow(actor, question_id, START)
    _move(question_id, reference.INVESTIGATING, actor.staff_id)


def close_reference_question(actor: StaffActor, question_id: int) -> None:
    """終了: the retention period of the personal link counts from now."""
    _allow(actor, question_id, CLOSE)
    _move(question_id, reference.CLOSED, None)


@writes
def _move(conn: Connection, now: datetime, question_id: int, to: str, taker: int | None) -> None:
    reference.move(conn, now, question_id, to)
    if taker is not None:
        conn.execute(
            update(_question)
            .where(_question.c.id == question_id, _question.c.assigned_staff_id.is_(None))
            .values(assigned_staff_id=taker)
        )
