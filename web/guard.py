"""The patron side's door, twin of the staff guard (web/staff/guard.py): a My Library route
is declared with `patron_route`, which sends an anonymous visitor to the login page (and
back afterwards) and hands the endpoint the patron's session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from web.sessions import Current, current
from web.templating import see_other

PatronEndpoint = Callable[[Request, Current], Awaitable[Response]]


def login_required(request: Request) -> RedirectResponse:
    """Where a page that needs a login sends an anonymous visitor."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other(request, "login_page", f"next={quote(target, safe='')}")


def patron_route(
    path: str, endpoint: PatronEndpoint, *, methods: Sequence[str], name: str
) -> Route:
    """A route for a logged-in patron; `endpoint(request, session)` runs only with one."""

    async def guarded(request: Request) -> Response:
        session = current(request)
        if session is None:
            return login_required(request)
        return await endpoint(request, session)

    guarded.__name__ = endpoint.__name__
    return Route(path, guarded, methods=list(methods), name=name)
