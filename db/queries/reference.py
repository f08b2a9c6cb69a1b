"""Reference service, the patron side (/my/reference): ask, read the thread, follow up,
delete. The states, the answer and its notice, and the privacy rules are db.reference (its
docstring is the contract); the staff side builds on the same module.

Every function takes `patron_id` first and filters by it in SQL: another patron's question
is ReferenceNotFound (404). Staff notes (`internal`) never leave here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from db import codes, engine, models, reference, rules
from db.clock import aware_utc
from db.engine import reads, writes
from db.errors import NotFound
from db.reference import (
    MessageView,
    QuestionView,
    ReferenceNotFound,
    ReferenceRefused,
    SourceInput,
    SourceView,
)

__all__ = [
    "REFERENCE_CATEGORIES",
    "REFERENCE_CHECKED_MAX_CHARS",
    "REFERENCE_MESSAGE_MAX_CHARS",
    "REFERENCE_QUESTION_MAX_CHARS",
    "REFERENCE_STATUSES",
    "MessageView",
    "QuestionView",
    "ReferenceAskForm",
    "ReferenceNotFound",
    "ReferenceRefused",
    "ReferenceSummary",
    "SourceInput",
    "SourceView",
    "ask_reference",
    "configure_reference",
    "delete_reference_question",
    "follow_up_reference",
    "get_reference_form",
    "get_reference_question",
    "list_reference_questions",
    "reference_retention_days",
    "view_reference_question",
]

# Questioner categories (一般・大学生・高校生・中学生・小学生以下・その他), states and limits.
REFERENCE_CATEGORIES = rules.CATEGORIES
REFERENCE_STATUSES = reference.STATUSES
REFERENCE_QUESTION_MAX_CHARS = reference.QUESTION_MAX_CHARS
REFERENCE_CHECKED_MAX_CHARS = reference.CHECKED_MAX_CHARS
REFERENCE_MESSAGE_MAX_CHARS = reference.MESSAGE_MAX_CHARS

_T = models.ReferenceQuestion.metadata.tables
_question = _T["reference_question"]
_message = _T["reference_message"]
_patron = _T["patron"]


@dataclass(frozen=True)
class ReferenceAskForm:
    """What the ask form needs: the patron's category (prefilled) and whether they have an
    address to be told by mail."""

    category: str
    has_email: bool


@dataclass(frozen=True)
class ReferenceSummary:
    id: int
    status: str
    question: str
    created_at: datetime  # aware UTC
    updated_at: datetime
    answers: int  # answers the patron can read


def configure_reference(retention_days: int) -> None:
    """SHIORI_REFERENCE_RETENTION_DAYS (validated by web.settings)."""
    reference.configure_retention(retention_days)


def reference_retention_days() -> int:
    return reference.retention_days()


def _patron_row(conn: Connection, patron_id: int) -> tuple[str, str | None]:
    row = conn.execute(
        select(_patron.c.category, _patron.c.email).where(_patron.c.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    return str(row.category), row.email


@reads
def get_reference_form(conn: Connection, now: datetime, patron_id: int) -> ReferenceAskForm:
    category, email = _patron_row(conn, patron_id)
    return ReferenceAskForm(category=category, has_email=bool(email))


@writes
def ask_reference(
    conn: Connection,
    now: datetime,
    patron_id: int,
    *,
    question: str,
    checked: str,
    useful_by: date | None,
    notify_email: bool,
    category: str,
) -> int:
    """A new question (`received`). Mail notice only for a patron with an address
    (reference_no_email otherwise). → its id."""
    if not codes.is_category(conn, category):
        raise ReferenceRefused("unknown_category")
    _, email = _patron_row(conn, patron_id)
    if notify_email and not email:
        raise ReferenceRefused("reference_no_email")
    return reference.create_question(
        conn,
        now,
        patron_id=patron_id,
        category=category,
        question=question,
        checked=checked,
        useful_by=useful_by,
        notify_email=notify_email,
    )


@reads
def list_reference_questions(
    conn: Connection, now: datetime, patron_id: int
) -> list[ReferenceSummary]:
    """The patron's questions, the latest activity first."""
    answers = (
        select(func.count())
        .select_from(_message)
        .where(
            _message.c.question_id == _question.c.id,
            _message.c.author == reference.STAFF,
            _message.c.internal.is_(False),
        )
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            _question.c.id,
            _question.c.status,
            _question.c.question,
            _question.c.created_at,
            _question.c.updated_at,
            answers.label("answers"),
        )
        .where(_question.c.patron_id == patron_id)
        .order_by(_question.c.updated_at.desc(), _question.c.id.desc())
    ).all()
    return [
        ReferenceSummary(
            id=r.id,
            status=r.status,
            question=r.question,
            created_at=aware_utc(r.created_at),
            updated_at=aware_utc(r.updated_at),
            answers=int(r.answers),
        )
        for r in rows
    ]


@reads
def get_reference_question(
    conn: Connection, now: datetime, patron_id: int, question_id: int
) -> QuestionView:
    """The patron's question and its thread without staff notes."""
    return reference.load_question(conn, question_id, patron_id=patron_id, internal=False)


def view_reference_question(patron_id: int, question_id: int) -> QuestionView:
    """The patron's question and its thread as they are shown it: its answers are read from
    now on (no longer listed on /my). A view writes only when an answer is unread (a page
    view takes no writer's lock otherwise); an answer recorded between the check and the read
    is shown and stays unread until the next view: listed once more, never hidden."""
    if _answer_unread(patron_id, question_id):
        return _view_marking_read(patron_id, question_id)
    return get_reference_question(patron_id, question_id)


@reads
def _answer_unread(conn: Connection, now: datetime, patron_id: int, question_id: int) -> bool:
    return reference.answer_unread(conn, patron_id, question_id)


@writes
def _view_marking_read(
    conn: Connection, now: datetime, patron_id: int, question_id: int
) -> QuestionView:
    """Marked before the thread is read, so an answer recorded meanwhile is in the view or
    still unread, never neither."""
    reference.mark_answer_read(conn, patron_id, question_id)
    return reference.load_question(conn, question_id, patron_id=patron_id, internal=False)


@writes
def follow_up_reference(
    conn: Connection, now: datetime, patron_id: int, question_id: int, body: str
) -> None:
    """A follow-up question in the same thread; reopens an answered or closed one."""
    reference.follow_up(conn, now, patron_id, question_id, body)


@writes
def delete_reference_question(
    conn: Connection, now: datetime, patron_id: int, question_id: int
) -> None:
    """Delete the patron's answered or closed question with its thread (a published case
    stays: it is anonymous)."""
    row = reference.lock_question(conn, question_id, patron_id)
    if row.status not in reference.DELETABLE:
        raise ReferenceRefused("reference_not_deletable")
    reference.delete_questions(
        conn, (_question.c.id == question_id) & (_question.c.patron_id == patron_id)
    )
    engine.erase_after_commit(conn)
