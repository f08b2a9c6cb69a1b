"""Staff accounts, managed by managers: create (with a one-time enrolment link), edit,
end, and issue a new enrolment link."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals, structured
from web.forms import text
from web.i18n import translator
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other


def _staff_input(
    request: Request, form: FormData, staff_code: str | None = None
) -> tuple[queries.StaffInput, dict[str, str]]:
    errors: dict[str, str] = {}
    ends_raw = text(form, "ends_on", 20).strip()
    ends_on = None
    if ends_raw:
        ends_on = forms.calendar_date(ends_raw)  # 西暦 or 和暦, full-width too
        if ends_on is None:
            errors["ends_on"] = translator(request).gettext(
                "Use a date like 2026-12-28 or 令和8年12月28日."
            )
    data = queries.StaffInput(
        staff_code=staff_code
        if staff_code is not None
        else forms.typed_code(form, "staff_code", 40),
        name=text(form, "name", 200),
        affiliation=text(form, "affiliation", 200),
        branch_code=text(form, "branch", 20),
        role=text(form, "role", 20),
        duties=tuple(str(d)[:40] for d in form.getlist("duties"))[:10],
        ends_on=ends_on,
    )
    return data, errors


def _form_values(data: queries.StaffInput | queries.StaffView | None) -> dict[str, Any]:
    if data is None:
        return {
            "staff_code": "",
            "name": "",
            "affiliation": "",
            "branch": "",
            "role": "staff",
            "duties": (),
            "ends_on": "",
        }
    branch = data.branch_code
    return {
        "staff_code": data.staff_code,
        "name": data.name,
        "affiliation": data.affiliation,
        "branch": branch,
        "role": data.role,
        "duties": data.duties,
        "ends_on": data.ends_on.isoformat() if data.ends_on else "",
    }


def _enrol_link(request: Request, token: str) -> str:
    return structured.public_url(request, "staff:enrol_link", token=token)


def _refused(request: Request, refused: queries.QueryError) -> Response:
    """The list again with why an action on one account was refused."""
    return page(
        request,
        "staff/accounts.html",
        status_code=422,
        staff=queries.list_staff_accounts(),
        error=refusals.say(request, refused),
    )


def _account_form(
    request: Request,
    account: queries.StaffView | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    """The new-account or edit form (`account` None: a new one), with values and errors."""
    return page(
        request,
        "staff/account_form.html",
        status_code=status_code,
        account=account,
        values=values,
        errors=errors,
        branches=queries.list_branches(),
    )


async def accounts(request: Request) -> Response:
    return page(request, "staff/accounts.html", staff=queries.list_staff_accounts())


async def account_new_page(request: Request) -> Response:
    return _account_form(request, None, _form_values(None), {})


async def account_new(request: Request) -> Response:
    form = await forms.read(request)
    data, errors = _staff_input(request, form)
    if not errors:
        try:
            staff_id, token = queries.create_staff_account(me(request).actor, data)
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
    if errors:
        return _account_form(request, None, _form_values(data), errors, status_code=422)
    return page(
        request,
        "staff/enrol_link.html",
        account=queries.get_staff_account(staff_id),
        link=_enrol_link(request, token),
    )


async def account_page(request: Request) -> Response:
    account = queries.get_staff_account(request.path_params["staff_id"])
    return _account_form(request, account, _form_values(account), {})


async def account_update(request: Request) -> Response:
    form = await forms.read(request)
    staff_id: int = request.path_params["staff_id"]
    account = queries.get_staff_account(staff_id)
    data, errors = _staff_input(request, form, account.staff_code)
    if not errors:
        try:
            queries.update_staff_account(me(request).actor, staff_id, data)
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
    if errors:
        return _account_form(request, account, _form_values(data), errors, status_code=422)
    return see_other(request, "staff:accounts")


async def account_end_page(request: Request) -> Response:
    """The question before an account ends: its holder is logged out everywhere at once."""
    return _end_question(request, request.path_params["staff_id"])


def _end_question(request: Request, staff_id: int, status_code: int = 200) -> Response:
    account = queries.get_staff_account(staff_id)
    if account.ended or account.id == me(request).actor.staff_id:
        return see_other(request, "staff:accounts")  # nothing to confirm
    return page(request, "staff/account_end.html", status_code=status_code, account=account)


async def account_end(request: Request) -> Response:
    form = await forms.read(request)
    if text(form, "confirm", 1) != "1":
        # One tap on an old page or a stray submit ends nothing: the question first.
        return _end_question(request, request.path_params["staff_id"])
    try:
        queries.end_staff_account(me(request).actor, request.path_params["staff_id"])
    except queries.NotFound:
        raise  # the 404 page (create_app's handler), not a refusal in the list
    except queries.QueryError as refused:
        return _refused(request, refused)
    return see_other(request, "staff:accounts")


async def account_enrol_link(request: Request) -> Response:
    staff_id: int = request.path_params["staff_id"]
    try:
        token = queries.reissue_staff_enrol_link(me(request).actor, staff_id)
    except queries.NotFound:
        raise  # the 404 page (create_app's handler), not a refusal in the list
    except queries.QueryError as refused:
        return _refused(request, refused)
    return page(
        request,
        "staff/enrol_link.html",
        account=queries.get_staff_account(staff_id),
        link=_enrol_link(request, token),
    )


routes: list[BaseRoute] = [
    route("GET", "/accounts", accounts, "accounts"),
    route("GET", "/accounts/new", account_new_page, "account_new_page"),
    route("POST", "/accounts/new", account_new, "account_new"),
    route("GET", "/accounts/{staff_id:int}", account_page, "account"),
    route("POST", "/accounts/{staff_id:int}", account_update, "account_update"),
    route("GET", "/accounts/{staff_id:int}/end", account_end_page, "account_end_page"),
    route("POST", "/accounts/{staff_id:int}/end", account_end, "account_end"),
    route("POST", "/accounts/{staff_id:int}/enrol-link", account_enrol_link, "account_enrol_link"),
]
