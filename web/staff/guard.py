"""The staff console's door: the role policy (db/data/staff_policy.json) applied to every
route before its handler runs. (The staff session is `web.sessions.STAFF`; the CSRF check,
bound to that session under /staff, is the site's one middleware, `web.security.CSRFCheck`.)

Every /staff route is declared through `route()`, which looks its policy up in the file and
fails at import when there is none — deny by default, and a route without a policy cannot
even be served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import queries
from web import csrf
from web.sessions import STAFF_PREFIX, settings_of, staff
from web.templating import render, see_other, wants_fragment

Endpoint = Callable[[Request], Awaitable[Response]]

# Which personal field groups each patron action touches (for refused-attempt audit rows).
_ATTEMPTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "patron.view": ("patron_record", ("name", "contact", "birth_date", "loans")),
    "patron.edit": ("patron_edit", ("contact", "category")),
    "patron.lookup": ("patron_lookup", ("name",)),
    "patron.holds": ("patron_holds", ("holds",)),
    "reference": ("reference", ("reference",)),
    "patron.code": ("patron_code", ("card",)),
    "patron.register": ("registration", ("name", "contact", "birth_date")),
}


def context(request: Request) -> dict[str, Any]:
    """What every staff template needs: the staff member, their CSRF token, the policy."""
    settings = settings_of(request)
    return {
        "me": staff(request),
        "staff_csrf": csrf.token(request),
        "policy": queries.staff_policy_data(),
        # Enrolment links name SHIORI_PUBLIC_URL; without it, the address used, for the page
        # to say so (staff/_public_url_note.html).
        "served_url": "" if settings.public_url_configured else settings.public_url,
    }


def denied(request: Request) -> Response:
    """403 in words, as a page or (htmx) in the alert region."""
    return _refusal(request, 403)


def missing(request: Request) -> Response:
    """404 (no such patron or account) in the console's own page."""
    return _refusal(request, 404)


def _refusal(request: Request, status: int) -> Response:
    headers = (
        {"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"} if wants_fragment(request) else None
    )
    return render(
        request,
        "staff/denied.html",
        "staff/_denied.html",
        {**context(request), "missing": status == 404},
        status_code=status,
        headers=headers,
    )


def _guarded(key: str, target: str, endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        if target == "public":
            return await endpoint(request)
        session = staff(request)
        if session is None:
            return see_other(request, "staff:login_page")
        if target == "session":
            return await endpoint(request)
        if target == "second_factor":
            if session.info.second_factor:
                return see_other(request, "staff:home")
            return await endpoint(request)
        if not session.info.second_factor:
            # Nothing but the second-factor page until it is passed.
            return see_other(request, "staff:mfa_page")
        if not session.may(target):
            patron_id = request.path_params.get("patron_id")
            if target in _ATTEMPTED:
                screen, groups = _ATTEMPTED[target]
                queries.record_staff_refusal(
                    session.actor,
                    patron_id if isinstance(patron_id, int) else None,
                    groups,
                    screen,
                    target,
                )
            return denied(request)
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "staff")
    return guarded


def route(method: str, path: str, endpoint: Endpoint, name: str) -> Route:
    """A /staff route with its policy from the data file (KeyError when it has none);
    templates link to it as `url("staff:<name>")`."""
    key = f"{method} {STAFF_PREFIX}{path}".rstrip("/") if path else f"{method} {STAFF_PREFIX}"
    target = queries.staff_policy_data().routes[key]
    return Route(path or "/", _guarded(key, target, endpoint), methods=[method], name=name)


class NoStore:
    """Every staff response: never stored by a browser or a proxy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = [
                    h for h in message.get("headers", []) if h[0] != b"cache-control"
                ]
                headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_no_store)
