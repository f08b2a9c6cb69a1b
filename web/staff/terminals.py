"""Library kiosks in the staff console (managers only): register a terminal and get its
one-time enrolment link, change its details, issue a new link, revoke it. Every change is
audited by db.queries.terminals."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.forms import text
from web.staff.guard import route
from web.staff.pages import me, page
from web.structured import public_url
from web.templating import see_other


def _input(form: Any) -> queries.TerminalInput:
    return queries.TerminalInput(
        name=text(form, "name", 200),
        branch_code=text(form, "branch", 20),
        location=text(form, "location", 400),
        floor_guide=text(form, "floor_guide", 4000),
    )


def _values(data: queries.TerminalInput | queries.TerminalView | None) -> dict[str, str]:
    if data is None:
        return {"name": "", "branch": "", "location": "", "floor_guide": ""}
    return {
        "name": data.name,
        "branch": data.branch_code,
        "location": data.location,
        "floor_guide": data.floor_guide,
    }


def _link(request: Request, token: str) -> str:
    """The enrolment link on the configured public URL (SHIORI_PUBLIC_URL), never the Host
    header, which is the client's to choose."""
    return public_url(request, "kiosk_enrol_link", token=token)


def _form(
    request: Request,
    terminal: queries.TerminalView | None,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "staff/terminal_form.html",
        status_code=status_code,
        terminal=terminal,
        values=values,
        errors=errors,
        branches=queries.list_branches(),
    )


def _link_page(request: Request, terminal_id: int, token: str) -> Response:
    return page(
        request,
        "staff/terminal_link.html",
        terminal=queries.get_terminal(terminal_id),
        link=_link(request, token),
        hours=queries.TERMINAL_LINK_HOURS,
    )


async def terminals_page(request: Request) -> Response:
    return page(request, "staff/terminals.html", terminals=queries.list_terminals())


async def terminal_new_page(request: Request) -> Response:
    return _form(request, None, _values(None), {})


async def terminal_new(request: Request) -> Response:
    data = _input(await forms.read(request))
    try:
        terminal_id, token = queries.create_terminal(me(request).actor, data)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _form(request, None, _values(data), errors, status_code=422)
    return _link_page(request, terminal_id, token)


async def terminal_page(request: Request) -> Response:
    terminal = queries.get_terminal(request.path_params["terminal_id"])
    return _form(request, terminal, _values(terminal), {})


async def terminal_update(request: Request) -> Response:
    terminal_id: int = request.path_params["terminal_id"]
    terminal = queries.get_terminal(terminal_id)
    data = _input(await forms.read(request))
    try:
        queries.update_terminal(me(request).actor, terminal_id, data)
    except queries.StaffFormRefused as refused:
        errors = refusals.say_fields(request, refused.errors)
        return _form(request, terminal, _values(data), errors, status_code=422)
    return see_other(request, "staff:terminals")


async def terminal_link(request: Request) -> Response:
    terminal_id: int = request.path_params["terminal_id"]
    token = queries.reissue_terminal_link(me(request).actor, terminal_id)
    return _link_page(request, terminal_id, token)


async def terminal_revoke(request: Request) -> Response:
    queries.revoke_terminal(me(request).actor, request.path_params["terminal_id"])
    return see_other(request, "staff:terminals")


routes: list[BaseRoute] = [
    route("GET", "/terminals", terminals_page, "terminals"),
    route("GET", "/terminals/new", terminal_new_page, "terminal_new_page"),
    route("POST", "/terminals/new", terminal_new, "terminal_new"),
    route("GET", "/terminals/{terminal_id:int}", terminal_page, "terminal"),
    route("POST", "/terminals/{terminal_id:int}", terminal_update, "terminal_update"),
    route("POST", "/terminals/{terminal_id:int}/enrol-link", terminal_link, "terminal_link"),
    route("POST", "/terminals/{terminal_id:int}/revoke", terminal_revoke, "terminal_revoke"),
]
