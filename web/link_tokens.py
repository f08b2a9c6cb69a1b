"""One-time tokens that arrive in a link (password reset, staff enrolment).

The first request trades the token for a short-lived HttpOnly cookie and answers with a
303 to the same page without it, so the token leaves the address bar, the history, the
Referer and the access log after one request. The cookie is SameSite=Lax, not Strict: the
link is opened from a mail or chat on another site, and browsers do not send a Strict
cookie on any request of a navigation that another site started, redirects included —
the page would never see it. Lax still keeps it off cross-site POSTs, and every POST
needs the CSRF token anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from web.sessions import settings_of
from web.templating import path_for, render, see_other

LINK_COOKIE_MINUTES = 15
_TOKEN_LIMIT = 200


@dataclass(frozen=True)
class LinkCookie:
    name: str  # without the __Host- prefix
    page: str  # the route of the page the token opens

    def _name_and_path(self, request: Request) -> tuple[str, str]:
        # __Host- needs Secure and Path=/; on plain http the cookie is held to its page.
        if settings_of(request).https:
            return f"__Host-{self.name}", "/"
        return self.name, path_for(request, self.page)

    def exchange(self, request: Request, token: str, **params: Any) -> Response:
        """303 to the page without the token, which now travels in the cookie."""
        response = see_other(request, self.page, **params)
        name, path = self._name_and_path(request)
        response.set_cookie(
            name,
            token[:_TOKEN_LIMIT],
            max_age=LINK_COOKIE_MINUTES * 60,
            path=path,
            secure=settings_of(request).https,
            httponly=True,
            samesite="lax",
        )
        return response

    def token(self, request: Request) -> str:
        return request.cookies.get(self._name_and_path(request)[0], "")[:_TOKEN_LIMIT]

    def forget(self, request: Request, response: Response) -> None:
        name, path = self._name_and_path(request)
        response.delete_cookie(
            name, path=path, secure=settings_of(request).https, httponly=True, samesite="lax"
        )

    def refuse(self, request: Request, template: str, ctx: dict[str, Any]) -> Response:
        """The link is used, expired or made up: its page says so (400) and the cookie goes."""
        response = render(request, template, ctx=ctx, status_code=400)
        self.forget(request, response)
        return response

    def landing(
        self, request: Request, template: str, unusable: Callable[[Request], Response]
    ) -> Response:
        """The page the link opens: the token moves to the cookie first; without one the
        link cannot be used; with one, `template` asks the holder to confirm."""
        if "token" in request.query_params:
            return self.exchange(request, request.query_params["token"])
        if not self.token(request):
            return unusable(request)
        return render(request, template)
