"""Catalog pages: home, search results (htmx fragment or full page), record detail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web import burst, forms, i18n, labels, search_counts, structured
from web.templating import env, path_for, render, wants_fragment

TEXT_FIELDS = ("q", "title", "author", "publisher", "subject", "isbn", "ndc")
CHOICE_FIELDS = ("branch", "material_type", "ndc_class", "year_from", "year_to", "sort")
MAX_FIELD_CHARS = 1000  # longer input is cut before it reaches the query layer


@dataclass
class SearchForm:
    """The search form as typed, its validation errors, and the parameters for the query."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    params: queries.SearchParams = field(default_factory=queries.SearchParams)
    encoded: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @property
    def advanced_used(self) -> bool:
        # A chosen sort order alone does not open the advanced fields.
        return any(self.values[k] for k in ADVANCED_FIELDS if k != "sort")

    def query_string(self, **overrides: Any) -> str:
        merged = {**self.values, **{k: str(v) for k, v in overrides.items()}}
        pieces = []
        for k, v in merged.items():
            if v and not (k == "sort" and v == "relevance"):
                # A results page builds some twenty of these (facets, paging, the way
                # back), nearly all from the same values: each pair is encoded once.
                piece = self.encoded.get((k, v))
                if piece is None:
                    piece = self.encoded[k, v] = urlencode({k: v})
                pieces.append(piece)
        return "&".join(pieces)


def _clean(raw: str) -> str:
    # Control characters never reach the query layer or the page.
    cut = raw[:MAX_FIELD_CHARS]
    if cut.isprintable():  # the usual case (the empty fields too): nothing to drop
        return cut.strip()
    return "".join(ch for ch in cut if ch.isprintable() or ch == " ").strip()


def _year(tr: i18n.Translator, form: SearchForm, name: str) -> int | None:
    """A year field: 西暦 (1990, １９９０) or 和暦 (平成2, H2); else an error next to it."""
    raw = form.values[name]
    if not raw:
        return None
    year = forms.year(raw)
    if year is None:
        form.errors[name] = tr.gettext(
            "Enter the year in 西暦 (4 digits, such as 1990) or 和暦 (such as 平成2 or H2)."
        )
    return year


def parse_search_form(request: Request) -> SearchForm:
    return _read_form(i18n.translator(request), request.query_params)


def _read_form(tr: i18n.Translator, args: Mapping[str, str]) -> SearchForm:
    values = {name: _clean(args.get(name, "")) for name in TEXT_FIELDS}
    for name in (*CHOICE_FIELDS, "page"):
        values[name] = _clean(args.get(name, ""))[:50]
    form = SearchForm(values)
    branches = {b.code for b in queries.list_branches()}
    types = {m.code for m in queries.list_material_types()}
    for name, allowed in (
        ("branch", branches),
        ("material_type", types),
        ("ndc_class", set(queries.NDC_CLASSES)),
        ("sort", set(queries.SORTS)),
    ):
        if values[name] and values[name] not in allowed:
            form.errors[name] = tr.gettext("Choose one of the options.")
            values[name] = ""
    year_from, year_to = _year(tr, form, "year_from"), _year(tr, form, "year_to")
    if year_from is not None and year_to is not None and year_from > year_to:
        form.errors["year_to"] = tr.gettext("The 'from' year is after the 'to' year.")
    number = forms.whole_number(values["page"])
    page = number if number is not None else 1
    form.params = queries.SearchParams(
        q=values["q"],
        title=values["title"],
        author=values["author"],
        publisher=values["publisher"],
        subject=values["subject"],
        isbn=values["isbn"],
        ndc=values["ndc"],
        branch=values["branch"],
        material_type=values["material_type"],
        ndc_class=values["ndc_class"],
        year_from=year_from,
        year_to=year_to,
        sort=values["sort"] or "relevance",
        page=min(max(page, 1), queries.MAX_PAGE),
    )
    return form


ADVANCED_FIELDS = (*TEXT_FIELDS[1:], *CHOICE_FIELDS)


@lru_cache(maxsize=512)
def _advanced_html(
    tr: i18n.Translator,
    values: tuple[str, ...],
    errors: tuple[tuple[str, str], ...],
    choices: tuple[tuple[Any, ...], ...],
) -> Markup:
    form = SearchForm(dict(zip(ADVANCED_FIELDS, values, strict=True)), dict(errors))
    branches, material_types = choices
    html = env.get_template("catalog/_advanced.html").render(
        **i18n.template_context(tr),
        form=form,
        branches=branches,
        material_types=material_types,
        ndc_classes=queries.NDC_CLASSES,
        sorts=queries.SORTS,
    )
    return Markup(html)  # noqa: S704 - rendered by the autoescaping environment


