"""The language switch: a preference cookie, then back to the page the patron was on.

For a logged-in patron the choice is also their mail's language (the patron record), so a
notice is written in the language they read the site in. Anonymous visitors switch with a
plain link (it works on every cached public page, without a form token) that sets only the
cookie; a logged-in patron's pages carry a small form instead, because writing the record is
a state change, and state changes never happen on GET (the POST passes the CSRF middleware).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db import queries
from web import forms, i18n, sessions


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
    session = sessions.current(request)
    if session is not None and request.method == "POST":
        queries.set_patron_language(session.patron_id, lang)
    target = request.query_params.get("next")
    if target is None and request.method == "POST":
        target = forms.text(await forms.read(request), "next", 2000)
    response = RedirectResponse(safe_next(target or "/"), status_code=303)
    response.set_cookie(
        i18n.COOKIE,
        lang,
        max_age=365 * 86400,
        samesite="lax",
        httponly=True,
        secure=sessions.settings_of(request).https,
    )
    return response


routes = [Route("/lang/{lang}", switch, methods=["GET", "POST"], name="lang")]
