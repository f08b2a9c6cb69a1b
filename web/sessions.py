"""The session cookie and the logged-in patron of a request."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web.settings import Settings


@dataclass(frozen=True)
class Current:
    """The logged-in patron of this request."""

    token: str
    patron_id: int
    csrf_token: str
    kiosk: bool


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def cookie_name(settings: Settings) -> str:
    # __Host- needs Secure, which needs https; the plain-http demo uses a plain name.
    return "__Host-shiori_session" if settings.https else "shiori_session"


def timeouts(settings: Settings, kiosk: bool) -> queries.Timeouts:
    idle = settings.kiosk_idle_minutes if kiosk else settings.session_idle_minutes
    return queries.Timeouts.of(idle_minutes=idle, absolute_hours=settings.session_absolute_hours)


def current(request: Request) -> Current | None:
    """The live session of the request's cookie, looked up once per request."""
    if "shiori_current" in request.scope:
        cached: Current | None = request.scope["shiori_current"]
        return cached
    settings = settings_of(request)
    token = request.cookies.get(cookie_name(settings), "")
    found = None
    if token:
        info = queries.get_session(
            token, timeouts(settings, kiosk=False), timeouts(settings, kiosk=True)
        )
        if info is not None:
            found = Current(token, info.patron_id, info.csrf_token, info.kiosk)
    request.scope["shiori_current"] = found
    return found


def set_cookie(response: Response, settings: Settings, token: str, kiosk: bool) -> None:
    # A session cookie (no max-age): closing the browser forgets it; the server enforces
    # idle and absolute timeouts in any case.
    response.set_cookie(
        cookie_name(settings),
        token,
        httponly=True,
        secure=settings.https,
        samesite="lax",
        path="/",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings), path="/", secure=settings.https, httponly=True, samesite="lax"
    )
