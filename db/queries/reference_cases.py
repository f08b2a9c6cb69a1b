"""The public reference collection (`/reference`): anonymised cases, written by staff,
approved by a second member of staff, then public; and their export to the NDL
Collaborative Reference Database (db.crd).

A case goes draft → submitted → published:

* a staff member with the policy action "reference" writes a draft, from a patron's question
  (the original shown alongside while editing: each such look is audited, screen
  "reference_case", with the patron) or from scratch: the question rewritten, the answer,
  keywords, NDC, sources as bibliographic text or URLs, the research process, what had been
  looked at before, a note;
* submitting runs db.anonymise over every text field (email addresses, phone numbers, long
  numbers, the questioner's card number and name); anything found is refused next to its
  field and the case stays a draft;
* a staff member with "reference.publish" who is NOT its author approves it, naming the
  revision they read (a digest of the case's text): a case edited since is refused
  ("case_changed"), so what is published is exactly what the second person read. Only then
  is it public (status "published", with who approved it and when) and in the CRD export.
* Editing a submitted case takes it back to draft; a published case is withdrawn first
  (back to draft, off /reference at once).

Every write is audited (screen "reference_case", no patron unless a question's patron was
involved). The case rows hold no link to a patron: `question_id` names the question it came
from and is cleared when that question goes (retention or the patron deleting it); the case
text is what staff wrote.

Search: every case keeps its text in db.search's normal form (`search_text`: the fields
normalised one by one, a line break between them), and a query is its terms (at most
db.search.MAX_TERMS, each a substring, all required) matched with LIKE on that column among
published cases, newest first, a page at a time. A normalised term holds only letters and
digits, so it never carries a LIKE wildcard. The scan is linear in the published cases; a
library publishes hundreds or a few thousand, and the page is bounded (REFERENCE_PAGE_SIZE).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Row

from db import anonymise, crd
from db.clock import aware_utc, library_today
from db.engine import read, reads, writes
from db.errors import NotFound, QueryError, Refusal
from db.models import TABLES
from db.search import MAX_QUERY_CHARS, normalise, parse_query
from db.staff import ALLOWED, REFUSED, VIEW, StaffActor, StaffFormRefused, write_audit

__all__ = [
    "CASE_STATES",
    "REFERENCE_MAX_PAGE",
    "REFERENCE_PAGE_SIZE",
    "CaseChanged",
    "CaseInput",
    "CaseNotSubmitted",
    "CaseOwnApproval",
    "CaseSearchResult",
    "CaseSummary",
    "PublicCase",
    "StaffCase",
    "StaffCaseRow",
    "approve_reference_case",
    "export_crd",
    "get_reference_case",
    "get_staff_reference_case",
    "list_staff_reference_cases",
    "new_reference_case",
    "save_reference_case",
    "search_reference_cases",
    "submit_reference_case",
    "withdraw_reference_case",
]

_case = TABLES["reference_case"]
_question = TABLES["reference_question"]
_patron = TABLES["patron"]

SCREEN = "reference_case"
CASE_CREATE, CASE_EDIT, CASE_SUBMIT = "case_create", "case_edit", "case_submit"
CASE_APPROVE, CASE_WITHDRAW = "case_approve", "case_withdraw"
GROUPS = ("reference",)

DRAFT, SUBMITTED, PUBLISHED = "draft", "submitted", "published"
CASE_STATES = (DRAFT, SUBMITTED, PUBLISHED)

REFERENCE_PAGE_SIZE = 20
REFERENCE_MAX_PAGE = 500
STAFF_LIST_LIMIT = 200

MAX_TEXT = 10_000  # question, answer, process, preliminary research, note
MAX_LIST_ITEMS = 20  # keywords, sources
MAX_ITEM_CHARS = 500
MAX_NDC = 8  # the column holds 100 characters
KEYWORD_SEPARATOR = " | "  # db.models.ReferenceCase.keywords
_NDC = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?")
TEXT_FIELDS = ("question", "answer", "process", "preliminary", "note")
LIST_FIELDS = ("keywords", "ndc", "sources")
_FINDING_CODES = {
    anonymise.EMAIL: "case_has_email",
    anonymise.PHONE: "case_has_phone",
    anonymise.CARD_NUMBER: "case_has_card_number",
    anonymise.PATRON_NAME: "case_has_patron_name",
}


class CaseNotSubmitted(QueryError):
    """Only a case waiting for approval can be approved."""

    code = "case_not_submitted"


class CaseOwnApproval(QueryError):
    """The author cannot approve their own case: a second member of staff must."""

    code = "case_own_approval"


class CaseChanged(QueryError):
    """The case changed after the approver opened it; they must read it again."""

    code = "case_changed"


@dataclass(frozen=True)
class CaseInput:
    """A case's text as staff write it (lists one item a line in the form)."""

    question: str
    answer: str
    keywords: tuple[str, ...] = ()
    ndc: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    process: str = ""
    preliminary: str = ""
    note: str = ""
    solved: bool = True


