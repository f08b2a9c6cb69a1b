"""One Jinja environment (autoescaping everywhere), `render` and `wants_fragment`."""

from __future__ import annotations

from functools import partial
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from web import i18n
from web.settings import ROOT

env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _number(value: int) -> str:
    return f"{value:,}"


env.filters["number"] = _number


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
    html = env.get_template(name).render(context(request, **(ctx or {})))
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response
