"""The circulation counter: check out, return, renew and receive by scanning, with the scan
list of this staff session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.forms import text
from web.i18n import translator
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other, wants_fragment

SCAN_KINDS = ("checkout", "return", "renew", "receive")


@dataclass(frozen=True)
class CounterLine:
    """One line of the scan list as shown: a persisted `queries.Scan`, or a receipt of
    `queries.receive_item`. `route` says where the item goes now ("", "available", "ready"
    = hold shelf at the branch, "in_transit" = send to the branch); never a patron."""

    kind: str
    barcode: str
    ok: bool
    title: str = ""
    due_on: date | None = None
    message: str = ""
    overdue: bool = False
    route: str = ""
    route_branch: queries.Localized | None = None
    confirmable: bool = False  # a warning staff may override (a "warn" loan rule)
    # a return of a copy not lent but found: "to_pull", "missing" or "in_transit"
    found: str = ""


def _line(request: Request, scan: queries.Scan) -> CounterLine:
    return CounterLine(
        scan.kind,
        scan.barcode,
        scan.ok,
        scan.title,
        date.fromisoformat(scan.due_on) if scan.due_on else None,
        "" if scan.refusal is None else refusals.say(request, scan.refusal),
        scan.overdue,
        scan.route,
        scan.route_branch,
        scan.confirmable,
        scan.found,
    )


def _counter(
    request: Request,
    state: queries.CounterState,
    mode: str,
    extra: CounterLine | None = None,
    status_code: int = 200,
    card: str = "",
) -> HTMLResponse:
    """The counter page (or its #counter fragment); `extra` is a line shown first, in this
    response only (a receive is not part of the persisted scan list). `card` is the card
    just scanned, kept in the form of this response only: the list never stores it."""
    lines = tuple(_line(request, s) for s in state.scans)
    if extra is not None:
        lines = (extra, *lines)
    return page(
        request,
        "staff/counter.html",
        "staff/_counter.html",
        status_code=status_code,
        card=card,
        lines=lines,
        last=lines[0] if lines else None,
        mode=mode,
        kinds=SCAN_KINDS,
    )


async def counter_page(request: Request) -> Response:
    state = queries.get_counter_state(me(request).token)
    mode = request.query_params.get("mode", "checkout")
    return _counter(request, state, mode if mode in SCAN_KINDS else "checkout")


async def _scan(request: Request, kind: str) -> Response:
    form = await forms.read(request)
    card = forms.card(form, "card") if kind == "checkout" else ""
    confirm = kind == "checkout" and text(form, "confirm", 1) == "1"
    state = queries.counter_scan(
        me(request).token, kind, card, forms.barcode(form, "barcode"), confirm, me(request).actor
    )
    ok = state.last is not None and state.last.ok
    # Without htmx, the page after the redirect has an empty card field: the card is
    # stored nowhere, so only a response to this request can show it again.
    if ok and not wants_fragment(request):
        return see_other(request, "staff:counter", {"mode": kind})
    return _counter(request, state, kind, status_code=200 if ok else 422, card=card)


async def checkout(request: Request) -> Response:
    return await _scan(request, "checkout")


async def return_item(request: Request) -> Response:
    return await _scan(request, "return")


async def renew(request: Request) -> Response:
    return await _scan(request, "renew")


async def receive(request: Request) -> Response:
    """A copy in transit arrived here: its reservation becomes ready (hold shelf)."""
    form = await forms.read(request)
    barcode = forms.barcode(form, "barcode")
    line: CounterLine
    if not barcode:
        missing = translator(request).gettext("Scan or type the item barcode.")
        line = CounterLine("receive", "", False, message=missing)
    else:
        try:
            routing = queries.receive_item(barcode, me(request).actor.branch_id)
        except queries.QueryError as refused:  # NotFound, NotInTransit
            line = CounterLine("receive", barcode, False, message=refusals.say(request, refused))
        else:
            line = CounterLine(
                "receive",
                barcode,
                True,
                route=routing.state,
                route_branch=routing.branch,
            )
    state = queries.get_counter_state(me(request).token)
    # No redirect after a receive: the line is not stored, a reload only repeats a
    # harmless refusal ("not in transit").
    return _counter(request, state, "receive", line, 200 if line.ok else 422)


async def clear(request: Request) -> Response:
    queries.clear_counter(me(request).token)
    if wants_fragment(request):
        return _counter(request, queries.get_counter_state(me(request).token), "checkout")
    return see_other(request, "staff:counter")


routes: list[BaseRoute] = [
    route("GET", "/counter", counter_page, "counter"),
    route("POST", "/counter/checkout", checkout, "checkout"),
    route("POST", "/counter/return", return_item, "return"),
    route("POST", "/counter/renew", renew, "renew"),
    route("POST", "/counter/receive", receive, "receive"),
    route("POST", "/counter/clear", clear, "clear"),
]