@dataclass(frozen=True)
class CaseSummary:
    """A published case in the public list."""

    id: int
    question: str
    keywords: tuple[str, ...]
    ndc: tuple[str, ...]
    published_on: date


@dataclass(frozen=True)
class CaseSearchResult:
    cases: tuple[CaseSummary, ...]
    total: int
    page: int
    page_count: int
    start: int  # the first case's position (1-based)
    truncated: bool  # the query was cut to db.search's limits


@dataclass(frozen=True)
class PublicCase:
    id: int
    reg_id: str  # the CRD 管理番号, also the number shown
    question: str
    answer: str
    keywords: tuple[str, ...]
    ndc: tuple[str, ...]
    ndc_edition: str
    sources: tuple[str, ...]
    process: str
    preliminary: str
    note: str
    solved: bool
    published_on: date


@dataclass(frozen=True)
class StaffCaseRow:
    id: int
    question: str
    status: str
    author_code: str
    updated_at: datetime
    mine: bool


@dataclass(frozen=True)
class Original:
    """The patron's question a case is written from, for staff eyes only."""

    question_id: int
    question: str
    checked: str  # what the patron had already looked at
    answers: tuple[str, ...]  # the answers staff sent (not internal notes)


@dataclass(frozen=True)
class StaffCase:
    id: int
    status: str
    revision: str  # a digest of the text: approval names the one read
    author_code: str
    approver_code: str
    mine: bool
    case: CaseInput
    original: Original | None
    updated_at: datetime
    published_on: date | None


def _lines(raw: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in raw.split("\n") if line.strip())


def _keywords(raw: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in raw.split(KEYWORD_SEPARATOR.strip()) if k.strip())


def _input(row: Row[Any]) -> CaseInput:
    return CaseInput(
        question=row.question,
        answer=row.answer,
        keywords=_keywords(row.keywords),
        ndc=tuple(row.ndc.split()),
        sources=_lines(row.bibliography),
        process=row.answer_process,
        preliminary=row.pre_research,
        note=row.note,
        solved=bool(row.solved),
    )


