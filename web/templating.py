"""One Jinja environment (autoescaping everywhere), `render` and `wants_fragment`."""

from __future__ import annotations

from functools import partial
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from db import queries
from web import csrf, flash, i18n, sessions
from web.settings import ROOT

env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates are read once per process: no file checks on every include (a hit row
    # includes feature partials twenty times a page). Restart to pick up edits.
    auto_reload=False,
)


def _number(value: int) -> str:
    return f"{value:,}"


env.filters["number"] = _number
env.filters["local"] = queries.local_time
env.globals["refusals"] = queries.RENEWAL_REFUSALS


def wants_fragment(request: Request) -> bool:
    """An htmx request that swaps part of the page (not a history restore, not boosted)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def context(request: Request, **values: Any) -> dict[str, Any]:
    lang = i18n.language(request)
    return {
        "request": request,
        "lang": lang,
        "t": partial(i18n.translate, lang),
        "messages": i18n.MESSAGES,
        "csrf_token": partial(csrf.token, request),
        "current": sessions.current(request),
        **values,
    }


def render(
    request: Request,
    page: str,
    fragment: str | None = None,
    ctx: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The full page, or only `fragment` for an htmx request; Vary keeps caches honest."""
    name = fragment if fragment and wants_fragment(request) else page
    response = HTMLResponse("", status_code=status_code, headers=headers)
    message = flash.pop(request, response) if name == page else None
    html = env.get_template(name).render(context(request, flash_message=message, **(ctx or {})))
    response.body = response.render(html)
    response.headers["Content-Length"] = str(len(response.body))
    response.headers["Vary"] = "HX-Request, Cookie"
    return csrf.remember_seed(request, response)
