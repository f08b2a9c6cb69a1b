"""Loan rules (貸出条件), kept by managers: loan period, item limit and renewals per patron
category × material type, and whether the counter refuses or only warns. One form per
category (a form of the site carries at most web.limits.MAX_FIELDS fields)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.flash import flash
from web.i18n import N_
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other

_NUMBERS = ("loan_days", "max_items", "max_renewals")


def _values(rules: tuple[queries.LoanRuleView, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for rule in rules:
        for name in (*_NUMBERS, "enforce"):
            field = queries.loan_rule_field(rule.category, rule.material_type, name)
            values[field] = str(getattr(rule, name))
    return values


def _read(
    form: FormData, rules: tuple[queries.LoanRuleView, ...]
) -> tuple[tuple[queries.LoanRuleInput, ...], dict[str, str]]:
    """The rules as typed (full-width digits read as digits) and the raw values to show."""
    typed: list[queries.LoanRuleInput] = []
    raw: dict[str, str] = {}
    for rule in rules:

        def field(name: str, rule: queries.LoanRuleView = rule) -> str:
            key = queries.loan_rule_field(rule.category, rule.material_type, name)
            raw[key] = forms.text(form, key, 20).strip()
            return raw[key]

        numbers = {name: forms.whole_number(field(name)) for name in _NUMBERS}
        typed.append(
            queries.LoanRuleInput(
                rule.category,
                rule.material_type,
                numbers["loan_days"],
                numbers["max_items"],
                numbers["max_renewals"],
                field("enforce"),
            )
        )
    return tuple(typed), raw


def _page(
    request: Request,
    rules: tuple[queries.LoanRuleView, ...],
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    by_category: dict[str, list[queries.LoanRuleView]] = {}
    for rule in rules:
        by_category.setdefault(rule.category, []).append(rule)
    return page(
        request,
        "staff/rules.html",
        status_code=status_code,
        categories=by_category,
        values=values,
        errors=errors,
        enforce=queries.LOAN_RULE_ENFORCE,
        field=queries.loan_rule_field,
        loan_limit=queries.TOTAL_LOAN_LIMIT,
    )


async def rules_page(request: Request) -> Response:
    rules = queries.list_loan_rules()
    return _page(request, rules, _values(rules), {})


async def save(request: Request) -> Response:
    rules = queries.list_loan_rules()
    form = await forms.read(request)
    category = forms.text(form, "category", 20)
    # An unknown category reads nothing and saves nothing.
    typed, raw = _read(form, tuple(r for r in rules if r.category == category))
    try:
        changed = queries.save_loan_rules(me(request).actor, typed)
    except queries.StaffFormRefused as refused:
        values = {**_values(rules), **raw}
        errors = refusals.say_fields(request, refused.errors)
        return _page(request, rules, values, errors, 422)
    response = see_other(request, "staff:rules")
    flash(request, response, N_("Loan rules saved (%(count)s changed)."), count=changed)
    return response


routes: list[BaseRoute] = [
    route("GET", "/rules", rules_page, "rules"),
    route("POST", "/rules", save, "rules_save"),
]
