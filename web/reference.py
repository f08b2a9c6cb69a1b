"""Reference service (レファレンス), the patron side: My Library → reference.

Ask (`/my/reference/new`), the list of one's questions (`/my/reference`) and a question's
thread (`/my/reference/<id>`): the answers with their sources, follow-ups, deletion of an
answered or closed question. Every POST works without JavaScript (303 + flash; 422 with
the message next to the field); the follow-up form also works through htmx (the thread
region is swapped). Another patron's question is a 404 (db filters by patron).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web import forms, refusals
from web.flash import flash
from web.guard import patron_route
from web.i18n import N_, translator
from web.sessions import Current
from web.templating import render, see_other, wants_fragment

# The db limits (characters), also given to the browser as maxlength.
QUESTION_MAX = queries.REFERENCE_QUESTION_MAX_CHARS
CHECKED_MAX = queries.REFERENCE_CHECKED_MAX_CHARS
MESSAGE_MAX = queries.REFERENCE_MESSAGE_MAX_CHARS
EMAIL = "email"
MY_LIBRARY = "my_library"

# Which field a refusal from db belongs to (the rest go above the form).
_FIELD_OF = {
    "reference_useful_by_past": "useful_by",
    "reference_useful_by_far": "useful_by",
    "reference_no_email": "notify",
    "unknown_category": "category",
}


def _limits() -> dict[str, int]:
    return {"question": QUESTION_MAX, "checked": CHECKED_MAX, "message": MESSAGE_MAX}


# --- asking ----------------------------------------------------------------------------


def _ask_page(
    request: Request,
    ask: queries.ReferenceAskForm,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "reference/new.html",
        ctx={
            "ask": ask,
            "values": values,
            "errors": errors,
            "categories": queries.list_category_codes(),
            "limits": _limits(),
        },
        status_code=status,
    )


async def new_page(request: Request, session: Current) -> Response:
    ask = queries.get_reference_form(session.patron_id)
    values = {
        "question": "",
        "checked": "",
        "useful_by": "",
        "category": ask.category,
        "notify": EMAIL if ask.has_email else MY_LIBRARY,
    }
    return _ask_page(request, ask, values, {})


def _read_ask(form: FormData) -> dict[str, str]:
    # One more character than allowed is kept, so "too long" is said, not silently cut.
    return {
        "question": forms.text(form, "question", QUESTION_MAX + 1),
        "checked": forms.text(form, "checked", CHECKED_MAX + 1),
        "useful_by": forms.text(form, "useful_by", 40),
        "category": forms.text(form, "category", 20),
        "notify": forms.text(form, "notify", 20),
    }


def _check_length(
    errors: dict[str, str], request: Request, name: str, value: str, limit: int
) -> None:
    if len(value.strip()) > limit:
        errors[name] = refusals.say(
            request, queries.Refusal.of("reference_text_too_long", max=limit)
        )


async def ask(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    values = _read_ask(form)
    tr = translator(request)
    errors: dict[str, str] = {}
    if not values["question"].strip():
        errors["question"] = tr.gettext("Please write your question.")
    _check_length(errors, request, "question", values["question"], QUESTION_MAX)
    _check_length(errors, request, "checked", values["checked"], CHECKED_MAX)
    useful_by: date | None = None
    if values["useful_by"].strip():
        useful_by = forms.calendar_date(values["useful_by"])
        if useful_by is None:
            errors["useful_by"] = tr.gettext("Use a date like 2026-12-28 or 令和8年12月28日.")
    if values["category"] not in queries.list_category_codes():
        errors["category"] = refusals.say(request, queries.Refusal.of("choose_category"))
    if values["notify"] not in (EMAIL, MY_LIBRARY):
        errors["notify"] = refusals.say(request, queries.Refusal.of("choose_option"))
    ask_form = queries.get_reference_form(session.patron_id)
    if not errors:
        try:
            question_id = queries.ask_reference(
                session.patron_id,
                question=values["question"],
                checked=values["checked"],
                useful_by=useful_by,
                notify_email=values["notify"] == EMAIL,
                category=values["category"],
            )
        except queries.ReferenceRefused as refused:
            errors[_FIELD_OF.get(refused.code, "form")] = refusals.say(request, refused)
        else:
            response = see_other(request, "reference_question", question_id=question_id)
            flash(request, response, N_("Thank you. Your question has been received."))
            return response
    return _ask_page(request, ask_form, values, errors, status=422)


# --- reading ---------------------------------------------------------------------------


async def list_page(request: Request, session: Current) -> Response:
    return render(
        request,
        "reference/list.html",
        ctx={
            "questions": queries.list_reference_questions(session.patron_id),
            "retention_days": queries.reference_retention_days(),
        },
    )


def _thread_ctx(patron_id: int, question_id: int, **extra: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "q": queries.view_reference_question(patron_id, question_id),
        "limits": _limits(),
        "follow_up": "",
        "follow_up_error": "",
        "sent": False,
    }
    ctx.update(extra)
    return ctx


async def question_page(request: Request, session: Current) -> Response:
    question_id = request.path_params["question_id"]
    return render(
        request,
        "reference/question.html",
        "reference/_thread.html",
        ctx=_thread_ctx(session.patron_id, question_id),
    )


async def follow_up(request: Request, session: Current) -> Response:
    question_id = request.path_params["question_id"]
    form = await forms.read(request)
    body = forms.text(form, "message", MESSAGE_MAX + 1)
    queries.get_reference_question(session.patron_id, question_id)  # 404 before anything
    error = ""
    if not body.strip():
        error = translator(request).gettext("Please write your question.")
    elif len(body.strip()) > MESSAGE_MAX:
        error = refusals.say(
            request, queries.Refusal.of("reference_text_too_long", max=MESSAGE_MAX)
        )
    else:
        try:
            queries.follow_up_reference(session.patron_id, question_id, body)
        except queries.ReferenceRefused as refused:
            error = refusals.say(request, refused)
    if error:
        return render(
            request,
            "reference/question.html",
            "reference/_thread.html",
            ctx=_thread_ctx(session.patron_id, question_id, follow_up=body, follow_up_error=error),
            status_code=422,
        )
    if wants_fragment(request):
        return render(
            request,
            "reference/question.html",
            "reference/_thread.html",
            ctx=_thread_ctx(session.patron_id, question_id, sent=True),
        )
    response = see_other(request, "reference_question", question_id=question_id)
    flash(request, response, N_("Your follow-up question has been sent."))
    return response


async def delete(request: Request, session: Current) -> Response:
    question_id = request.path_params["question_id"]
    try:
        queries.delete_reference_question(session.patron_id, question_id)
    except queries.ReferenceRefused as refused:
        return render(
            request,
            "reference/question.html",
            ctx=_thread_ctx(
                session.patron_id, question_id, page_error=refusals.say(request, refused)
            ),
            status_code=422,
        )
    response = see_other(request, "reference")
    flash(request, response, N_("The question and its answers were deleted."))
    return response


routes = [
    patron_route("/my/reference", list_page, methods=["GET"], name="reference"),
    patron_route("/my/reference/new", new_page, methods=["GET"], name="reference_new"),
    patron_route("/my/reference/new", ask, methods=["POST"], name="reference_ask"),
    patron_route(
        "/my/reference/{question_id:int}",
        question_page,
        methods=["GET"],
        name="reference_question",
    ),
    patron_route(
        "/my/reference/{question_id:int}/follow-up",
        follow_up,
        methods=["POST"],
        name="reference_follow_up",
    ),
    patron_route(
        "/my/reference/{question_id:int}/delete",
        delete,
        methods=["POST"],
        name="reference_delete",
    ),
]
