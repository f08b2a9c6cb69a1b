"""Session cookies and the logged-in person of a request, for patrons and for staff.

One mechanism, two cookie configurations (`PATRON`, `STAFF`): a random token in an HttpOnly
cookie (`__Host-` and Secure on https) that names a server-side session row. Each kind is
looked up at most once per request; the staff kind is the one under /staff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web.settings import Settings

STAFF_PREFIX = "/staff"
T = TypeVar("T")


@dataclass(frozen=True)
class CookieConfig:
    """One kind of session: its cookie and its timeouts."""

    name: str  # without the __Host- prefix
    samesite: Literal["lax", "strict"]
    timeouts: Callable[[Settings, bool], queries.Timeouts]  # (settings, kiosk)

    def cookie_name(self, settings: Settings) -> str:
        # __Host- needs Secure, which needs https; the plain-http demo uses a plain name.
        return f"__Host-{self.name}" if settings.https else self.name


def _patron_timeouts(settings: Settings, kiosk: bool) -> queries.Timeouts:
    timeouts = queries.Timeouts.of(settings.session_idle_minutes, settings.session_absolute_hours)
    if kiosk:  # a login on a library kiosk (web/terminals.py)
        return queries.Timeouts(timedelta(seconds=settings.kiosk_idle_seconds), timeouts.absolute)
    return timeouts


def _staff_timeouts(settings: Settings, _kiosk: bool = False) -> queries.Timeouts:
    """Shorter than patrons': the policy's values, and never more than half the patron idle
    timeout or the patron absolute limit."""
    values = queries.staff_policy_data().settings
    idle = min(values["session_idle_minutes"], max(1, settings.session_idle_minutes // 2))
    absolute = min(values["session_absolute_hours"], settings.session_absolute_hours)
    return queries.Timeouts.of(idle_minutes=idle, absolute_hours=absolute)


# Patrons arrive from links in mail and other sites (Lax); nobody links into the console.
PATRON = CookieConfig("shiori_session", "lax", _patron_timeouts)
STAFF = CookieConfig("shiori_staff", "strict", _staff_timeouts)


@dataclass(frozen=True)
class Current:
    """The logged-in patron of this request."""

    token: str
    patron_id: int
    csrf_token: str
    kiosk: bool


@dataclass(frozen=True)
class StaffCurrent:
    """The staff member of this request (second factor passed or not)."""

    token: str
    info: queries.StaffSessionInfo

    @property
    def actor(self) -> queries.StaffActor:
        return self.info.actor

    @property
    def csrf_token(self) -> str:
        return self.info.csrf_token

    def may(self, action: str) -> bool:
        return queries.staff_policy_data().may(self.actor.role, self.actor.duties, action)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def is_staff_path(path: str) -> bool:
    return path == STAFF_PREFIX or path.startswith(f"{STAFF_PREFIX}/")


def _looked_up(
    request: Request, config: CookieConfig, find: Callable[[str, Settings], T | None]
) -> T | None:
    """The session of `config`'s cookie, found once per request (None without a live one)."""
    key = f"shiori.session.{config.name}"
    if key not in request.scope:
        settings = settings_of(request)
        token = request.cookies.get(config.cookie_name(settings), "")
        request.scope[key] = find(token, settings) if token else None
    found: T | None = request.scope[key]
    return found


def _find_patron(token: str, settings: Settings) -> Current | None:
    info = queries.get_session(
        token, PATRON.timeouts(settings, False), PATRON.timeouts(settings, True)
    )
    return None if info is None else Current(token, info.patron_id, info.csrf_token, info.kiosk)


def _find_staff(token: str, settings: Settings) -> StaffCurrent | None:
    info = queries.get_staff_session(token, STAFF.timeouts(settings, False))
    return None if info is None else StaffCurrent(token, info)


def current(request: Request) -> Current | None:
    """The logged-in patron of the request."""
    return _looked_up(request, PATRON, _find_patron)


def staff(request: Request) -> StaffCurrent | None:
    """The staff member of the request (second factor passed or not)."""
    return _looked_up(request, STAFF, _find_staff)


def forget_staff(request: Request) -> None:
    """This response speaks as if nobody were logged in (the login step rotated the token)."""
    request.scope[f"shiori.session.{STAFF.name}"] = None


def csrf_secret(request: Request) -> str | None:
    """The CSRF token of the session that guards this request: the staff session under
    /staff, the patron session elsewhere; None before login."""
    session = staff(request) if is_staff_path(request.url.path) else current(request)
    return session.csrf_token if session is not None else None


def set_cookie(response: Response, settings: Settings, config: CookieConfig, token: str) -> None:
    # A session cookie (no max-age): closing the browser forgets it; the server enforces
    # idle and absolute timeouts in any case.
    response.set_cookie(
        config.cookie_name(settings),
        token,
        httponly=True,
        secure=settings.https,
        samesite=config.samesite,
        path="/",
    )


def clear_cookie(response: Response, settings: Settings, config: CookieConfig) -> None:
    response.delete_cookie(
        config.cookie_name(settings),
        path="/",
        secure=settings.https,
        httponly=True,
        samesite=config.samesite,
    )
