"""Making someone a patron at the counter: the activation-code slip from a patron record,
and (db.queries.staff_registrations) the queue of online applications, confirm, correct,
reject, and walk-in registration.

A slip with a code is the answer to the POST itself (no redirect: the code is shown once and
never stored in clear), printed from the browser on A4 paper or an 80 mm receipt."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals, structured
from web.flash import flash
from web.i18n import N_
from web.staff.guard import denied, route
from web.staff.pages import me, page
from web.templating import see_other

WIDTHS = ("a4", "receipt")  # the print stylesheets: A4 paper, an 80 mm receipt printer


def _width(form: FormData) -> str:
    width = forms.text(form, "width", 10)
    return width if width in WIDTHS else "a4"


def code_slip(
    request: Request,
    slip: queries.CodeSlip,
    width: str,
    card: queries.Registered | None = None,
    created: bool = False,
) -> Response:
    """The printable slip: card number, code, expiry, and where to set the password (with
    the new card's expiry and home library when the patron was just registered)."""
    return page(
        request,
        "staff/code_slip.html",
        slip=slip,
        width=width,
        card=card,
        created=created,
        password_url=structured.public_url(request, "password_code_page"),
    )


async def patron_code(request: Request) -> Response:
    form = await forms.read(request)
    try:
        slip = queries.issue_patron_code(me(request).actor, request.path_params["patron_id"])
    except queries.StaffRefused:
        return denied(request)
    return code_slip(request, slip, _width(form))


def _registered(request: Request, made: queries.Registered, width: str) -> Response:
    return code_slip(request, made.slip, width, card=made, created=True)


# The application form's fields as a form posts them (names as db.applications.FIELDS).
def _fields(form: FormData) -> tuple[queries.ApplicationFields, dict[str, str]]:
    """What was typed (kept for the page, birth date as typed) and the query's fields."""
    typed = {
        "name": forms.text(form, "name", 200),
        "name_kana": forms.text(form, "name_kana", 200),
        "birth_date": forms.text(form, "birth_date", 40),
        "postal_code": forms.text(form, "postal_code", 20),
        "address": forms.text(form, "address", 400),
        "phone": forms.text(form, "phone", 40),
        "email": forms.text(form, "email", 300),
        "category": forms.text(form, "category", 20),
        "home_branch": forms.text(form, "home_branch", 20),
    }
    fields = queries.ApplicationFields(
        name=typed["name"],
        name_kana=typed["name_kana"],
        birth_date=forms.calendar_date(typed["birth_date"]),
        postal_code=typed["postal_code"],
        address=typed["address"],
        phone=typed["phone"],
        email=typed["email"],
        category=typed["category"],
        home_branch=typed["home_branch"],
    )
    return fields, typed


def _values_of(application: queries.ApplicationForStaff) -> dict[str, str]:
    return {
        "name": application.name or "",
        "name_kana": application.name_kana or "",
        "birth_date": application.birth_date.isoformat() if application.birth_date else "",
        "postal_code": application.postal_code or "",
        "address": application.address or "",
        "phone": application.phone or "",
        "email": application.email or "",
        "category": application.category,
        "home_branch": application.home_branch,
    }


def _form_context() -> dict[str, Any]:
    return {
        "branches": queries.list_branches(),
        "categories": queries.list_category_codes(),
        "reasons": queries.REJECT_REASONS,
        "widths": WIDTHS,
    }


def _queue(
    request: Request, status_code: int = 200, receipt: str = "", error: str = ""
) -> Response:
    try:
        queue = queries.list_applications(me(request).actor)
    except queries.StaffRefused:
        return denied(request)
    return page(
        request,
        "staff/registrations.html",
        status_code=status_code,
        queue=queue,
        receipt=receipt,
        error=error,
    )


async def queue_page(request: Request) -> Response:
    return _queue(request)


async def find(request: Request) -> Response:
    """A receipt number typed, or scanned from the applicant's QR code (keyboard input)."""
    form = await forms.read(request)
    typed = forms.text(form, "receipt", 400)
    if not typed.strip():
        return _queue(
            request, 422, error=refusals.say(request, queries.Refusal("receipt_number_format"))
        )
    try:
        application_id = queries.find_application(me(request).actor, typed)
    except queries.StaffRefused:
        return denied(request)
    except queries.QueryError as refused:
        return _queue(request, 422, receipt=typed[:40], error=refusals.say(request, refused))
    return see_other(request, "staff:registration", application_id=application_id)


def _application_page(
    request: Request,
    application: queries.ApplicationForStaff,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    confirm_error: str = "",
    reject_error: str = "",
) -> Response:
    return page(
        request,
        "staff/registration.html",
        status_code=status_code,
        application=application,
        values=values if values is not None else _values_of(application),
        errors=errors or {},
        confirm_error=confirm_error,
        reject_error=reject_error,
        **_form_context(),
    )


def _application_id(request: Request) -> int:
    application_id: int = request.path_params["application_id"]
    return application_id


async def application_page(request: Request) -> Response:
    try:
        application = queries.get_application_for_staff(me(request).actor, _application_id(request))
    except queries.StaffRefused:
        return denied(request)
    return _application_page(request, application)


async def correct(request: Request) -> Response:
    form = await forms.read(request)
    actor = me(request).actor
    fields, typed = _fields(form)
    try:
        queries.correct_application(actor, _application_id(request), fields)
    except queries.StaffRefused:
        return denied(request)
    except queries.ApplicationRefused as refused:
        application = queries.get_application_for_staff(actor, _application_id(request))
        errors = refusals.say_fields(request, refused.errors)
        return _application_page(request, application, 422, typed, errors)
    response = see_other(request, "staff:registration", application_id=_application_id(request))
    flash(request, response, N_("Corrections saved. Compare them with the identification again."))
    return response


async def confirm(request: Request) -> Response:
    form = await forms.read(request)
    actor = me(request).actor
    checked = forms.text(form, "duplicate_checked", 10) == "yes"
    try:
        made = queries.confirm_application(actor, _application_id(request), checked)
    except queries.StaffRefused:
        return denied(request)
    except queries.DuplicateUnchecked as refused:
        application = queries.get_application_for_staff(actor, _application_id(request))
        return _application_page(
            request, application, 422, confirm_error=refusals.say(request, refused)
        )
    return _registered(request, made, _width(form))


async def reject(request: Request) -> Response:
    form = await forms.read(request)
    actor = me(request).actor
    try:
        mailed = queries.reject_application(
            actor, _application_id(request), forms.text(form, "reason", 40)
        )
    except queries.StaffRefused:
        return denied(request)
    except queries.ApplicationRefused as refused:
        application = queries.get_application_for_staff(actor, _application_id(request))
        error = refusals.say_fields(request, refused.errors).get("reason", "")
        return _application_page(request, application, 422, reject_error=error)
    response = see_other(request, "staff:registrations")
    if mailed:
        flash(
            request,
            response,
            N_("Application rejected and deleted. The applicant is told why by email."),
        )
    else:
        flash(
            request,
            response,
            N_(
                "Application rejected and deleted. It had no confirmed email: "
                "tell the applicant in person."
            ),
        )
    return response


def _walk_in_page(
    request: Request,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    duplicate: str = "",
) -> Response:
    return page(
        request,
        "staff/registration_new.html",
        status_code=status_code,
        values=values or {"category": "general", "home_branch": ""},
        errors=errors or {},
        duplicate=duplicate,
        **_form_context(),
    )


async def walk_in_page(request: Request) -> Response:
    return _walk_in_page(request)


async def walk_in(request: Request) -> Response:
    form = await forms.read(request)
    fields, typed = _fields(form)
    checked = forms.text(form, "duplicate_checked", 10) == "yes"
    try:
        made = queries.register_walk_in(me(request).actor, fields, duplicate_checked=checked)
    except queries.StaffRefused:
        return denied(request)
    except queries.ApplicationRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _walk_in_page(request, 422, typed, errors)
    except queries.DuplicateUnchecked as refused:
        return _walk_in_page(request, 422, typed, duplicate=refusals.say(request, refused))
    return _registered(request, made, _width(form))


routes: list[BaseRoute] = [
    route("POST", "/patrons/{patron_id:int}/code", patron_code, "patron_code"),
    route("GET", "/registrations", queue_page, "registrations"),
    route("POST", "/registrations/find", find, "registration_find"),
    route("GET", "/registrations/new", walk_in_page, "registration_new_page"),
    route("POST", "/registrations/new", walk_in, "registration_new"),
    route("GET", "/registrations/{application_id:int}", application_page, "registration"),
    route("POST", "/registrations/{application_id:int}/correct", correct, "registration_correct"),
    route("POST", "/registrations/{application_id:int}/confirm", confirm, "registration_confirm"),
    route("POST", "/registrations/{application_id:int}/reject", reject, "registration_reject"),
]