def _revision(case: CaseInput) -> str:
    text = "\x1f".join(
        [
            case.question,
            case.answer,
            *case.keywords,
            "\x1e",
            *case.ndc,
            "\x1e",
            *case.sources,
            "\x1e",
            case.process,
            case.preliminary,
            case.note,
            str(case.solved),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _search_text(case: CaseInput) -> str:
    parts = [
        case.question,
        case.answer,
        *case.keywords,
        *case.ndc,
        *case.sources,
        case.process,
        case.preliminary,
        case.note,
    ]
    return "\n".join(n for n in (normalise(p) for p in parts) if n)


def _published_on(row: Row[Any]) -> date:
    return library_today(aware_utc(row.published_at))


# --- public -------------------------------------------------------------------------------


@reads
def search_reference_cases(
    conn: Connection, now: datetime, q: str = "", page: int = 1
) -> CaseSearchResult:
    """Published cases whose text holds every term of `q` (all of them when `q` is empty),
    newest first, REFERENCE_PAGE_SIZE a page."""
    parsed = parse_query(q)
    terms = parsed.terms or ((parsed.isbn13,) if parsed.isbn13 else ())
    where = [_case.c.status == PUBLISHED]
    where += [_case.c.search_text.contains(term, autoescape=True) for term in terms]
    total = int(conn.execute(select(func.count()).select_from(_case).where(*where)).scalar_one())
    page_count = min(max(1, -(-total // REFERENCE_PAGE_SIZE)), REFERENCE_MAX_PAGE)
    page = min(max(page, 1), page_count)
    rows = conn.execute(
        select(_case)
        .where(*where)
        .order_by(_case.c.published_at.desc(), _case.c.id.desc())
        .limit(REFERENCE_PAGE_SIZE)
        .offset((page - 1) * REFERENCE_PAGE_SIZE)
    ).all()
    cases = tuple(
        CaseSummary(r.id, r.question, _keywords(r.keywords), tuple(r.ndc.split()), _published_on(r))
        for r in rows
    )
    start = (page - 1) * REFERENCE_PAGE_SIZE + 1
    truncated = parsed.truncated or len(q) > MAX_QUERY_CHARS
    return CaseSearchResult(cases, total, page, page_count, start, truncated)


def _public(row: Row[Any]) -> PublicCase:
    case = _input(row)
    return PublicCase(
        id=row.id,
        reg_id=crd.reg_id(row.id),
        question=case.question,
        answer=case.answer,
        keywords=case.keywords,
        ndc=case.ndc,
        ndc_edition=crd.NDC_EDITION,
        sources=case.sources,
        process=case.process,
        preliminary=case.preliminary,
        note=case.note,
        solved=case.solved,
        published_on=_published_on(row),
    )


@reads
def get_reference_case(conn: Connection, now: datetime, case_id: int) -> PublicCase:
    """One published case; a draft or a submitted one is NotFound like a missing one."""
    row = conn.execute(
        select(_case).where(_case.c.id == case_id, _case.c.status == PUBLISHED)
    ).first()
    if row is None:
        raise NotFound("case_not_found")
    return _public(row)


def _crd_cases(batch: int = 200) -> Iterator[crd.CrdCase]:
    """Published cases, oldest first, read a batch per transaction (bounded memory)."""
    last = 0
    while True:
        with read() as conn:
            rows = conn.execute(
                select(_case)
                .where(_case.c.status == PUBLISHED, _case.c.id > last)
                .order_by(_case.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        for row in rows:
            case = _input(row)
            yield crd.CrdCase(
                case_id=row.id,
                question=case.question,
                answer=case.answer,
                created_on=_published_on(row),
                solved=case.solved,
                keywords=case.keywords,
                ndc=case.ndc,
                sources=case.sources,
                process=case.process,
                preliminary=case.preliminary,
                note=case.note,
            )
        last = rows[-1].id


def export_crd(out: BinaryIO) -> int:
    """Write every published case to `out` as CRD XML (db.crd); returns how many."""
    return crd.write(_crd_cases(), out)


# --- staff --------------------------------------------------------------------------------


def _staff_codes(conn: Connection, ids: set[int]) -> dict[int, str]:
    account = TABLES["staff_account"]
    if not ids:
        return {}
    rows = conn.execute(
        select(account.c.id, account.c.staff_code).where(account.c.id.in_(sorted(ids)))
    )
    return {r.id: r.staff_code for r in rows}


@reads
def list_staff_reference_cases(
    conn: Connection, now: datetime, actor: StaffActor, status: str = ""
) -> tuple[StaffCaseRow, ...]:
    """Cases for the console, those waiting for approval first, newest change first."""
    stmt = select(_case)
    if status in CASE_STATES:
        stmt = stmt.where(_case.c.status == status)
    order = (_case.c.status != SUBMITTED, _case.c.updated_at.desc(), _case.c.id.desc())
    rows = conn.execute(stmt.order_by(*order).limit(STAFF_LIST_LIMIT)).all()
    codes = _staff_codes(conn, {r.written_by for r in rows if r.written_by is not None})
    return tuple(
        StaffCaseRow(
            r.id,
            r.question,
            r.status,
            codes.get(r.written_by, ""),
            aware_utc(r.updated_at),
            r.written_by == actor.staff_id,
        )
        for r in rows
    )


def _question_row(conn: Connection, question_id: int | None) -> Row[Any] | None:
    if question_id is None:
        return None
    return conn.execute(select(_question).where(_question.c.id == question_id)).first()


def _original(conn: Connection, question: Row[Any]) -> Original:
    message = TABLES["reference_message"]
    answers = conn.execute(
        select(message.c.body)
        .where(
            message.c.question_id == question.id,
            message.c.author == "staff",
            message.c.internal.is_(False),
        )
        .order_by(message.c.created_at, message.c.id)
    ).scalars()
    return Original(question.id, question.question, question.checked, tuple(answers))


def _locked(conn: Connection, case_id: int) -> Row[Any]:
    row = conn.execute(select(_case).where(_case.c.id == case_id).with_for_update()).first()
    if row is None:
        raise NotFound("case_not_found")
    return row


@writes
def get_staff_reference_case(
    conn: Connection, now: datetime, actor: StaffActor, case_id: int
) -> StaffCase:
    """A case for the console, with the patron's original question alongside while it is
    not published (each such look audited with the question's patron)."""
    row = conn.execute(select(_case).where(_case.c.id == case_id)).first()
    if row is None:
        raise NotFound("case_not_found")
    original = None
    question = _question_row(conn, row.question_id)
    if question is not None and row.status != PUBLISHED:
        original = _original(conn, question)
        write_audit(conn, actor, question.patron_id, GROUPS, SCREEN, VIEW, ALLOWED, now)
    codes = _staff_codes(conn, {i for i in (row.written_by, row.approved_by) if i is not None})
    case = _input(row)
    return StaffCase(
        id=row.id,
        status=row.status,
        revision=_revision(case),
        author_code=codes.get(row.written_by, ""),
        approver_code=codes.get(row.approved_by, ""),
        mine=row.written_by == actor.staff_id,
        case=case,
        original=original,
        updated_at=aware_utc(row.updated_at),
        published_on=_published_on(row) if row.published_at is not None else None,
    )


def _tidy(value: str) -> str:
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _items(values: tuple[str, ...], separator: str = "") -> tuple[str, ...]:
    seen: list[str] = []
    for value in values:
        for line in _tidy(value).split("\n"):
            item = " ".join(line.replace(separator, " ").split()) if separator else line.strip()
            if item and item not in seen:
                seen.append(item)
    return tuple(seen)


def _checked(case: CaseInput) -> tuple[CaseInput, dict[str, Refusal]]:
    """The input tidied (NFC, trimmed, empty and repeated lines dropped; NDC numbers in
    half-width) and its per-field refusals."""
    clean = CaseInput(
        question=_tidy(case.question),
        answer=_tidy(case.answer),
        keywords=_items(case.keywords, KEYWORD_SEPARATOR.strip()),
        ndc=tuple(unicodedata.normalize("NFKC", n) for n in _items(case.ndc)),
        sources=_items(case.sources),
        process=_tidy(case.process),
        preliminary=_tidy(case.preliminary),
        note=_tidy(case.note),
        solved=case.solved,
    )
    errors: dict[str, Refusal] = {}
    if not clean.question:
        errors["question"] = Refusal.of("case_question_required")
    if not clean.answer:
        errors["answer"] = Refusal.of("case_answer_required")
    for name in TEXT_FIELDS:
        if len(getattr(clean, name)) > MAX_TEXT:
            errors[name] = Refusal.of("case_text_too_long", max=MAX_TEXT)
    for name in ("keywords", "sources"):
        values: tuple[str, ...] = getattr(clean, name)
        if len(values) > MAX_LIST_ITEMS or any(len(v) > MAX_ITEM_CHARS for v in values):
            errors[name] = Refusal.of("case_list_too_long", items=MAX_LIST_ITEMS)
    if len(clean.ndc) > MAX_NDC or any(not _NDC.fullmatch(n) for n in clean.ndc):
        errors["ndc"] = Refusal.of("case_ndc_format", items=MAX_NDC)
    return clean, errors


def _identifying(conn: Connection, question_id: int | None, case: CaseInput) -> dict[str, Refusal]:
    """Per field, what db.anonymise finds (with the questioner's name and card from their
    record, when the case came from a question whose patron is still known)."""
    names: list[str] = []
    card = ""
    question = _question_row(conn, question_id)
    if question is not None and question.patron_id is not None:
        patron = conn.execute(
            select(_patron.c.name, _patron.c.name_kana, _patron.c.card_number).where(
                _patron.c.id == question.patron_id
            )
        ).first()
        if patron is not None:
            names, card = [patron.name, patron.name_kana], patron.card_number
    errors: dict[str, Refusal] = {}
    for name in (*TEXT_FIELDS, *LIST_FIELDS):
        value = getattr(case, name)
        texts = [value] if isinstance(value, str) else list(value)
        found = anonymise.findings(texts, names, card)
        if found:
            errors[name] = Refusal.of(_FINDING_CODES[found[0]])
    return errors


def _values(case: CaseInput) -> dict[str, Any]:
    return {
        "question": case.question,
        "answer": case.answer,
        "keywords": KEYWORD_SEPARATOR.join(case.keywords),
        "ndc": " ".join(case.ndc),
        "bibliography": "\n".join(case.sources),
        "answer_process": case.process,
        "pre_research": case.preliminary,
        "note": case.note,
        "solved": case.solved,
        "search_text": _search_text(case),
    }


@writes
def new_reference_case(
    conn: Connection, now: datetime, actor: StaffActor, question_id: int | None = None
) -> int:
    """A draft, empty or from a patron's question (its text copied in as the starting point
    to rewrite: the check at submission makes sure what identifies is gone)."""
    start = CaseInput(question="", answer="")
    question = _question_row(conn, question_id)
    if question_id is not None and question is None:
        raise NotFound("case_not_found")
    if question is not None:
        start = CaseInput(question=question.question, answer="", preliminary=question.checked)
    case_id = conn.execute(
        _case.insert()
        .values(
            **_values(start),
            question_id=question_id,
            status=DRAFT,
            written_by=actor.staff_id,
            created_at=now,
            updated_at=now,
        )
        .returning(_case.c.id)
    ).scalar_one()
    patron_id = question.patron_id if question is not None else None
    write_audit(conn, actor, patron_id, GROUPS, SCREEN, CASE_CREATE, ALLOWED, now)
    return int(case_id)


def _store(
    conn: Connection, now: datetime, actor: StaffActor, case_id: int, case: CaseInput, submit: bool
) -> None:
    row = _locked(conn, case_id)
    if row.status == PUBLISHED:
        raise QueryError("case_published")
    clean, errors = _checked(case)
    if submit:
        errors = {**_identifying(conn, row.question_id, clean), **errors}
    if errors:
        raise StaffFormRefused(errors)
    conn.execute(
        update(_case)
        .where(_case.c.id == case_id)
        .values(
            **_values(clean),
            status=SUBMITTED if submit else DRAFT,
            updated_at=now,
        )
    )
    action = CASE_SUBMIT if submit else CASE_EDIT
    write_audit(conn, actor, None, GROUPS, SCREEN, action, ALLOWED, now)


@writes
def save_reference_case(
    conn: Connection, now: datetime, actor: StaffActor, case_id: int, case: CaseInput
) -> None:
    """Save a draft (a submitted case goes back to draft; a published one must be withdrawn
    first: "case_published"). Refusals per field: StaffFormRefused, nothing saved."""
    _store(conn, now, actor, case_id, case, submit=False)


@writes
def submit_reference_case(
    conn: Connection, now: datetime, actor: StaffActor, case_id: int, case: CaseInput
) -> None:
    """Save and send for approval, if nothing in it may identify the questioner (else
    StaffFormRefused per field, and nothing is saved)."""
    _store(conn, now, actor, case_id, case, submit=True)


@writes
def _approve(
    conn: Connection, now: datetime, actor: StaffActor, case_id: int, revision: str
) -> None:
    row = _locked(conn, case_id)
    if row.status != SUBMITTED:
        raise CaseNotSubmitted()
    if row.written_by == actor.staff_id:
        raise CaseOwnApproval()
    case = _input(row)
    if _revision(case) != revision:
        raise CaseChanged()
    errors = _identifying(conn, row.question_id, case)
    if errors:
        raise StaffFormRefused(errors)
    conn.execute(
        update(_case)
        .where(_case.c.id == case_id)
        .values(
            status=PUBLISHED,
            approved_by=actor.staff_id,
            approved_at=now,
            published_at=now,
            updated_at=now,
        )
    )
    write_audit(conn, actor, None, GROUPS, SCREEN, CASE_APPROVE, ALLOWED, now)


@writes
def _refused_approval(conn: Connection, now: datetime, actor: StaffActor) -> None:
    write_audit(conn, actor, None, GROUPS, SCREEN, CASE_APPROVE, REFUSED, now)


def approve_reference_case(actor: StaffActor, case_id: int, revision: str) -> None:
    """Publish a submitted case: by someone other than its author (an author's attempt is
    refused and recorded), at the revision they read. The check runs once more (the
    questioner's record may have changed since)."""
    try:
        _approve(actor, case_id, revision)
    except CaseOwnApproval:
        _refused_approval(actor)
        raise


@writes
def withdraw_reference_case(
    conn: Connection, now: datetime, actor: StaffActor, case_id: int
) -> None:
    """Take a case off /reference and out of the export: back to draft, to be approved
    again (by someone other than its author) after any change."""
    _locked(conn, case_id)
    conn.execute(
        update(_case)
        .where(_case.c.id == case_id)
        .values(
            status=DRAFT,
            approved_by=None,
            approved_at=None,
            published_at=None,
            updated_at=now,
        )
    )
    write_audit(conn, actor, None, GROUPS, SCREEN, CASE_WITHDRAW, ALLOWED, now)
