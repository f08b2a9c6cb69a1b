"""A patron's reservations at the console (電話予約): the section of the patron record,
the reserve-a-title search and the actions on each reservation.

Every look and action goes through db.queries.staff_holds (policy + audit); this module
never calls the patron side's reservation queries. Without JavaScript each POST answers
with a 303 and a flash (or 422 with the page and the message); with htmx the reservations
section (#patron-holds) or the search results (#title-choices) are swapped in place.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.flash import flash
from web.forms import text
from web.i18n import N_, translator
from web.staff.guard import denied, route
from web.staff.pages import me, page
from web.templating import see_other, wants_fragment

_PAGE, _SECTION, _CHOICES = (
    "staff/patron.html",
    "staff/_patron_holds.html",
    "staff/_title_choices.html",
)


def holds_context(request: Request, patron_id: int, **extra: Any) -> dict[str, Any]:
    """What the reservations section needs (its look is audited by the query)."""
    return {
        "patron_id": patron_id,
        "patron_holds": queries.list_holds_for_staff(me(request).actor, patron_id),
        "branches": queries.list_branches(),
        "max_suspend_days": queries.HOLD_MAX_SUSPEND_DAYS,
        "choices": None,
        "query": "",
        "home": "",
        "holds_message": "",
        "holds_error": "",
        "error_hold": None,
        "until": "",  # a suspension date as typed, kept next to its error
        "until_error": "",
        "confirm_hold": None,
        **extra,
    }


def _answer(request: Request, patron_id: int, status: int = 200, **extra: Any) -> Response:
    """The reservations section (htmx) or the whole patron page (no JavaScript)."""
    ctx = holds_context(request, patron_id, **extra)
    if wants_fragment(request) and extra.get("choices") is None:
        return page(request, _PAGE, _SECTION, status_code=status, **ctx)
    record = queries.get_patron_for_staff(me(request).actor, patron_id, "patron_record")
    return page(request, _PAGE, status_code=status, record=record, **ctx)


def _search(query: str) -> tuple[queries.TitleChoice | None, tuple[queries.SearchHit, ...]]:
    """Titles for the reserve form: a copy's barcode, else the catalogue search (title,
    author, ISBN …)."""
    code = queries.japanese_input.barcode(query)  # full-width and hyphens as scanned or typed
    by_barcode = queries.find_title_by_barcode(code) if code is not None else None
    result = queries.search_works(queries.SearchParams(q=query))
    return by_barcode, result.hits[:10]


async def search(request: Request) -> Response:
    form = await forms.read(request)
    patron_id: int = request.path_params["patron_id"]
    query = text(form, "q", 200).strip()
    tr = translator(request)
    if not query:
        error = tr.gettext("Enter a title, an ISBN or a copy's barcode.")
        choices: dict[str, Any] = {"barcode": None, "hits": (), "error": error}
        status = 422
    else:
        barcode, hits = _search(query)
        choices = {"barcode": barcode, "hits": hits, "error": ""}
        status = 200
    if wants_fragment(request):
        # The results only: the patron's reservations are not shown again (nor looked at).
        return page(
            request,
            _PAGE,
            _CHOICES,
            status_code=status,
            patron_id=patron_id,
            choices=choices,
            query=query,
            home=text(form, "home", 20),
            branches=queries.list_branches(),
        )
    return _answer(request, patron_id, status, choices=choices, query=query)


async def place(request: Request) -> Response:
    form = await forms.read(request)
    patron_id: int = request.path_params["patron_id"]
    work_id = forms.whole_number(text(form, "work_id", 12))
    pickup = text(form, "pickup", 20)
    try:
        if work_id is None:
            raise queries.NotFound("work_not_found")
        hold = queries.place_hold_for_staff(me(request).actor, patron_id, work_id, pickup)
    except queries.StaffRefused:
        return denied(request)
    except (queries.HoldRefused, queries.NotFound) as refused:
        if isinstance(refused, queries.NotFound) and refused.code == "patron_not_found":
            raise
        return _answer(request, patron_id, 422, holds_error=refusals.say_to_staff(request, refused))
    message = N_("Reserved for the patron: %(title)s (number %(position)s in line).")
    values: dict[str, str | int] = {"title": hold.title, "position": hold.position or 1}
    if wants_fragment(request):
        done = translator(request).gettext(message, **values)
        return _answer(request, patron_id, holds_message=done)
    response = see_other(request, "staff:patron", patron_id=patron_id)
    flash(request, response, message, **values)
    return response


async def _act(request: Request, action: str) -> Response:
    form = await forms.read(request)
    actor = me(request).actor
    patron_id: int = request.path_params["patron_id"]
    hold_id: int = request.path_params["hold_id"]
    tr = translator(request)
    values: dict[str, str | int] = {}
    try:
        if action == "cancel" and text(form, "confirm", 1) != "1":
            return _ask_to_cancel(request, patron_id, hold_id)
        if action == "cancel":
            values["title"] = queries.cancel_hold_for_staff(actor, patron_id, hold_id)
            message = N_("Cancelled: %(title)s")
        elif action == "pickup":
            pickup = text(form, "pickup", 20)
            queries.change_hold_pickup_for_staff(actor, patron_id, hold_id, pickup)
            message = N_("Pickup library changed.")
        elif action == "suspend":
            typed = text(form, "until", 40)
            until = forms.calendar_date(typed)  # 西暦 or 和暦, full-width digits too
            if until is None:
                bad = tr.gettext("Use a date like 2026-12-28 or 令和8年12月28日.")
                return _answer(
                    request, patron_id, 422, error_hold=hold_id, until_error=bad, until=typed
                )
            queries.suspend_hold_for_staff(actor, patron_id, hold_id, until)
            message = N_("Reservation suspended.")
        else:
            queries.resume_hold_for_staff(actor, patron_id, hold_id)
            message = N_("Reservation resumed.")
    except queries.StaffRefused:
        return denied(request)
    except queries.HoldRefused as refused:
        said = refusals.say_to_staff(request, refused)
        if refused.code == "bad_suspend_date":  # the date's fault: said next to it
            typed = text(form, "until", 40)
            return _answer(
                request, patron_id, 422, error_hold=hold_id, until_error=said, until=typed
            )
        return _answer(request, patron_id, 422, error_hold=hold_id, holds_error=said)
    if wants_fragment(request):
        return _answer(request, patron_id, holds_message=tr.gettext(message, **values))
    response = see_other(request, "staff:patron", patron_id=patron_id)
    flash(request, response, message, **values)
    return response


def _ask_to_cancel(request: Request, patron_id: int, hold_id: int) -> Response:
    """The first tap on 予約を取り消す only asks (in the section, or the patron page without
    JavaScript); the question's own form posts the cancellation with confirm=1."""
    ctx = holds_context(request, patron_id, confirm_hold=hold_id)
    if all(h.id != hold_id for h in ctx["patron_holds"].holds or ()):
        raise queries.NotFound("hold_not_found")  # another patron's, or gone
    if wants_fragment(request):
        return page(request, _PAGE, _SECTION, **ctx)
    record = queries.get_patron_for_staff(me(request).actor, patron_id, "patron_record")
    return page(request, _PAGE, record=record, **ctx)


async def cancel(request: Request) -> Response:
    return await _act(request, "cancel")


async def pickup(request: Request) -> Response:
    return await _act(request, "pickup")


async def suspend(request: Request) -> Response:
    return await _act(request, "suspend")


async def resume(request: Request) -> Response:
    return await _act(request, "resume")


_HOLD = "/patrons/{patron_id:int}/holds/{hold_id:int}"

routes: list[BaseRoute] = [
    route("POST", "/patrons/{patron_id:int}/holds/search", search, "patron_hold_search"),
    route("POST", "/patrons/{patron_id:int}/holds", place, "patron_hold_place"),
    route("POST", f"{_HOLD}/cancel", cancel, "patron_hold_cancel"),
    route("POST", f"{_HOLD}/pickup", pickup, "patron_hold_pickup"),
    route("POST", f"{_HOLD}/suspend", suspend, "patron_hold_suspend"),
    route("POST", f"{_HOLD}/resume", resume, "patron_hold_resume"),
]
