"""Patron records at the console: look up by card or name, view, correct contact details."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.forms import text
from web.staff.guard import route
from web.staff.pages import me, page
from web.staff.patron_holds import holds_context
from web.templating import see_other


def _lookup_page(
    request: Request, card: str, name: str, hits: tuple[queries.PatronSummary, ...] = ()
) -> Response:
    error, status = None, 200
    if card or name:
        try:
            hits = queries.lookup_patrons(me(request).actor, card, name)
        except queries.StaffRefused as refused:
            error, status = refusals.say(request, refused), 403
    return page(
        request,
        "staff/patrons.html",
        "staff/_patron_results.html",
        status_code=status,
        hits=hits,
        values={"card": card, "name": name},
        searched=bool(card or name),
        error=error,
    )


async def patrons_page(request: Request) -> Response:
    # The search form only: a card number or a name never travels in the URL, where
    # history, bookmarks and logs would keep it.
    return _lookup_page(request, "", "")


async def patrons(request: Request) -> Response:
    form = await forms.read(request)
    return _lookup_page(request, forms.card(form, "card"), text(form, "name", 50).strip())


async def patron(request: Request) -> Response:
    patron_id: int = request.path_params["patron_id"]
    record = queries.get_patron_for_staff(me(request).actor, patron_id, "patron_record")
    return page(request, "staff/patron.html", record=record, **holds_context(request, patron_id))


def _edit_values(record: queries.PatronRecord) -> dict[str, str]:
    return {
        "address": record.address or "",
        "phone": record.phone or "",
        # A recorded address waiting for the patron is the one staff last entered.
        "email": record.email_pending or record.email or "",
        "category": record.category,
    }


async def patron_edit_page(request: Request) -> Response:
    record = queries.get_patron_for_staff(
        me(request).actor, request.path_params["patron_id"], "patron_edit"
    )
    return page(
        request, "staff/patron_edit.html", record=record, values=_edit_values(record), errors={}
    )


async def patron_edit(request: Request) -> Response:
    form = await forms.read(request)
    session = me(request)
    patron_id: int = request.path_params["patron_id"]
    data = queries.PatronEdit(
        address=text(form, "address", 400),
        phone=text(form, "phone", 40),
        email=text(form, "email", 300),
        category=text(form, "category", 20),
    )
    try:
        queries.update_patron_for_staff(session.actor, patron_id, data)
    except queries.StaffFormRefused as refused:
        record = queries.get_patron_for_staff(session.actor, patron_id, "patron_edit")
        return page(
            request,
            "staff/patron_edit.html",
            status_code=422,
            record=record,
            values=data.__dict__,
            errors=refusals.say_fields(request, refused.errors),
        )
    return see_other(request, "staff:patron", {"saved": 1}, patron_id=patron_id)


routes: list[BaseRoute] = [
    route("GET", "/patrons", patrons_page, "patrons_page"),
    route("POST", "/patrons", patrons, "patrons"),
    route("GET", "/patrons/{patron_id:int}", patron, "patron"),
    route("GET", "/patrons/{patron_id:int}/edit", patron_edit_page, "patron_edit_page"),
    route("POST", "/patrons/{patron_id:int}/edit", patron_edit, "patron_edit"),
]