def advanced_fields(tr: i18n.Translator, form: SearchForm) -> Markup:
    """The advanced-search fields. Most searches leave them empty, so the rendered HTML is
    kept per language and values (it is a third of the cost of a results page)."""
    return _advanced_html(
        tr,
        tuple(form.values.get(name, "") for name in ADVANCED_FIELDS),
        tuple(sorted(form.errors.items())),
        (queries.list_branches(), queries.list_material_types()),
    )


def _choices(request: Request) -> dict[str, Any]:
    return {
        "advanced_fields": partial(advanced_fields, i18n.translator(request)),
        "material_names": material_names(),
    }


def material_names() -> dict[str, queries.Localized]:
    """Material type names by code, for the marks on result rows (catalog/_hit.html)."""
    return {m.code: m.name for m in queries.list_material_types()}


async def home(request: Request) -> Response:
    form = SearchForm({name: "" for name in (*TEXT_FIELDS, *CHOICE_FIELDS, "page")})
    logged_out = request.query_params.get("logged_out") == "1"
    return render(
        request,
        "catalog/home.html",
        ctx={
            "form": form,
            "logged_out": logged_out,
            "home": queries.get_home_page(),
            **_choices(request),
        },
    )


async def search(request: Request) -> Response:
    refused = burst.search_refusal(request)
    if refused is not None:
        return refused
    form = parse_search_form(request)
    if form.errors:
        # With htmx, the fields are sent again (out of band): each error next to its field.
        fields = {"refresh_form": wants_fragment(request)}
        return render(
            request,
            "catalog/search.html",
            "catalog/_results.html",
            {"form": form, "result": None, **_choices(request), **NO_HELP, **fields},
            status_code=422,
        )
    result = queries.search_works(form.params)
    search_counts.count(request, form.params, result)  # in memory: no write per search
    return render(
        request,
        "catalog/search.html",
        "catalog/_results.html",
        {"form": form, "result": result, **_choices(request), **_helping(request, form, result)},
    )


@dataclass(frozen=True)
class FacetLink:
    name: str
    count: int
    href: str  # the search with this facet chosen, or without it when it is `chosen`
    chosen: bool


@dataclass(frozen=True)
class FacetGroup:
    kind: str
    heading: str
    links: tuple[FacetLink, ...]


def _facet_groups(
    request: Request, form: SearchForm, facets: queries.SearchFacets
) -> tuple[FacetGroup, ...]:
    tr = i18n.translator(request)
    branches = {b.code: b.name.get(tr.lang) for b in queries.list_branches()}
    types = {m.code: m.name.get(tr.lang) for m in queries.list_material_types()}

    search_path = path_for(request, "search")

    def link(name: str, count: int, chosen: bool, **choice: str) -> FacetLink:
        cleared = {key: "" for key in choice}
        query = form.query_string(page="", **(cleared if chosen else choice))
        return FacetLink(name, count, f"{search_path}?{query}" if query else search_path, chosen)

    def decade(row: queries.FacetCount) -> FacetLink:
        first, last = row.key, str(int(row.key) + 9)
        chosen = form.values["year_from"] == first and form.values["year_to"] == last
        name = tr.gettext("%(decade)ss", decade=first)
        return link(name, row.count, chosen, year_from=first, year_to=last)

    def simple(field: str, row: queries.FacetCount, name: str) -> FacetLink:
        return link(name, row.count, form.values[field] == row.key, **{field: row.key})

    groups = (
        FacetGroup(
            "branch",
            tr.gettext("On the shelf at"),
            tuple(simple("branch", r, branches.get(r.key, r.key)) for r in facets.branches),
        ),
        FacetGroup(
            "material_type",
            tr.gettext("Material type"),
            tuple(
                simple("material_type", r, types.get(r.key, r.key)) for r in facets.material_types
            ),
        ),
        FacetGroup(
            "ndc_class",
            tr.gettext("Class"),
            tuple(
                simple("ndc_class", r, f"{r.key} {labels.ndc_class(tr, r.key)}")
                for r in facets.ndc_classes
            ),
        ),
        FacetGroup("decade", tr.gettext("Decade published"), tuple(map(decade, facets.decades))),
    )
    # Once a value of a group is chosen, the others are not shown: their counts are within
    # the chosen one, and following one replaces it (a count would promise what it won't give).
    return tuple(
        FacetGroup(g.kind, g.heading, tuple(link for link in g.links if link.chosen) or g.links)
        for g in groups
        if g.links
    )


