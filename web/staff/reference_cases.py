"""Cases for the public reference collection in the staff console (`/staff/reference-cases`):
write an anonymised case from a patron's question (the original alongside) or from scratch,
submit it (db.anonymise's check first), and — another member of staff — approve it, after
which it is public at /reference; withdraw it; download the CRD XML of what is public.
Policy actions "reference" (write) and "reference.publish" (approve, withdraw, export);
the rules and the audit are db.queries.reference_cases'."""

from __future__ import annotations

import io

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.flash import flash
from web.i18n import N_
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other

TEXT_LIMIT = 12_000  # above db's MAX_TEXT, so a long text is refused in words, not cut
LIST_LIMIT = 12_000
CRD_FILE_STEM = "shiori-crd-reference"


def _case_input(form: FormData) -> queries.CaseInput:
    def lines(name: str) -> tuple[str, ...]:
        return tuple(forms.text(form, name, LIST_LIMIT).split("\n"))

    return queries.CaseInput(
        question=forms.text(form, "question", TEXT_LIMIT),
        answer=forms.text(form, "answer", TEXT_LIMIT),
        keywords=lines("keywords"),
        ndc=lines("ndc"),
        sources=lines("sources"),
        process=forms.text(form, "process", TEXT_LIMIT),
        preliminary=forms.text(form, "preliminary", TEXT_LIMIT),
        note=forms.text(form, "note", TEXT_LIMIT),
        solved=forms.text(form, "solved", 10) != "no",
    )


def _form_values(case: queries.CaseInput) -> dict[str, str]:
    return {
        "question": case.question,
        "answer": case.answer,
        "keywords": "\n".join(case.keywords),
        "ndc": "\n".join(case.ndc),
        "sources": "\n".join(case.sources),
        "process": case.process,
        "preliminary": case.preliminary,
        "note": case.note,
        "solved": "yes" if case.solved else "no",
    }


async def case_list(request: Request) -> Response:
    status = forms.query(request, "status", 20)
    return page(
        request,
        "staff/reference_cases.html",
        rows=queries.list_staff_reference_cases(me(request).actor, status),
        status=status if status in queries.CASE_STATES else "",
        states=queries.CASE_STATES,
        errors={},
        values={},
    )


async def case_new(request: Request) -> Response:
    form = await forms.read(request)
    raw = forms.text(form, "question_id", 20).strip()
    question_id = forms.whole_number(raw) if raw else None
    if raw and question_id is None:
        return page(
            request,
            "staff/reference_cases.html",
            status_code=422,
            rows=queries.list_staff_reference_cases(me(request).actor, ""),
            status="",
            states=queries.CASE_STATES,
            errors={"question_id": refusals.say(request, queries.Refusal.of("case_not_found"))},
            values={"question_id": raw},
        )
    case_id = queries.new_reference_case(me(request).actor, question_id)
    return see_other(request, "staff:reference_case", case_id=case_id)


def _case_page(
    request: Request,
    case_id: int,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    alert: str = "",
) -> Response:
    found = queries.get_staff_reference_case(me(request).actor, case_id)
    return page(
        request,
        "staff/reference_case.html",
        status_code=status_code,
        case=found,
        values=values if values is not None else _form_values(found.case),
        errors=errors or {},
        alert=alert,
    )


async def case_page(request: Request) -> Response:
    return _case_page(request, request.path_params["case_id"])


async def case_save(request: Request) -> Response:
    case_id: int = request.path_params["case_id"]
    form = await forms.read(request)
    case = _case_input(form)
    submit = forms.text(form, "action", 20) == "submit"
    try:
        if submit:
            queries.submit_reference_case(me(request).actor, case_id, case)
        else:
            queries.save_reference_case(me(request).actor, case_id, case)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _case_page(request, case_id, 422, _form_values(case), errors)
    except queries.NotFound:
        raise
    except queries.QueryError as refused:
        return _case_page(
            request, case_id, 422, _form_values(case), alert=refusals.say(request, refused)
        )
    response = see_other(request, "staff:reference_case", case_id=case_id)
    if submit:
        flash(request, response, N_("Sent for approval. Another member of staff must approve it."))
    else:
        flash(request, response, N_("Draft saved."))
    return response


async def case_approve(request: Request) -> Response:
    case_id: int = request.path_params["case_id"]
    form = await forms.read(request)
    revision = forms.text(form, "revision", 64)
    try:
        queries.approve_reference_case(me(request).actor, case_id, revision)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _case_page(request, case_id, 422, errors=errors)
    except queries.NotFound:
        raise
    except queries.QueryError as refused:
        return _case_page(request, case_id, 422, alert=refusals.say(request, refused))
    response = see_other(request, "staff:reference_case", case_id=case_id)
    flash(request, response, N_("Approved: the case is now public in the reference collection."))
    return response


async def case_withdraw(request: Request) -> Response:
    case_id: int = request.path_params["case_id"]
    queries.withdraw_reference_case(me(request).actor, case_id)
    response = see_other(request, "staff:reference_case", case_id=case_id)
    flash(request, response, N_("Withdrawn: the case is no longer public."))
    return response


async def crd_export(request: Request) -> Response:
    buffer = io.BytesIO()
    queries.export_crd(buffer)
    return Response(
        buffer.getvalue(),
        media_type="application/xml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{CRD_FILE_STEM}.xml"'},
    )


routes: list[BaseRoute] = [
    route("GET", "/reference-cases", case_list, "reference_cases"),
    route("POST", "/reference-cases", case_new, "reference_case_new"),
    route("GET", "/reference-cases/crd.xml", crd_export, "reference_cases_crd"),
    route("GET", "/reference-cases/{case_id:int}", case_page, "reference_case"),
    route("POST", "/reference-cases/{case_id:int}", case_save, "reference_case_save"),
    route("POST", "/reference-cases/{case_id:int}/approve", case_approve, "reference_case_approve"),
    route(
        "POST",
        "/reference-cases/{case_id:int}/withdraw",
        case_withdraw,
        "reference_case_withdraw",
    ),
]
