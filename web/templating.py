"""One Jinja environment (autoescaping everywhere), `render` and `wants_fragment`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount

from db import queries
from web import csrf, flash, i18n, labels, refusals, sessions, terminals
from web.i18n import N_
from web.settings import ROOT

# Translators: a CLDR pattern for a day without year and weekday: "10 Dec" (ja: M月d日).
SHORT_DATE_PATTERN = N_("d MMM")

env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    extensions=["jinja2.ext.i18n"],
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


@pass_context
def _date(ctx: Context, value: date | None) -> str:
    return "" if value is None else ctx["tr"].date(value)


@pass_context
def _short_date(ctx: Context, value: date | None) -> str:
    """A day without the year and weekday ("12月10日"), for estimate windows."""
    if value is None:
        return ""
    tr = ctx["tr"]
    return format_date(value, tr.gettext(SHORT_DATE_PATTERN), locale=tr.lang)


@pass_context
def _datetime(ctx: Context, value: datetime | None) -> str:
    return "" if value is None else ctx["tr"].datetime(value)


def _route_owners(request: Request) -> dict[str, BaseRoute]:
    """Which top-level route (or mount) builds each route name, found once per app.

    A search page builds some fifty links; asking the router walks every route for each
    one (a quarter of the page's time), asking the one route that owns the name does not."""
    owners: dict[str, BaseRoute] | None = getattr(request.app.state, "route_owners", None)
    if owners is None:
        owners = {}
        for route in request.app.routes:
            name = getattr(route, "name", None)
            if isinstance(route, Mount) and name:
                for child in route.routes:
                    if getattr(child, "name", None):
                        owners.setdefault(f"{name}:{child.name}", route)  # type: ignore[attr-defined]
            if name:
                owners.setdefault(name, route)
        request.app.state.route_owners = owners
    return owners


_MAX_PATHS = 8192


def _route_paths(request: Request) -> dict[tuple[Any, ...], str]:
    """The paths built so far, per app: a search page asks for some forty (the header's
    links, every hit's record and reservation links), and Starlette builds each afresh."""
    paths: dict[tuple[Any, ...], str] | None = getattr(request.app.state, "route_paths", None)
    if paths is None:
        paths = request.app.state.route_paths = {}
    return paths


def path_for(
    request: Request, name: str, query: dict[str, Any] | str | None = None, **params: Any
) -> str:
    """The path of a named route (`path_for(request, "record", work_id=1)`), with an
    optional query (a dict is encoded; None values are left out)."""
    return _with_query(_path(request, _route_paths(request), name, params), query)


def _path(
    request: Request, paths: dict[tuple[Any, ...], str], name: str, params: dict[str, Any]
) -> str:
    """The path of a named route, built once per app (see _route_paths)."""
    key = (name, *params.items())
    path = paths.get(key)
    if path is None:
        owner = _route_owners(request).get(name)
        path = str((owner or request.app.router).url_path_for(name, **params))
        if len(paths) >= _MAX_PATHS:
            paths.clear()
        paths[key] = path
    return path


def _with_query(path: str, query: dict[str, Any] | str | None) -> str:
    if isinstance(query, dict):
        query = urlencode({k: v for k, v in query.items() if v is not None})
    return f"{path}?{query}" if query else path


def _url_builder(request: Request) -> Callable[..., str]:
    """`path_for` for one request's templates, with the app's paths looked up once: a
    search page asks for some sixty."""
    paths = _route_paths(request)

    def url(name: str, query: dict[str, Any] | str | None = None, **params: Any) -> str:
        return _with_query(_path(request, paths, name, params), query)

    return url


def see_other(
    request: Request, name: str, query: dict[str, Any] | str | None = None, **params: Any
) -> RedirectResponse:
    """303 to a named route: where a handled POST (or a page for someone else) sends on."""
    return RedirectResponse(path_for(request, name, query, **params), status_code=303)


@pass_context
def _refusal(ctx: Context, value: queries.Refusal) -> str:
    return refusals.words(ctx["tr"], value)


@pass_context
def _localized(ctx: Context, value: queries.Localized | None) -> str:
    """A name that is data (a branch, a material type) in the page's language."""
    return "" if value is None else value.get(ctx["lang"])


@pass_context
def _label(ctx: Context, kind: str, code: str) -> str:
    """Words for a code of a fixed code set (web/labels.py): `label("role", "manager")`."""
    return labels.label(ctx["tr"], kind, code)


# The header, <title> and search plug-in: the library's identity (console, /staff/codes) in
# the page's language; the fixed text where the identity has no name in it (a third language).
SITE_NAME = N_("%(library)s Catalog")
FIXED_SITE_NAME = N_("Fujisawa City Libraries Catalog")
FIXED_SHORT_NAME = N_("Fujisawa Libraries")


@pass_context
def _site_name(ctx: Context, short: bool = False) -> str:
    # Cached per process and library (db.queries.library_identity): no query per page.
    identity = queries.library_identity()
    tr = ctx["tr"]
    if short:
        name = dict(identity.short_names.texts).get(ctx["lang"])
        return str(name or tr.gettext(FIXED_SHORT_NAME))
    name = dict(identity.names.texts).get(ctx["lang"])
    return str(tr.gettext(SITE_NAME, library=name) if name else tr.gettext(FIXED_SITE_NAME))


# Filters and globals that need only the language (`lang`, `tr`): mail templates get them too.
LANGUAGE_FILTERS = {"number": _number, "localized": _localized, "refusal": _refusal}
LANGUAGE_GLOBALS = {"label": _label}

env.filters.update(LANGUAGE_FILTERS)
env.filters["date"] = _date
env.filters["short_date"] = _short_date
env.filters["datetime"] = _datetime
env.globals.update(LANGUAGE_GLOBALS)
env.globals["site_name"] = _site_name
# gettext and friends come with each render's context (the request's language); the
# shared environment only learns that they are the newstyle kind (they format %(name)s).
env.newstyle_gettext = True  # type: ignore[attr-defined]


def wants_fragment(request: Request) -> bool:
    """An htmx request that swaps part of the page (not a history restore, not boosted)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def context(request: Request, **values: Any) -> dict[str, Any]:
    tr = i18n.translator(request)
    return {
        "request": request,
        **i18n.template_context(tr),
        "languages": i18n.catalogues(request).languages,
        "csrf_token": partial(csrf.token, request),
        # `url("record", work_id=1)`: the path of a named route (see path_for).
        "url": _url_builder(request),
        "current": sessions.current(request),
        # A library kiosk (web/terminals.py) or None; its countdown's timing.
        "on_kiosk": terminals.kiosk(request),
        "kiosk_timing": partial(terminals.idle_timing, request),
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
    response.headers["Vary"] = "HX-Request, Cookie, Accept-Language"
    return csrf.remember_seed(request, response)
