"""The library's statistics (業務統計, `/staff/stats`): anonymous counts by day, month or year
and branch, as charts (web.staff.stats_charts) with their data tables, and each table as a
CSV file (UTF-8 with a BOM, so Excel opens it). Counts of 1 to 4 arrive suppressed from
db.queries (None) and show as "<5"; nothing here names a patron.

The period and branch come from a GET form: dates in 西暦 or 和暦, full-width digits too
(web.forms.calendar_date); a wrong one is said next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web import forms
from web.csv_download import csv_download
from web.i18n import N_, Translator, translator
from web.labels import category as category_words
from web.staff import stats_charts
from web.staff.guard import route
from web.staff.pages import page
from web.templating import path_for

SUPPRESSED = "<5"
AT_LEAST = "≥ "  # a total of which some cells are suppressed
CIRCULATION = ("checkout", "return", "renew", "hold_placed", "hold_filled", "registration")
WEB_USE = ("web_login", "search", "zero_hit")
TABLES = ("circulation", "web", "branches", "registrations", "zero_hits")
# The longest period each unit shows (a chart of more points says nothing).
MAX_DAYS = {"day": 366, "month": 10 * 366, "year": 50 * 366}
CHART_LABELS = {
    "circulation": N_(
        "Line chart: loans, returns, renewals and reservations over the period. "
        "The numbers are in the table below."
    ),
    "web": N_(
        "Bar chart: web logins, searches and searches with no hits over the period. "
        "The numbers are in the table below."
    ),
    "branches": N_(
        "Bar chart: the period's counts per library. The numbers are in the table below."
    ),
}


def measure_words(tr: Translator, code: str) -> str:
    return {
        "checkout": tr.pgettext("statistics", "Loans"),
        "return": tr.pgettext("statistics", "Returns"),
        "renew": tr.pgettext("statistics", "Renewals"),
        "hold_placed": tr.pgettext("statistics", "Reservations placed"),
        "hold_filled": tr.pgettext("statistics", "Reservations filled"),
        "registration": tr.pgettext("statistics", "New registrations"),
        "web_login": tr.pgettext("statistics", "Web logins"),
        "search": tr.pgettext("statistics", "Searches"),
        "zero_hit": tr.pgettext("statistics", "Searches with no hits"),
    }.get(code, code)


Value = int | str | queries.AtLeast | None


def shown(value: Value) -> str:
    """A cell as the page shows it: "<5" when suppressed, "≥ 13" for a total that is only a
    lower bound (some of its cells are suppressed)."""
    if value is None:
        return SUPPRESSED
    if isinstance(value, queries.AtLeast):
        return f"{AT_LEAST}{value.n:,}"
    return f"{value:,}" if isinstance(value, int) else value


def csv_value(value: Value) -> int | str:
    if value is None:
        return SUPPRESSED
    if isinstance(value, queries.AtLeast):
        return f"{AT_LEAST}{value.n}"
    return value


@dataclass
class StatsForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    day_from: date | None = None
    day_to: date | None = None
    unit: str = "day"
    branch: str = ""


def _month_start(day: date) -> date:
    return day.replace(day=1)


def parse_form(request: Request, today: date) -> StatsForm:
    tr = translator(request)
    values = {
        "from": forms.query(request, "from", 40),
        "to": forms.query(request, "to", 40),
        "unit": forms.query(request, "unit", 10) or "day",
        "branch": forms.query(request, "branch", 20),
    }
    form = StatsForm(values)
    bad_date = tr.gettext("Use a date like 2026-12-28 or 令和8年12月28日.")
    form.day_from = forms.calendar_date(values["from"]) if values["from"] else _month_start(today)
    form.day_to = forms.calendar_date(values["to"]) if values["to"] else today
    for name, value in (("from", form.day_from), ("to", form.day_to)):
        if value is None:
            form.errors[name] = bad_date
    if values["unit"] not in queries.UNITS:
        form.errors["unit"] = tr.gettext("Choose day, month or year.")
    else:
        form.unit = values["unit"]
    if values["branch"] and values["branch"] not in {b.code for b in queries.list_branches()}:
        form.errors["branch"] = tr.gettext("Choose a library from the list.")
    else:
        form.branch = values["branch"]
    if form.day_from and form.day_to and not form.errors:
        if form.day_to < form.day_from:
            form.errors["to"] = tr.gettext("The last day comes before the first.")
        elif (form.day_to - form.day_from).days >= MAX_DAYS[form.unit]:
            form.errors["to"] = {
                "day": tr.gettext("By day, choose at most 366 days (or count by month)."),
                "month": tr.gettext("By month, choose at most 10 years (or count by year)."),
                "year": tr.gettext("Choose at most 50 years."),
            }[form.unit]
    return form


def presets(request: Request, today: date) -> list[tuple[str, str]]:
    """Links to the periods asked for most: this and last month, this and last fiscal year
    (April to March), the last five calendar years."""
    tr = translator(request)
    this_month = _month_start(today)
    last_month = _month_start(this_month - timedelta(days=1))
    fiscal = date(today.year if today.month >= 4 else today.year - 1, 4, 1)
    last_fiscal = fiscal.replace(year=fiscal.year - 1)

    def link(start: date, end: date, unit: str) -> str:
        query = {"from": start.isoformat(), "to": end.isoformat(), "unit": unit}
        return path_for(request, "staff:stats", query)

    return [
        (tr.gettext("This month"), link(this_month, today, "day")),
        (tr.gettext("Last month"), link(last_month, this_month - timedelta(days=1), "day")),
        (tr.gettext("This fiscal year"), link(fiscal, today, "month")),
        (
            tr.gettext("Last fiscal year"),
            link(last_fiscal, fiscal - timedelta(days=1), "month"),
        ),
        (
            tr.gettext("The last five years"),
            link(date(today.year - 4, 1, 1), today, "year"),
        ),
    ]


def _series(report: queries.StatsReport) -> dict[str, queries.Series]:
    return {s.measure: s for s in report.series}


def table(
    tr: Translator, report: queries.StatsReport, name: str, branch_names: dict[str, str]
) -> tuple[list[str], list[list[Value]]]:
    """One table of the report: its header and rows (numbers, None when suppressed, AtLeast
    for a total with suppressed cells)."""
    series = _series(report)
    if name in ("circulation", "web"):
        measures = CIRCULATION if name == "circulation" else WEB_USE
        head = [tr.gettext("Period"), *(measure_words(tr, m) for m in measures)]
        rows: list[list[Value]] = [
            [bucket, *(series[m].values[i] for m in measures)]
            for i, bucket in enumerate(report.buckets)
        ]
        rows.append([tr.gettext("Total"), *(series[m].total for m in measures)])
        return head, rows
    if name == "branches":
        head = [
            tr.pgettext("statistics", "Library"),
            *(measure_words(tr, m) for m in queries.BRANCH_MEASURES),
        ]
        return head, [
            [branch_names.get(r.branch_code, r.branch_code), *r.values] for r in report.by_branch
        ]
    if name == "registrations":
        head = [
            tr.gettext("Category"),
            *(tr.gettext("Age %(band)s", band=band) for band, _, _ in queries.AGE_BANDS),
        ]
        return head, [[category_words(tr, r.category), *r.values] for r in report.registrations]
    head = [tr.gettext("Search words (normalised)"), tr.gettext("Visitors")]
    return head, [[z.query, z.sessions] for z in report.zero_hits]


def _short(bucket: str, unit: str) -> str:
    return bucket[8:].lstrip("0") if unit == "day" else bucket


def charts(
    tr: Translator, report: queries.StatsReport, branch_names: dict[str, str]
) -> dict[str, Markup]:
    series = _series(report)
    labels = [_short(b, report.unit) for b in report.buckets]
    circulation = [(measure_words(tr, m), series[m].values) for m in CIRCULATION[:5]]
    web_use = [(measure_words(tr, m), series[m].values) for m in WEB_USE]
    names = [branch_names.get(r.branch_code, r.branch_code) for r in report.by_branch]
    by_branch = [
        (measure_words(tr, m), [r.values[i] for r in report.by_branch])
        for i, m in enumerate(queries.BRANCH_MEASURES)
    ]
    return {
        "circulation": stats_charts.line(
            labels, circulation, tr.gettext(CHART_LABELS["circulation"])
        ),
        "web": stats_charts.bar(labels, web_use, tr.gettext(CHART_LABELS["web"])),
        "branches": stats_charts.bar(names, by_branch, tr.gettext(CHART_LABELS["branches"])),
    }


def _branch_names(request: Request) -> dict[str, str]:
    lang = translator(request).lang
    return {b.code: b.name.get(lang) for b in queries.list_branches()}


def _report(form: StatsForm) -> queries.StatsReport:
    assert form.day_from is not None and form.day_to is not None
    queries.flush_search_counts()  # this process's searches so far are counted too
    return queries.get_stats(form.day_from, form.day_to, form.unit, form.branch)


async def stats_page(request: Request) -> Response:
    today = queries.library_day()
    form = parse_form(request, today)
    tr = translator(request)
    ctx: dict[str, Any] = {
        "form": form,
        "presets": presets(request, today),
        "branches": queries.list_branches(),
        "units": queries.UNITS,
        "suppress_below": queries.SUPPRESS_BELOW,
        "zero_hit_min": queries.ZERO_HIT_MIN_SESSIONS,
        "report": None,
    }
    if form.errors:
        return page(request, "staff/stats.html", status_code=422, **ctx)
    report = _report(form)
    names = _branch_names(request)
    query = {k: v for k, v in form.values.items() if v}
    ctx.update(
        report=report,
        charts=charts(tr, report, names),
        tables={name: table(tr, report, name, names) for name in TABLES},
        csv_links={
            name: path_for(request, "staff:stats_csv", {**query, "table": name}) for name in TABLES
        },
        shown=shown,
        measure_words=lambda code: measure_words(tr, code),
    )
    return page(request, "staff/stats.html", **ctx)


async def stats_csv(request: Request) -> Response:
    today = queries.library_day()
    form = parse_form(request, today)
    name = forms.query(request, "table", 20) or TABLES[0]
    if form.errors:
        return await stats_page(request)
    if name not in TABLES:
        raise HTTPException(404)
    tr = translator(request)
    report = _report(form)
    head, rows = table(tr, report, name, _branch_names(request))
    assert form.day_from is not None and form.day_to is not None
    filename = f"shiori-stats-{name}-{form.day_from.isoformat()}-{form.day_to.isoformat()}.csv"
    return csv_download([head, *([csv_value(v) for v in row] for row in rows)], filename)


async def charts_css(request: Request) -> Response:
    return Response(stats_charts.stylesheet(), media_type="text/css; charset=utf-8")


routes = [
    route("GET", "/stats", stats_page, "stats"),
    route("GET", "/stats.csv", stats_csv, "stats_csv"),
    route("GET", "/stats/charts.css", charts_css, "stats_charts_css"),
]
