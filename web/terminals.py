"""Whether the browser of a request is a library kiosk (館内OPAC端末).

The terminal, not the patron, decides: a browser is a kiosk when it holds the signed
terminal cookie of an enrolled, unrevoked terminal (db.queries.terminals; the database is
asked on every request, so a revoked terminal is an ordinary browser from its next
request), or when its address is in SHIORI_KIOSK_NETWORKS. On a kiosk every login is a
shared-terminal login (web.account): a short idle timeout, no device cookie, no kept
booklist key, no saved form data, and the countdown of templates/kiosk/_idle.html.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from db import queries
from web import client
from web.sessions import settings_of
from web.settings import Settings

COOKIE = "shiori_terminal"  # __Host- on https
# Long-lived: a kiosk stays one until a manager revokes it. 400 days is the longest a
# browser keeps a cookie (Chromium caps Max-Age there); after that, a new enrolment link.
COOKIE_DAYS = 400
_SCOPE_KEY = "shiori.kiosk"


@dataclass(frozen=True)
class Kiosk:
    """This browser is a kiosk: an enrolled terminal, or one on a kiosk network (None)."""

    terminal: queries.TerminalInfo | None

    @property
    def branch_code(self) -> str:
        return self.terminal.branch_code if self.terminal else ""


def _cookie_name(request: Request) -> str:
    return _cookie_name_for(settings_of(request))


def _cookie_name_for(settings: Settings) -> str:
    return f"__Host-{COOKIE}" if settings.https else COOKIE


def _serializer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(settings_of(request).secret_key, salt="shiori.terminal")


def _terminal(request: Request) -> queries.TerminalInfo | None:
    raw = request.cookies.get(_cookie_name(request), "")
    if not raw or len(raw) > 300:
        return None
    try:
        value = _serializer(request).loads(raw)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    terminal_id, key = value
    if not isinstance(terminal_id, int) or not isinstance(key, str):
        return None
    return queries.get_terminal_by_key(terminal_id, key)


def _on_kiosk_network(request: Request) -> bool:
    return client.in_networks(client.address(request), settings_of(request).kiosk_networks)


def kiosk(request: Request) -> Kiosk | None:
    """The kiosk this request comes from (found once per request), or None: a home PC."""
    if _SCOPE_KEY not in request.scope:
        terminal = _terminal(request)
        found = Kiosk(terminal) if terminal or _on_kiosk_network(request) else None
        request.scope[_SCOPE_KEY] = found
    result: Kiosk | None = request.scope[_SCOPE_KEY]
    return result


def may_be_kiosk(settings: Settings) -> Callable[[Scope], bool]:
    """For the headers middleware (web.security), on every response, static files too:
    whether the request carries a terminal cookie or comes from a kiosk network. The
    cookie is not checked against the database there: a revoked or forged one only makes
    its responses no-store."""
    cookie = _cookie_name_for(settings).encode() + b"="

    def check(scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"cookie" and cookie in value:
                return True
        peer = scope.get("client")
        return peer is not None and client.in_networks(peer[0], settings.kiosk_networks)

    return check


def set_cookie(request: Request, response: Response, enrolled: queries.TerminalEnrolled) -> None:
    """Make this browser the terminal: HttpOnly, Secure on https, SameSite=Lax (a patron
    may arrive at the kiosk's OPAC from a link on the library's own web site)."""
    response.set_cookie(
        _cookie_name(request),
        _serializer(request).dumps([enrolled.terminal_id, enrolled.key]),
        max_age=int(timedelta(days=COOKIE_DAYS).total_seconds()),
        path="/",
        secure=settings_of(request).https,
        httponly=True,
        samesite="lax",
    )


def pickup_default(request: Request, home_branch_code: str) -> str:
    """The pickup branch a reservation form offers first: the kiosk's own branch, else the
    patron's home branch."""
    found = kiosk(request)
    return found.branch_code if found and found.branch_code else home_branch_code


def idle_timing(request: Request) -> dict[str, int]:
    """For the countdown (static/js/kiosk.js): the idle timeout, how long the countdown
    shows, and the seconds left of this page's session at the latest (the server records
    use only every few seconds, so the browser counts that much less)."""
    settings = settings_of(request)
    idle = settings.kiosk_idle_seconds
    slack = int(queries.touch_interval(timedelta(seconds=idle)).total_seconds()) + 1
    return {"idle": idle, "warning": settings.kiosk_warning_seconds, "left": idle - slack}
