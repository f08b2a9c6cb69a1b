"""The staff console's door: its own session cookie, CSRF bound to the staff session, and
the role policy (db/data/staff_policy.json) applied to every route before its handler runs.

Every /staff route is declared through `route()`, which looks its policy up in the file and
fails at import when there is none — deny by default, and a route without a policy cannot
even be served.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import queries
from web import csrf
from web.settings import Settings
from web.templating import render, wants_fragment

PREFIX = "/staff"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
Endpoint = Callable[[Request], Awaitable[Response]]

# Which personal field groups each patron action touches (for refused-attempt audit rows).
_ATTEMPTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "patron.view": ("patron_record", ("name", "contact", "birth_date", "loans")),
    "patron.edit": ("patron_edit", ("contact", "category")),
    "patron.lookup": ("patron_lookup", ("name",)),
}


@dataclass(frozen=True)
class Me:
    token: str
    info: queries.StaffSessionInfo

    @property
    def actor(self) -> queries.StaffActor:
        return self.info.actor

    def may(self, action: str) -> bool:
        return queries.staff_policy_data().may(self.actor.role, self.actor.duties, action)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def cookie_name(settings: Settings) -> str:
    return "__Host-shiori_staff" if settings.https else "shiori_staff"


def timeouts(settings: Settings) -> queries.Timeouts:
    """Shorter than patrons': the policy's values, and never more than half the patron idle
    timeout or the patron absolute limit."""
    values = queries.staff_policy_data().settings
    idle = min(values["session_idle_minutes"], max(1, settings.session_idle_minutes // 2))
    absolute = min(values["session_absolute_hours"], settings.session_absolute_hours)
    return queries.Timeouts.of(idle_minutes=idle, absolute_hours=absolute)


def me(request: Request) -> Me | None:
    if "shiori_staff" in request.scope:
        cached: Me | None = request.scope["shiori_staff"]
        return cached
    settings = settings_of(request)
    token = request.cookies.get(cookie_name(settings), "")
    found = None
    if token:
        info = queries.get_staff_session(token, timeouts(settings))
        if info is not None:
            found = Me(token, info)
    request.scope["shiori_staff"] = found
    return found


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        token,
        httponly=True,
        secure=settings.https,
        samesite="strict",
        path="/",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings), path="/", secure=settings.https, httponly=True, samesite="strict"
    )


async def checked_form(request: Request) -> FormData:
    """The POSTed form after the CSRF checks against the staff session; 403 otherwise."""
    session = me(request)
    form = await request.form(max_files=0, max_fields=50, max_part_size=64 * 1024)
    sent = request.headers.get(HEADER) or str(form.get(FIELD, ""))
    if (
        session is None
        or not csrf.same_origin(request)
        or not sent
        or not hmac.compare_digest(sent, session.info.csrf_token)
    ):
        raise HTTPException(status_code=403)
    return form


def context(request: Request) -> dict[str, Any]:
    """What every staff template needs: the staff member, their CSRF token, the policy."""
    session = me(request)
    return {
        "me": session,
        "staff_csrf": session.info.csrf_token if session else csrf.token(request),
        "policy": queries.staff_policy_data(),
    }


def denied(request: Request) -> Response:
    """403 in words, as a page or (htmx) in the alert region."""
    headers = (
        {"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"} if wants_fragment(request) else None
    )
    return render(
        request,
        "staff/denied.html",
        "staff/_denied.html",
        context(request),
        status_code=403,
        headers=headers,
    )


def _login_redirect() -> Response:
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


def _guarded(key: str, target: str, endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        if target == "public":
            return await endpoint(request)
        session = me(request)
        if session is None:
            return _login_redirect()
        if target == "session":
            return await endpoint(request)
        if target == "second_factor":
            if session.info.second_factor:
                return RedirectResponse(f"{PREFIX}/", status_code=303)
            return await endpoint(request)
        if not session.info.second_factor:
            # Nothing but the second-factor page until it is passed.
            return RedirectResponse(f"{PREFIX}/mfa", status_code=303)
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
    key = f"{method} {PREFIX}{path}".rstrip("/") if path else f"{method} {PREFIX}"
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
