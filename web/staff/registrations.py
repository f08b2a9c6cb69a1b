"""Making someone a patron at the counter: the activation-code slip from a patron record,
and (db.queries.staff_registrations) the queue of online applications, confirm, correct,
reject, and walk-in registration.

A slip with a code is the answer to the POST itself (no redirect: the code is shown once and
never stored in clear), printed from the browser on A4 paper or an 80 mm receipt."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms
from web.sessions import settings_of
from web.staff.guard import denied, route
from web.staff.pages import me, page
from web.templating import path_for

WIDTHS = ("a4", "receipt")  # the print stylesheets: A4 paper, an 80 mm receipt printer


def _width(form: FormData) -> str:
    width = forms.text(form, "width", 10)
    return width if width in WIDTHS else "a4"


def code_slip(
    request: Request,
    slip: queries.CodeSlip,
    width: str,
    card: object | None = None,
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
        password_url=settings_of(request).public_url + path_for(request, "password_code_page"),
    )


async def patron_code(request: Request) -> Response:
    form = await forms.read(request)
    try:
        slip = queries.issue_patron_code(me(request).actor, request.path_params["patron_id"])
    except queries.StaffRefused:
        return denied(request)
    return code_slip(request, slip, _width(form))


routes: list[BaseRoute] = [
    route("POST", "/patrons/{patron_id:int}/code", patron_code, "patron_code"),
]
