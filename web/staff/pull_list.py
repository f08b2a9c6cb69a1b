"""The pull list (予約資料の抜き取りリスト): the copies to take off a branch's shelves for
reservations, printed (A4 or an 80 mm receipt) and scanned as they are found.

The list names no patron (db.queries.pull_list). Every scan works without JavaScript (303 to
the list and a one-shot message) and with htmx (the #pull-list region is swapped)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.flash import flash
from web.i18n import N_, translator
from web.staff.guard import missing, route
from web.staff.pages import me, page
from web.templating import see_other, wants_fragment

WIDTHS = ("a4", "receipt")  # the print stylesheets: A4 paper, an 80 mm receipt printer

# What became of a scanned copy: (action, route) → message (`title`, `branch`).
_OUTCOMES = {
    ("found", "ready"): N_("Found: %(title)s. Put it on the hold shelf here (%(branch)s)."),
    ("found", "in_transit"): N_("Found: %(title)s. Send it in transit to %(branch)s."),
    ("found", "available"): N_("Found: %(title)s. No reservation waits for it now: reshelve it."),
    ("missing", "pulling"): N_(
        "Marked missing: %(title)s. The reservation moved to a copy at %(branch)s."
    ),
    ("missing", "waiting"): N_(
        "Marked missing: %(title)s. No other copy is on a shelf: the reservation waits for one."
    ),
}


def _choices(request: Request, source: dict[str, str] | None = None) -> tuple[str, str]:
    """The branch code asked for ("" = the staff member's own) and the print width."""
    if source is None:
        source = {name: forms.query(request, name, 20) for name in ("branch", "width")}
    width = source.get("width", "a4")
    return source.get("branch", "")[:20].strip(), width if width in WIDTHS else "a4"


def _page(
    request: Request,
    branch_code: str,
    width: str,
    status_code: int = 200,
    result: str = "",
    error: str = "",
    barcode: str = "",
) -> Response:
    try:
        pull = queries.list_pull_list(branch_code, me(request).actor.branch_id)
    except queries.PullRefused:
        return missing(request)
    return page(
        request,
        "staff/pull_list.html",
        "staff/_pull_list.html",
        status_code=status_code,
        pull=pull,
        branches=queries.list_branches(),
        width=width,
        widths=WIDTHS,
        result=result,
        error=error,
        barcode=barcode,
    )


async def pull_list_page(request: Request) -> Response:
    branch_code, width = _choices(request)
    return _page(request, branch_code, width)


async def _scan(request: Request, action: str) -> Response:
    form = await forms.read(request)
    branch_code, width = _choices(
        request, {"branch": forms.text(form, "branch", 20), "width": forms.text(form, "width", 10)}
    )
    barcode = forms.barcode(form, "barcode")
    tr = translator(request)
    if not barcode:
        error = tr.gettext("Scan or type the item barcode.")
        return _page(request, branch_code, width, 422, error=error)
    try:
        if action == "found":
            scan = queries.pull_copy(barcode)
        else:
            scan = queries.report_not_on_shelf(barcode)
    except queries.QueryError as refused:
        error = refusals.say(request, refused)
        return _page(request, branch_code, width, 422, error=error, barcode=barcode)
    msgid = _OUTCOMES[(action, scan.route)]
    values = {
        "title": scan.title,
        "branch": scan.branch.get(tr.lang) if scan.branch is not None else "",
    }
    if wants_fragment(request):
        return _page(request, branch_code, width, result=tr.gettext(msgid, **values))
    query = {"branch": branch_code, "width": width} if branch_code else {"width": width}
    response = see_other(request, "staff:pull_list", query)
    flash(request, response, msgid, **values)
    return response


async def found(request: Request) -> Response:
    """A listed copy taken off the shelf: hold shelf here, or in transit."""
    return await _scan(request, "found")


async def not_on_shelf(request: Request) -> Response:
    """A listed copy is not where it should be: missing; its reservation moves on."""
    return await _scan(request, "missing")


routes: list[BaseRoute] = [
    route("GET", "/pull-list", pull_list_page, "pull_list"),
    route("POST", "/pull-list/found", found, "pull_found"),
    route("POST", "/pull-list/missing", not_on_shelf, "pull_missing"),
]