NO_HELP: dict[str, Any] = {
    "facet_groups": (),
    "suggestions": (),
    "suggestions_later": "",
    "refresh_form": False,
}
# Fewer hits than this and the page suggests corrected queries (もしかして).
SUGGEST_BELOW = 3


def _helping(request: Request, form: SearchForm, result: queries.SearchResult) -> dict[str, Any]:
    """What helps beside the results: facet counts over the whole result set (only when it
    is small: db.queries.facets), corrected queries when there are few hits, and, for a
    facet link followed with htmx, the advanced fields again so that they show the new
    filter (web.catalog's facet links have ids "facet-…", sent as HX-Trigger); the same
    after a search whose fields had errors, so that those go."""
    groups: tuple[FacetGroup, ...] = ()
    if result.hits and not result.total_is_lower_bound and result.total <= queries.FACET_MAX:
        facets = queries.get_search_facets(form.params, result.facet_works)
        groups = _facet_groups(request, form, facets)
    suggestions: tuple[queries.Suggestion, ...] = ()
    suggestions_later = ""
    if result.total < SUGGEST_BELOW and form.values["q"]:
        if result.total == 0:  # nothing to read meanwhile: the patron needs the help now
            suggestions = queries.suggest_queries(form.values["q"])
        else:
            # A few hits are shown at once; もしかして (10-45 ms at 1,000,000 works) follows
            # from its own request (suggestions_later), or a link without JavaScript.
            suggestions_later = path_for(request, "search_suggestions", {"q": form.values["q"]})
    return {
        "facet_groups": groups,
        "suggestions": suggestions,
        "suggestions_later": suggestions_later,
        "refresh_form": request.headers.get("HX-Trigger", "").startswith("facet-")
        or _shows_errors(request),
    }


def _shows_errors(request: Request) -> bool:
    """Whether the search page that asked shows errors in its fields (its address, which
    htmx sends, has them): then the answer sends the fields again, without them."""
    asking = urlsplit(request.headers.get("HX-Current-URL", ""))
    if not wants_fragment(request) or asking.path != request.url.path:
        return False
    return bool(_read_form(i18n.translator(request), QueryParams(asking.query)).errors)


async def suggestions_later(request: Request) -> Response:
    """もしかして for a search that found a few works: the block the results page fetches
    with htmx just after it is shown, or, followed as a link, a page of its own."""
    refused = burst.search_refusal(request)
    if refused is not None:
        if wants_fragment(request):
            # The page asked, not the patron: no alert over the results; the link stays.
            return Response(
                status_code=204, headers={"Retry-After": refused.headers["Retry-After"]}
            )
        return refused
    q = _clean(request.query_params.get("q", ""))
    return render(
        request,
        "catalog/suggestions.html",
        "catalog/_suggestions_later.html",
        {"q": q, "suggestions": queries.suggest_queries(q) if q else ()},
    )


async def record(request: Request) -> Response:
    work_id = request.path_params["work_id"]
    rec = queries.get_record(work_id)
    status = queries.get_title_status(work_id)
    back = request.query_params.get("back", "")
    # Only a search URL of this site may be linked back to.
    back_url = back if back.startswith("/search?") else ""
    return render(
        request,
        "catalog/record.html",
        ctx={
            "record": rec,
            "title_status": status,
            "back_url": back_url,
            **structured.record_context(request, rec),
        },
    )


async def about(request: Request) -> Response:
    return render(request, "about.html", ctx={"stats": queries.get_about_stats()})


async def opensearch(request: Request) -> Response:
    return render(
        request,
        "opensearch.xml",
        headers={"Content-Type": "application/opensearchdescription+xml; charset=utf-8"},
        # From the configured public URL: the Host header is the client's to choose.
        ctx={
            "search_url": structured.public_url(request, "search"),
            "atom_url": structured.public_url(request, "search_atom"),
            "self_url": structured.public_url(request, "opensearch"),
        },
    )


routes = [
    Route("/", home, name="home"),
    Route("/search", search, name="search"),
    Route("/search/suggestions", suggestions_later, name="search_suggestions"),
    Route("/records/{work_id:int}", record, name="record"),
    Route("/about", about, name="about"),
    Route("/opensearch.xml", opensearch, name="opensearch"),
]
