"""The public library calendar (`/calendar`): each branch's opening hours and closed days
for one month, as tables that say in words why a day is closed. A GET form, so it works
without JavaScript; `?month=2026-12&branch=sogo` (西暦 or 和暦, full-width digits too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date, get_day_names
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from db import queries
from web import forms
from web.i18n import N_, Translator, translator
from web.templating import path_for, render

# Translators: CLDR pattern of a month heading (babel.dates): "December 2026".
MONTH_PATTERN = N_("MMMM y")
# Translators: CLDR pattern of a day in the month's table: "Tue 1 Dec".
DAY_PATTERN = N_("EEE d MMM")

FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Month:
    first: date
    title: str  # "2026年12月"
    value: str  # "2026-12", the form's value


def month_of(tr: Translator, year: int, month: int) -> Month:
    first = date(year, month, 1)
    title = format_date(first, tr.gettext(MONTH_PATTERN), locale=tr.lang)
    return Month(first, title, f"{year:04d}-{month:02d}")


def shift(first: date, months: int) -> tuple[int, int]:
    index = first.year * 12 + first.month - 1 + months
    return index // 12, index % 12 + 1


def weekday_names(tr: Translator) -> tuple[str, ...]:
    """Monday first, as date.weekday() counts."""
    names = get_day_names("wide", locale=tr.lang)
    return tuple(str(names[d]) for d in range(7))


def day_name(tr: Translator, day: date) -> str:
    return format_date(day, tr.gettext(DAY_PATTERN), locale=tr.lang)


async def calendar(request: Request) -> Response:
    tr = translator(request)
    raw_month = forms.query(request, "month", 20)
    branch = forms.query(request, "branch", 20)
    errors: dict[str, str] = {}
    typed = forms.year_month(raw_month) if raw_month else None
    if raw_month and (typed is None or not FIRST_YEAR <= typed[0] <= LAST_YEAR):
        errors["month"] = tr.gettext("Use a month like 2026-12 or 令和8年12月.")
        typed = None
    branches = queries.list_branches()
    if branch and branch not in {b.code for b in branches}:
        errors["branch"] = tr.gettext("Choose a branch.")
        branch = ""
    found = queries.get_calendar_month(typed, branch)
    shown = month_of(tr, found.first.year, found.first.month)
    links = {}
    for name, step in (("previous", -1), ("next", 1)):
        y, m = shift(shown.first, step)
        if FIRST_YEAR <= y <= LAST_YEAR:
            params = f"?month={y:04d}-{m:02d}" + (f"&branch={branch}" if branch else "")
            links[name] = (path_for(request, "calendar") + params, month_of(tr, y, m).title)
    return render(
        request,
        "calendar/month.html",
        status_code=422 if errors else 200,
        ctx={
            "month": shown,
            "months": found.branches,
            "branches": branches,
            "values": {"month": raw_month or shown.value, "branch": branch},
            "errors": errors,
            "links": links,
            "today": found.today,
            "weekdays": weekday_names(tr),
            "day_name": lambda d: day_name(tr, d),
        },
    )


routes: list[BaseRoute] = [Route("/calendar", calendar, name="calendar")]
