"""The audit log: who looked at or changed which patron record, searchable by managers."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms
from web.i18n import translator
from web.staff.guard import route
from web.staff.pages import page


def _day(raw: str) -> date | None:
    return forms.calendar_date(raw) if raw else None  # 西暦 or 和暦, full-width too


async def audit(request: Request) -> Response:
    values = {
        "staff_code": forms.query(request, "staff_code", 20),
        "card": forms.as_card(forms.query(request, "card", 40))[:20],
        "day_from": forms.query(request, "day_from", 20),
        "day_to": forms.query(request, "day_to", 20),
        "outcome": forms.query(request, "outcome", 10),
    }
    bad_date = translator(request).gettext("Use a date like 2026-12-28 or 令和8年12月28日.")
    errors = {
        name: bad_date
        for name in ("day_from", "day_to")
        if values[name] and _day(values[name]) is None
    }
    rows = queries.search_staff_audit(
        queries.AuditQuery(
            staff_code=values["staff_code"],
            card_number=values["card"],
            day_from=_day(values["day_from"]),
            day_to=_day(values["day_to"]),
            outcome=values["outcome"],
        )
    )
    return page(
        request,
        "staff/audit.html",
        status_code=422 if errors else 200,
        rows=rows,
        # Branches in the page's language, not their codes (a row keeps the code it had).
        branch_names={b.code: b.name for b in queries.list_branches()},
        values=values,
        errors=errors,
    )


routes: list[BaseRoute] = [route("GET", "/audit", audit, "audit")]
