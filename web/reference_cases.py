"""The public reference collection (`/reference`, レファレンス事例): anonymised cases that a
second staff member approved, listed and searched by everyone without logging in, with the
catalogue's Japanese matching (db.search). A GET form, so it works without JavaScript; htmx
swaps the results as the catalogue's search does."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from db import queries
from web import forms
from web.templating import render

MAX_QUERY_CHARS = 200


async def collection(request: Request) -> Response:
    q = forms.query(request, "q", MAX_QUERY_CHARS).strip()
    number = forms.whole_number(forms.query(request, "page", 10))
    page = min(max(number or 1, 1), queries.REFERENCE_MAX_PAGE)
    result = queries.search_reference_cases(q, page)

    def page_url(n: int) -> str:
        return "?" + urlencode({k: v for k, v in (("q", q), ("page", str(n))) if v})

    return render(
        request,
        "reference_cases/collection.html",
        "reference_cases/_results.html",
        {"q": q, "result": result, "page_url": page_url},
    )


async def case(request: Request) -> Response:
    found = queries.get_reference_case(request.path_params["case_id"])
    return render(request, "reference_cases/case.html", ctx={"case": found})


routes: list[BaseRoute] = [
    Route("/reference", collection, name="reference_collection"),
    Route("/reference/{case_id:int}", case, name="reference_case"),
]
