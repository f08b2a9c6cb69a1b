"""New arrivals (新着資料): /new with its filters, and an Atom feed (RFC 4287) for each
filter at /new.atom?… . Filter values come from allow-lists; anything else is ignored."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web import catalog, forms
from web.opendata import rfc3339
from web.structured import public_url
from web.templating import path_for, render, wants_fragment

NDC_MAIN_CLASSES = tuple("0123456789")


@dataclass(frozen=True)
class Filters:
    query: queries.NewArrivalsQuery

    def params(self, page: int | None = None) -> dict[str, str]:
        """The filter as a query string's values, defaults left out (stable: feed ids)."""
        q = self.query
        values = {
            "days": str(q.days) if q.days != queries.NewArrivalsQuery().days else "",
            "branch": q.branch,
            "type": q.material_type,
            "ndc": q.ndc_class,
            "children": "1" if q.children else "",
            "page": str(page) if page and page > 1 else "",
        }
        return {k: v for k, v in values.items() if v}

    def query_string(self, page: int | None = None) -> str:
        return urlencode(self.params(page))


def read_filters(request: Request) -> Filters:
    days = forms.whole_number(forms.query(request, "days", 4))
    branch = forms.query(request, "branch", 20)
    mtype = forms.query(request, "type", 20)
    ndc = forms.query(request, "ndc", 2)
    page = forms.whole_number(forms.query(request, "page", 6)) or 1
    query = queries.NewArrivalsQuery(
        days=days if days in queries.ARRIVAL_WINDOWS else queries.NewArrivalsQuery().days,
        branch=branch if branch in {b.code for b in queries.list_branches()} else "",
        material_type=mtype if mtype in {m.code for m in queries.list_material_types()} else "",
        ndc_class=ndc if ndc in NDC_MAIN_CLASSES else "",
        children=forms.query(request, "children", 2) == "1",
        page=max(1, min(page, queries.MAX_PAGE)),
    )
    return Filters(query)


def _feed_path(request: Request, filters: Filters) -> str:
    return path_for(request, "new_arrivals_feed", query=filters.query_string())


async def new_arrivals(request: Request) -> Response:
    filters = read_filters(request)
    result = queries.list_new_arrivals(filters.query)
    return render(
        request,
        "new_arrivals/page.html",
        "new_arrivals/_results.html",
        ctx={
            "filters": filters,
            "result": result,
            "windows": queries.ARRIVAL_WINDOWS,
            "branches": queries.list_branches(),
            "material_types": queries.list_material_types(),
            "material_names": catalog.material_names(),
            "ndc_classes": NDC_MAIN_CLASSES,
            "feed_url": _feed_path(request, filters),
            "swap_feed_link": wants_fragment(request),
        },
    )


async def feed(request: Request) -> Response:
    # Always the first page: a feed is the newest works of the filter.
    filters = read_filters(request)
    filters = Filters(replace(filters.query, page=1))
    result = queries.list_new_arrivals(filters.query)
    newest = max((w.arrived_on for w in result.works), default=result.since)
    query = filters.query_string()
    ctx: dict[str, Any] = {
        "filters": filters,
        "result": result,
        "feed_id": public_url(request, "new_arrivals_feed", query=query),
        "page_url": public_url(request, "new_arrivals", query=query),
        "record_url": lambda work_id: public_url(request, "record", work_id=work_id),
        "updated": rfc3339(newest),
        "rfc3339": rfc3339,
        "branches": queries.list_branches(),
        "material_types": queries.list_material_types(),
    }
    return render(
        request,
        "new_arrivals/feed.xml",
        ctx=ctx,
        headers={"Content-Type": "application/atom+xml; charset=utf-8"},
    )


routes = [
    Route("/new", new_arrivals, name="new_arrivals"),
    Route("/new.atom", feed, name="new_arrivals_feed"),
]
