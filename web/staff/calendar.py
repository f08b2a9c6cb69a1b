"""The library calendar in the staff console (managers: policy action "code_tables"): each
branch's regular week and its dated closures. Every change is audited by the query layer and
moves due dates and hold-shelf deadlines off the days it closes (db.queries.calendar)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.calendar import weekday_names
from web.flash import flash
from web.i18n import N_, translator
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other

MOVED = N_("Saved. Due dates moved: %(loans)s; pickup deadlines moved: %(holds)s.")


def _screen(
    request: Request,
    status_code: int = 200,
    week_form: dict[str, Any] | None = None,
    closure_form: dict[str, Any] | None = None,
) -> Response:
    return page(
        request,
        "staff/calendar.html",
        status_code=status_code,
        calendars=queries.list_branch_calendars(),
        branches=queries.list_branches(),
        kinds=queries.CLOSURE_KINDS,
        weekdays=weekday_names(translator(request)),
        week_form=week_form or {"branch": "", "values": {}, "errors": {}},
        closure_form=closure_form or {"values": {}, "errors": {}},
    )


async def calendar_page(request: Request) -> Response:
    return _screen(request)


def _week_values(form: FormData) -> dict[str, str]:
    values = {"branch": forms.text(form, "branch", 20)}
    for d in range(7):
        values[f"closed-{d}"] = "on" if form.get(f"closed-{d}") else ""
        for part in ("opens", "closes"):
            values[f"{part}-{d}"] = forms.text(form, f"{part}-{d}", 10).strip()
    return values


_CLOCK = re.compile(r"([0-9]{1,2}):?([0-9]{2})")


def _time(raw: str) -> str:
    """09:00 from "9:00", "９：００" or "0900"; anything else goes on for db to refuse."""
    folded = unicodedata.normalize("NFKC", raw).strip()
    found = _CLOCK.fullmatch(folded)
    return f"{int(found[1]):02d}:{found[2]}" if found else folded


async def week_save(request: Request) -> Response:
    form = await forms.read(request)
    values = _week_values(form)
    week = tuple(
        queries.DayHours(
            d,
            bool(values[f"closed-{d}"]),
            _time(values[f"opens-{d}"]),
            _time(values[f"closes-{d}"]),
        )
        for d in range(7)
    )
    try:
        moved = queries.set_branch_week(me(request).actor, values["branch"], week)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _screen(
            request,
            422,
            week_form={"branch": values["branch"], "values": values, "errors": errors},
        )
    response = see_other(request, "staff:calendar")
    flash(request, response, MOVED, loans=moved.loans, holds=moved.holds)
    return response


async def closure_add(request: Request) -> Response:
    form = await forms.read(request)
    tr = translator(request)
    values = {
        "branch": forms.text(form, "branch", 20),
        "starts_on": forms.text(form, "starts_on", 40),
        "ends_on": forms.text(form, "ends_on", 40),
        "kind": forms.text(form, "kind", 20),
    }
    bad_date = tr.gettext("Use a date like 2026-12-28 or 令和8年12月28日.")
    errors = {}
    starts_on = forms.calendar_date(values["starts_on"])
    # An empty last day is a one-day closure.
    ends_on = forms.calendar_date(values["ends_on"]) if values["ends_on"].strip() else starts_on
    if starts_on is None:
        errors["starts_on"] = bad_date
    if ends_on is None and values["ends_on"].strip():
        errors["ends_on"] = bad_date
    if starts_on is not None and ends_on is not None:
        try:
            moved = queries.add_branch_closure(
                me(request).actor, values["branch"], starts_on, ends_on, values["kind"]
            )
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
    if errors:
        return _screen(request, 422, closure_form={"values": values, "errors": errors})
    response = see_other(request, "staff:calendar")
    flash(request, response, MOVED, loans=moved.loans, holds=moved.holds)
    return response


async def closure_remove(request: Request) -> Response:
    queries.remove_branch_closure(me(request).actor, request.path_params["closure_id"])
    response = see_other(request, "staff:calendar")
    flash(request, response, N_("Closure removed. Dates already moved stay as they are."))
    return response


routes: list[BaseRoute] = [
    route("GET", "/calendar", calendar_page, "calendar"),
    route("POST", "/calendar/week", week_save, "calendar_week"),
    route("POST", "/calendar/closures", closure_add, "calendar_closure_add"),
    route(
        "POST",
        "/calendar/closures/{closure_id:int}/delete",
        closure_remove,
        "calendar_closure_remove",
    ),
]
