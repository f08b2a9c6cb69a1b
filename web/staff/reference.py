"""Reference questions at the console (`/staff/reference`): the queue by status and age, a
question with its thread, assign, 受付 → 調査中, answer with sources, internal notes, close.

Everything goes through db.queries.staff_reference (policy + audit: every open of a question
is recorded). The answer's catalogue sources are picked by the catalogue search: the
picker is part of the answer form, so without JavaScript its search button posts the whole
draft and the page comes back with the draft kept and the titles found as checkboxes; with
htmx the same URL answers with the picker only (`#source-picker`), searched as staff type.
Ticked titles travel with every search, so a new search never loses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals, structured
from web.flash import flash
from web.forms import text
from web.i18n import N_, translator
from web.staff.guard import denied, route
from web.staff.pages import me, page
from web.templating import path_for, see_other, wants_fragment

_QUEUE, _QUESTION, _PICKER = (
    "staff/reference_queue.html",
    "staff/reference_question.html",
    "staff/_reference_sources.html",
)
_HITS = 10
_TEXT_MAX = 10_000  # db refuses what is longer than its limits, in words, next to the field
_PICKED_MAX = 50


async def queue(request: Request) -> Response:
    status = forms.query(request, "status", 20)
    if status not in queries.REFERENCE_QUEUE_STATUSES:
        status = ""
    mine = forms.query(request, "mine", 1) == "1"
    try:
        rows = queries.list_reference_queue(me(request).actor, status, mine)
    except queries.StaffRefused:
        return denied(request)
    return page(
        request,
        _QUEUE,
        rows=rows,
        status=status,
        mine=mine,
        statuses=queries.REFERENCE_QUEUE_STATUSES,
    )


def _draft(form: FormData | None) -> dict[str, Any]:
    """The answer form as typed (empty when there is none)."""
    if form is None:
        return {"answer": "", "citations": "", "urls": "", "source_q": "", "work_ids": ()}
    work_ids = [forms.whole_number(str(v)[:12]) for v in form.getlist("work_id")[:50]]
    return {
        "answer": text(form, "answer", _TEXT_MAX),
        "citations": text(form, "citations", 20_000),
        "urls": text(form, "urls", 50_000),
        "source_q": text(form, "source_q", 200).strip(),
        "work_ids": tuple(dict.fromkeys(w for w in work_ids if w is not None)),
    }


def _picked(work_ids: tuple[int, ...]) -> tuple[queries.Record, ...]:
    """The ticked catalogue records (a record deleted meanwhile drops out)."""
    found = []
    for work_id in work_ids[:_PICKED_MAX]:
        try:
            found.append(queries.get_record(work_id))
        except queries.NotFound:
            continue
    return tuple(found)


def _picker(draft: dict[str, Any]) -> dict[str, Any]:
    """What the source picker shows: the ticked records, then the titles found."""
    picked = _picked(draft["work_ids"])
    hits: tuple[queries.SearchHit, ...] = ()
    if draft["source_q"]:
        result = queries.search_works(queries.SearchParams(q=draft["source_q"]))
        chosen = {r.id for r in picked}
        hits = tuple(h for h in result.hits if h.id not in chosen)[:_HITS]
    return {"picked": picked, "hits": hits, "searched": bool(draft["source_q"])}


def _question_page(
    request: Request,
    question_id: int,
    status: int = 200,
    form: FormData | None = None,
    errors: dict[str, str] | None = None,
    note: str = "",
) -> Response:
    """The question (its open is audited), with the answer draft and the picker."""
    actor = me(request).actor
    try:
        question = queries.open_reference_question(actor, question_id)
    except queries.StaffRefused:
        return denied(request)
    draft = _draft(form)
    return page(
        request,
        _QUESTION,
        status_code=status,
        q=question,
        draft=draft,
        picker=_picker(draft),
        errors=errors or {},
        note=note,
        assignable=queries.list_reference_staff(),
    )


async def question(request: Request) -> Response:
    return _question_page(request, request.path_params["question_id"])


async def sources(request: Request) -> Response:
    """Search the catalogue for sources: the picker (htmx) or the page with the draft."""
    form = await forms.read(request)
    question_id: int = request.path_params["question_id"]
    if wants_fragment(request):
        draft = _draft(form)
        return page(request, _QUESTION, _PICKER, question_id=question_id, picker=_picker(draft))
    return _question_page(request, question_id, form=form)


def _done(request: Request, question_id: int, message: str, **values: str | int) -> Response:
    response = see_other(request, "staff:reference_question", question_id=question_id)
    flash(request, response, message, **values)
    return response


def _link(request: Request) -> Callable[[int], str]:
    """The absolute address of the patron's page of a question (the notice's link)."""
    base = structured.base_url(request)

    def link(question_id: int) -> str:
        return base + path_for(request, "reference_question", question_id=question_id)

    return link


def _lines(raw: str) -> tuple[str, ...]:
    return tuple(line for line in raw.splitlines() if line.strip())


async def answer(request: Request) -> Response:
    form = await forms.read(request)
    question_id: int = request.path_params["question_id"]
    draft = _draft(form)
    given = queries.AnswerInput(
        body=draft["answer"],
        work_ids=draft["work_ids"],
        citations=_lines(draft["citations"]),
        urls=_lines(draft["urls"]),
    )
    try:
        queries.answer_reference_question(me(request).actor, question_id, given, _link(request))
    except queries.StaffRefused:
        return denied(request)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _question_page(request, question_id, 422, form, errors)
    except queries.ReferenceRefused as refused:
        errors = {"answer": refusals.say(request, refused)}
        return _question_page(request, question_id, 422, form, errors)
    return _done(request, question_id, N_("Answer saved; the patron can read it now."))


async def note(request: Request) -> Response:
    form = await forms.read(request)
    question_id: int = request.path_params["question_id"]
    typed = text(form, "note", _TEXT_MAX)
    try:
        queries.add_reference_note(me(request).actor, question_id, typed)
    except queries.StaffRefused:
        return denied(request)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _question_page(request, question_id, 422, errors=errors, note=typed)
    return _done(request, question_id, N_("Internal note saved."))


async def assign(request: Request) -> Response:
    form = await forms.read(request)
    question_id: int = request.path_params["question_id"]
    actor = me(request).actor
    chosen = text(form, "assignee", 12)
    staff_id = actor.staff_id if chosen == "me" else forms.whole_number(chosen)
    try:
        name = queries.assign_reference_question(actor, question_id, staff_id or 0)
    except queries.StaffRefused:
        return denied(request)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _question_page(request, question_id, 422, errors=errors)
    except queries.ReferenceRefused as refused:
        errors = {"assignee": refusals.say(request, refused)}
        return _question_page(request, question_id, 422, errors=errors)
    return _done(request, question_id, N_("Assigned to %(name)s."), name=name)


async def _step(request: Request, action: str) -> Response:
    question_id: int = request.path_params["question_id"]
    actor = me(request).actor
    try:
        if action == "start":
            queries.start_reference_question(actor, question_id)
            message = N_("Status: being investigated.")
        else:
            queries.close_reference_question(actor, question_id)
            message = N_("The question is closed.")
    except queries.StaffRefused:
        return denied(request)
    except queries.ReferenceRefused as refused:
        tr = translator(request)
        errors = {"status": refusals.words(tr, refused)}
        return _question_page(request, question_id, 422, errors=errors)
    return _done(request, question_id, message)


async def start(request: Request) -> Response:
    return await _step(request, "start")


async def close(request: Request) -> Response:
    return await _step(request, "close")


_Q = "/reference/{question_id:int}"

routes: list[BaseRoute] = [
    route("GET", "/reference", queue, "reference_queue"),
    route("GET", _Q, question, "reference_question"),
    route("POST", f"{_Q}/assign", assign, "reference_assign"),
    route("POST", f"{_Q}/start", start, "reference_start"),
    route("POST", f"{_Q}/sources", sources, "reference_sources"),
    route("POST", f"{_Q}/answer", answer, "reference_answer"),
    route("POST", f"{_Q}/notes", note, "reference_note"),
    route("POST", f"{_Q}/close", close, "reference_close"),
]
