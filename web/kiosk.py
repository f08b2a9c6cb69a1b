"""The library kiosk's own pages: its start page, enrolment by a manager's one-time link,
"Continue" in the countdown, and the shelf slip of a record.

Which browser is a kiosk is web/terminals.py's question. Enrolling: the link's token moves
into a short-lived cookie (web/link_tokens.py), the page names the terminal, and a POST
uses the link up and hands the browser its terminal cookie; no state changes on a GET.
"""

from __future__ import annotations

from datetime import date

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db import queries
from web import refusals, structured, terminals
from web.link_tokens import LinkCookie
from web.sessions import current
from web.templating import path_for, render

LINK_COOKIE = LinkCookie("shiori_terminal_link", "kiosk_enrol_page")


def _today_hours(
    branch_code: str,
) -> tuple[date, list[tuple[queries.Localized, queries.CalendarDay | None]]]:
    """The library's date and each branch's hours that day (one branch on a terminal)."""
    month = queries.get_calendar_month(None, branch_code)
    return month.today, [
        (b.names, next((d for d in b.days if d.day == month.today), None)) for b in month.branches
    ]


async def start(request: Request) -> Response:
    """The kiosk's start page (in an ordinary browser: every branch's hours, no countdown)."""
    kiosk = terminals.kiosk(request)
    terminal = kiosk.terminal if kiosk else None
    logged_out = request.query_params.get("logged_out") == "1"
    today, hours = _today_hours(kiosk.branch_code if kiosk else "")
    guide = terminal.floor_guide.splitlines() if terminal else []
    return render(
        request,
        "kiosk/start.html",
        ctx={
            "terminal": terminal,
            "today": today,
            "hours": hours,
            "guide": [line for line in guide if line.strip()],
            "logged_out": logged_out,
        },
    )


async def keep_going(request: Request) -> Response:
    """ "Continue" in the countdown: reading the session records its use (the server's idle
    clock starts again); 204, or 401 when it has already ended."""
    return Response(status_code=204 if current(request) is not None else 401)


def _link_refused(request: Request, refused: queries.QueryError) -> Response:
    return render(
        request,
        "kiosk/enrol.html",
        status_code=404,
        ctx={"error": refusals.say(request, refused), "terminal": None},
        headers={"Cache-Control": "no-store"},
    )


async def enrol_link(request: Request) -> Response:
    """The link a manager hands over: its token moves into a cookie, out of the URL."""
    return LINK_COOKIE.exchange(request, str(request.path_params["token"]))


async def enrol_page(request: Request) -> Response:
    try:
        terminal = queries.check_terminal_link(LINK_COOKIE.token(request))
    except queries.TerminalLinkRefused as refused:
        return _link_refused(request, refused)
    return render(
        request,
        "kiosk/enrol.html",
        ctx={"error": None, "terminal": terminal},
        headers={"Cache-Control": "no-store"},
    )


async def enrol(request: Request) -> Response:
    try:
        enrolled = queries.enrol_terminal(LINK_COOKIE.token(request))
    except queries.TerminalLinkRefused as refused:
        return _link_refused(request, refused)
    response = RedirectResponse(path_for(request, "kiosk"), status_code=303)
    terminals.set_cookie(request, response, enrolled)
    LINK_COOKIE.forget(request, response)
    return response


def _qr_svg(url: str) -> str:
    """The record's address as a QR code, inline SVG (a phone's camera reads it)."""
    code = segno.make(url, error="m")
    return str(code.svg_inline(scale=3, border=4, omitsize=True, svgclass="slip-qr"))


async def slip(request: Request) -> Response:
    """The shelf slip of a record: its copies in the kiosk's branch (or the branch asked
    for, or every branch), where they stand, and a QR code of the record's address."""
    record = queries.get_record(request.path_params["work_id"])
    kiosk = terminals.kiosk(request)
    branches = {b.code: b for b in queries.list_branches()}
    asked = request.query_params.get("branch", "")
    branch_code = kiosk.branch_code if kiosk and kiosk.branch_code else asked
    branch = branches.get(branch_code)
    shown = [c for c in record.copies if branch is None or c.branch_code == branch.code]
    terminal = kiosk.terminal if kiosk else None
    url = structured.public_url(request, "record", work_id=record.id)
    return render(
        request,
        "kiosk/slip.html",
        ctx={
            "record": record,
            "branch": branch,
            "copies": [(c, terminal.floor_of(c.shelf_location) if terminal else "") for c in shown],
            "record_url": url,
            "qr": _qr_svg(url),
        },
    )


routes = [
    Route("/kiosk", start, methods=["GET"], name="kiosk"),
    Route("/kiosk/continue", keep_going, methods=["POST"], name="kiosk_continue"),
    Route("/kiosk/enrol/{token}", enrol_link, methods=["GET"], name="kiosk_enrol_link"),
    Route("/kiosk/enrol", enrol_page, methods=["GET"], name="kiosk_enrol_page"),
    Route("/kiosk/enrol", enrol, methods=["POST"], name="kiosk_enrol"),
    Route("/kiosk/slip/{work_id:int}", slip, methods=["GET"], name="kiosk_slip"),
]
