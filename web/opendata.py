"""The catalogue for other software: stable addresses by identifier (/isbn/…, /ndl/…), the
availability API, search results as Atom, the sitemap and robots.txt.

Addresses by identifier answer 302 (Found), not 301: which record an ISBN leads to can change
(a record merged or split, a second edition catalogued), and a 301 is kept by browsers and
crawlers for good. The record page's canonical link is what search engines keep.

The availability API is public catalogue data, read-only and without cookies, so any site may
call it from a browser (`Access-Control-Allow-Origin: *`; credentials are never allowed with
`*`). Answers are kept per ISBN for AVAILABILITY_SECONDS in each process and may be cached as
long by others (Cache-Control); each client address has its own token bucket
(web/burst.py).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from db import queries
from web import burst, catalog, client, errors, i18n
from web.sessions import settings_of
from web.structured import public_url
from web.templating import env, path_for, render

AVAILABILITY_SECONDS = 30.0
AVAILABILITY_ENTRIES = 5000
SITEMAP_BATCH = 5000  # works read per query while a sitemap file streams
ATOM = "application/atom+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"
CORS = {"Access-Control-Allow-Origin": "*"}


def _to_record(request: Request, work_ids: tuple[int, ...], several: dict[str, str]) -> Response:
    """One record: to it. Several: to a search that lists them. None: 404 in the page's
    language."""
    if not work_ids:
        tr = i18n.translator(request)
        return errors.error_response(
            request, 404, tr.gettext("No record in the catalogue has this number.")
        )
    if len(work_ids) == 1:
        return RedirectResponse(path_for(request, "record", work_id=work_ids[0]), 302)
    return RedirectResponse(path_for(request, "search", query=several), 302)


async def by_isbn(request: Request) -> Response:
    isbn = queries.normalise_isbn(request.path_params["isbn"])
    found = queries.find_works_by_isbn(isbn) if isbn else ()
    return _to_record(request, found, {"isbn": isbn or ""})


async def by_ndl(request: Request) -> Response:
    """An NDL bibliographic id (JAPAN/MARC 001, e.g. 029455884): records imported from the
    NDL keep it as their source id, which is unique, so it leads to one record or none."""
    ndl_ids = queries.ndl_ids_of(request.path_params["number"])
    found = queries.find_works_by_ndl(ndl_ids)
    return _to_record(request, found, {"q": ndl_ids[0] if ndl_ids else ""})


class AvailabilityCache:
    """Availability per ISBN-13 for a short time, per process: other systems ask about the
    same titles again and again (a shop page shown to many readers). Keyed by the library
    too: each library answers with its own copies (db.tenancy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, str], tuple[float, queries.IsbnAvailability]] = (
            OrderedDict()
        )

    def get(self, isbn13s: tuple[str, ...]) -> dict[str, queries.IsbnAvailability]:
        now = time.monotonic()
        found: dict[str, queries.IsbnAvailability] = {}
        library = queries.current_library.get()
        with self._lock:
            for isbn in isbn13s:
                entry = self._entries.get((library, isbn))
                if entry is not None and now - entry[0] < AVAILABILITY_SECONDS:
                    found[isbn] = entry[1]
        missing = tuple(i for i in isbn13s if i not in found)
        if missing:
            fresh = queries.list_isbn_availability(missing)
            with self._lock:
                for each in fresh:
                    self._entries[(library, each.isbn13)] = (now, each)
                    self._entries.move_to_end((library, each.isbn13))
                while len(self._entries) > AVAILABILITY_ENTRIES:
                    self._entries.popitem(last=False)
            found.update((each.isbn13, each) for each in fresh)
        return found


def _api_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message, **extra},
        status_code=status,
        headers={**CORS, "Cache-Control": "no-store"},
    )


