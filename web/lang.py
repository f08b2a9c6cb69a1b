"""The language switch: a preference cookie, then back to the page the patron was on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from web import i18n


def safe_next(target: str) -> str:
    """A local path only: never another site (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def switch(request: Request) -> Response:
    lang = request.path_params["lang"]
    books = i18n.catalogues(request)
    if lang not in books.languages:
        lang = books.default
    response = RedirectResponse(safe_next(request.query_params.get("next", "/")), status_code=303)
    # A display preference only; it changes nothing on the server.
    response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


routes = [Route("/lang/{lang}", switch, name="lang")]
