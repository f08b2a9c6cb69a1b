"""Error pages: a page of the site for full requests, an #alerts message for htmx.

`create_app` maps exceptions to these handlers by class: HTTP errors, `queries.NotFound`
(404: another patron's row is simply not there) and any other `queries.QueryError` that its
handler does not show next to a field itself (422)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web import refusals
from web.i18n import N_, translator
from web.sessions import is_staff_path
from web.staff import guard
from web.templating import render, wants_fragment

log = logging.getLogger("shiori")

_PAGES = {
    404: (N_("Page not found"), N_("The page or record you asked for does not exist.")),
    400: (N_("Bad request"), N_("Please try again in a moment.")),
    413: (
        N_("Too much was sent"),
        N_("What you sent is too large for this page. Shorten it and try again."),
    ),
    422: (N_("Please try again"), N_("Please try again in a moment.")),
    403: (
        N_("Please try again"),
        N_("The form expired or came from another site. Reload the page and try again."),
    ),
    429: (
        N_("Too many requests"),
        N_(
            "Too many searches came from your network in a short time. "
            "Please wait a little and try again."
        ),
    ),
}
_OTHER = (N_("Something went wrong"), N_("Please try again in a moment."))


def error_response(request: Request, status: int, message: str | None = None) -> Response:
    """The error page, or for htmx the message retargeted to #alerts; `message` (already in
    the page's language) replaces the standard text under the title."""
    title, body = _PAGES.get(status, _OTHER)
    tr = translator(request)
    headers = {"Cache-Control": "no-store"}
    if wants_fragment(request):
        headers.update({"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"})
    return render(
        request,
        "error.html",
        "_alert.html",
        {
            "title": tr.gettext(title),
            "body": tr.gettext(body) if message is None else message,
            "status": status,
        },
        status_code=status,
        headers=headers,
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return error_response(request, status)


async def not_found(request: Request, exc: Exception) -> Response:
    if is_staff_path(request.url.path):
        return guard.missing(request)
    return error_response(request, 404)


async def refused(request: Request, exc: Exception) -> Response:
    """A refusal from `db` that the handler leaves to the page: 422 with its message."""
    assert isinstance(exc, queries.QueryError)  # registered for QueryError only
    return error_response(request, 422, refusals.say(request, exc))


async def server_error(request: Request, exc: Exception) -> Response:
    # The route's pattern only: query strings hold what a patron typed, and some paths
    # carry one-time tokens (/staff/enrol/{token}).
    route = getattr(request.scope.get("route"), "path", "?")
    log.exception("unhandled error on %s %s", request.method, route)
    return error_response(request, 500)