async def availability(request: Request) -> Response:
    tr = i18n.translator(request)
    wait = request.app.state.api_buckets.take(client.address(request))
    if wait:
        response = _api_error(
            429,
            "rate_limited",
            tr.gettext("Too many requests from your address. Try again later."),
            retry_after=wait,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    asked = [
        part.strip()
        for value in request.query_params.getlist("isbn")
        for part in value.split(",")
        if part.strip()
    ]
    limit = queries.MAX_AVAILABILITY_ISBNS
    if not asked:
        return _api_error(400, "isbn_missing", tr.gettext("Give at least one ISBN: ?isbn=…"))
    if len(asked) > limit:
        return _api_error(
            400,
            "too_many_isbns",
            tr.gettext("Ask about at most %(limit)s ISBNs at once.", limit=limit),
            max_isbns=limit,
        )
    isbns = [(raw[:40], queries.normalise_isbn(raw)) for raw in asked]
    cache: AvailabilityCache = request.app.state.availability_cache
    known = cache.get(tuple(dict.fromkeys(i for _, i in isbns if i)))
    results: list[dict[str, Any]] = []
    for raw, isbn in isbns:
        if isbn is None:
            results.append({"query": raw, "isbn13": None, "found": False, "error": "not_an_isbn"})
            continue
        records = known[isbn].records
        results.append(
            {
                "query": raw,
                "isbn13": isbn,
                "found": bool(records),
                "records": [
                    {
                        "id": r.work_id,
                        "title": r.title,
                        "url": public_url(request, "record", work_id=r.work_id),
                        "branches": [
                            {
                                "code": b.code,
                                "name": b.name.as_dict(),
                                "status": b.state,
                                "copies": b.copies,
                                "on_shelf": b.on_shelf,
                            }
                            for b in r.branches
                        ],
                    }
                    for r in records
                ],
            }
        )
    return JSONResponse(
        {"results": results},
        headers={**CORS, "Cache-Control": f"public, max-age={int(AVAILABILITY_SECONDS)}"},
    )


def rfc3339(moment: datetime | date) -> str:
    """An Atom date-time (RFC 3339, for machines, not shown to a reader); a date is the
    start of that library-local day."""
    if not isinstance(moment, datetime):
        return datetime.combine(moment, clock_time(0, 0), queries.LIBRARY_TZ).isoformat()
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


async def search_atom(request: Request) -> Response:
    """The same search as /search (same form, same burst limit), as an Atom feed (RFC 4287)
    with OpenSearch 1.1 response elements."""
    refused = burst.search_refusal(request)
    if refused is not None:
        return refused
    form = catalog.parse_search_form(request)
    if form.errors:
        return errors.error_response(request, 422)
    result = queries.search_works(form.params)
    updated = queries.list_work_updated(tuple(h.id for h in result.hits))
    newest = max(updated.values(), default=queries.current_time())

    def page_url(name: str, page: int | None = None) -> str:
        query = form.query_string(page=page) if page else form.query_string()
        return public_url(request, name, query=query)

    pages = {"first": 1, "last": max(result.page_count, 1)}
    if result.page > 1:
        pages["previous"] = result.page - 1
    if result.page < result.page_count:
        pages["next"] = result.page + 1
    return render(
        request,
        "opendata/search_atom.xml",
        headers={"Content-Type": ATOM},
        ctx={
            "form": form,
            "result": result,
            "feed_updated": rfc3339(newest),
            "entry_updated": {i: rfc3339(u) for i, u in updated.items()},
            "self_url": page_url("search_atom", result.page),
            "html_url": page_url("search", result.page),
            "id_url": page_url("search", result.page),
            "page_links": {rel: page_url("search_atom", n) for rel, n in pages.items()},
            "record_url": lambda work_id: public_url(request, "record", work_id=work_id),
            "page_size": queries.PAGE_SIZE,
        },
    )


async def sitemap_index(request: Request) -> Response:
    chunks = queries.list_sitemap_chunks(settings_of(request).sitemap_size)
    html = env.get_template("opendata/sitemap_index.xml").render(
        sitemaps=[
            (public_url(request, "sitemap_file", number=c.number + 1), c.updated.date())
            for c in chunks
        ]
    )
    return Response(html, media_type=XML, headers={"Cache-Control": "public, max-age=3600"})


async def sitemap_file(request: Request) -> Response:
    """Up to `sitemap_size` record addresses: works with id in that file's range, read in
    batches of SITEMAP_BATCH while the answer streams out."""
    size = settings_of(request).sitemap_size
    number = request.path_params["number"]
    first, last = (number - 1) * size, number * size
    batch = queries.list_sitemap_entries(first, last, SITEMAP_BATCH) if number >= 1 else ()
    if not batch:
        return errors.error_response(request, 404)

    def entries() -> Iterator[tuple[int, datetime]]:
        current = batch
        while current:
            yield from current
            if len(current) < SITEMAP_BATCH:
                return
            current = queries.list_sitemap_entries(current[-1][0], last, SITEMAP_BATCH)

    record_prefix = public_url(request, "record", work_id=0).removesuffix("0")
    stream = env.get_template("opendata/sitemap.xml").generate(
        entries=entries(), record_prefix=record_prefix
    )
    return StreamingResponse(
        _in_pieces(stream), media_type=XML, headers={"Cache-Control": "public, max-age=3600"}
    )


def _in_pieces(chunks: Iterator[str], size: int = 64 * 1024) -> Iterator[str]:
    """Jinja yields a few bytes at a time, and Starlette moves to a worker thread for every
    item of a plain iterator: joined into pieces of `size`, a 50,000-address file is a few
    dozen hops instead of hundreds of thousands."""
    piece: list[str] = []
    held = 0
    for chunk in chunks:
        piece.append(chunk)
        held += len(chunk)
        if held >= size:
            yield "".join(piece)
            piece, held = [], 0
    if piece:
        yield "".join(piece)


async def robots(request: Request) -> Response:
    text = env.get_template("opendata/robots.txt").render(
        sitemap_url=public_url(request, "sitemap_index")
    )
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


routes = [
    Route("/isbn/{isbn}", by_isbn, name="by_isbn"),
    Route("/ndl/{number}", by_ndl, name="by_ndl"),
    Route("/api/availability", availability, name="api_availability"),
    Route("/search.atom", search_atom, name="search_atom"),
    Route("/sitemap.xml", sitemap_index, name="sitemap_index"),
    Route("/sitemaps/{number:int}.xml", sitemap_file, name="sitemap_file"),
    Route("/robots.txt", robots, name="robots"),
]
