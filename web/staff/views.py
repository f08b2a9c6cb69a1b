"""The staff console (/staff): login with a second factor, the counter, patrons, staff
accounts and the audit log. Every route is declared with `guard.route`, so its policy comes
from db/data/staff_policy.json and is checked before the handler runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import segno
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount

from db import queries
from web import client, csrf, refusals
from web.i18n import translator
from web.settings import Settings
from web.staff import guard
from web.staff.guard import Me, checked_form, route
from web.templating import render, wants_fragment

HOME = "/staff/"
SCAN_KINDS = ("checkout", "return", "renew", "receive")


def _page(
    request: Request,
    page: str,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> HTMLResponse:
    return render(
        request,
        page,
        fragment,
        {
            **guard.context(request),
            **ctx,
        },
        status_code=status_code,
        headers=headers,
    )


def _me(request: Request) -> Me:
    session = guard.me(request)
    assert session is not None  # the guard let only sessions through
    return session


def _text(form: FormData, name: str, limit: int = 200) -> str:
    return str(form.get(name, ""))[:limit]


# Login, enrolment, second factor ----------------------------------------------------------


async def login_page(request: Request) -> Response:
    if guard.me(request) is not None:
        return RedirectResponse(HOME, status_code=303)
    return _page(request, "staff/login.html", values={"staff_code": ""}, error=None)


async def login(request: Request) -> Response:
    form = await csrf.checked_form(request)
    code = _text(form, "staff_code", 20).strip()
    settings = guard.settings_of(request)
    try:
        result = queries.staff_log_in(
            code, _text(form, "password", 1024), client.address(request), guard.timeouts(settings)
        )
    except queries.StaffLoginFailed as refused:
        return _page(
            request,
            "staff/login.html",
            status_code=422,
            values={"staff_code": code},
            error=refusals.say(request, refused),
        )
    response = RedirectResponse("/staff/mfa", status_code=303)
    guard.set_cookie(response, settings, result.token)
    return response


async def logout(request: Request) -> Response:
    await checked_form(request)
    queries.staff_log_out(_me(request).token)
    response = RedirectResponse("/staff/login", status_code=303)
    guard.clear_cookie(response, guard.settings_of(request))
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


async def enrol_page(request: Request) -> Response:
    token = str(request.path_params["token"])
    try:
        staff_code = queries.check_staff_enrol_link(token, client.address(request))
    except queries.EnrolLinkRefused as refused:
        return _page(
            request,
            "staff/enrol.html",
            status_code=404,
            error=refusals.say(request, refused),
            staff_code="",
            errors={},
        )
    return _page(request, "staff/enrol.html", error=None, staff_code=staff_code, errors={})


async def enrol(request: Request) -> Response:
    form = await csrf.checked_form(request)
    token = str(request.path_params["token"])
    new = _text(form, "new_password", 1024)
    settings = guard.settings_of(request)
    errors: dict[str, str] = {}
    if new != _text(form, "new_password_again", 1024):
        errors["new_password_again"] = translator(request).gettext(
            "The two new passwords are not the same."
        )
    else:
        try:
            result = queries.enrol_staff(token, new, guard.timeouts(settings))
        except queries.EnrolLinkRefused as refused:
            return _page(
                request,
                "staff/enrol.html",
                status_code=404,
                error=refusals.say(request, refused),
                staff_code="",
                errors={},
            )
        except queries.PasswordRejected as rejected:
            errors["new_password"] = refusals.say(request, rejected)
    if errors:
        return _page(
            request, "staff/enrol.html", status_code=422, error=None, staff_code="", errors=errors
        )
    response = RedirectResponse("/staff/mfa", status_code=303)
    guard.set_cookie(response, settings, result.token)
    return response


def _qr_data_uri(uri: str) -> str:
    # An <img> with a data: URI: allowed by the CSP (img-src 'self' data:), no inline style.
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


async def mfa_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    session = _me(request)
    if session.info.totp_enrolled:
        return _page(
            request, "staff/mfa.html", status_code=status, enrolment=None, qr="", error=error
        )
    enrolment = queries.begin_totp_enrolment(session.token)
    return _page(
        request,
        "staff/mfa.html",
        status_code=status,
        enrolment=enrolment,
        qr=_qr_data_uri(enrolment.uri),
        error=error,
    )


async def mfa(request: Request) -> Response:
    form = await checked_form(request)
    session = _me(request)
    code = _text(form, "code", 40)
    settings = guard.settings_of(request)
    try:
        if session.info.totp_enrolled:
            result = queries.pass_second_factor(session.token, code, guard.timeouts(settings))
            codes: tuple[str, ...] = ()
        else:
            result, codes = queries.confirm_totp(session.token, code, guard.timeouts(settings))
    except queries.SecondFactorFailed as refused:
        return await mfa_page(request, refusals.say(request, refused), 422)
    if codes:
        # Shown once, on this response only: only their digests are kept.
        request.scope["shiori_staff"] = None
        response: Response = _page(request, "staff/recovery_codes.html", codes=codes)
    else:
        response = RedirectResponse(HOME, status_code=303)
    guard.set_cookie(response, settings, result.token)
    return response


# Home and own password ----------------------------------------------------------------------


async def home(request: Request) -> Response:
    return _page(request, "staff/home.html")


async def password_page(request: Request) -> Response:
    return _page(request, "staff/password.html", errors={}, done=False)


async def password(request: Request) -> Response:
    form = await checked_form(request)
    session = _me(request)
    new = _text(form, "new_password", 1024)
    errors: dict[str, str] = {}
    if new != _text(form, "new_password_again", 1024):
        errors["new_password_again"] = translator(request).gettext(
            "The two new passwords are not the same."
        )
    else:
        try:
            queries.change_staff_password(
                session.actor.staff_id, _text(form, "current_password", 1024), new, session.token
            )
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
        except queries.QueryError as refused:
            errors = {"current_password": refusals.say(request, refused)}
    if errors:
        return _page(request, "staff/password.html", status_code=422, errors=errors, done=False)
    return _page(request, "staff/password.html", errors={}, done=True)


# Counter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterLine:
    """One line of the scan list as shown: a persisted `queries.Scan`, or a receipt of
    `queries.receive_item`. `route` says where the item goes now ("", "available", "ready"
    = hold shelf at the branch, "in_transit" = send to the branch); never a patron."""

    kind: str
    barcode: str
    ok: bool
    title: str = ""
    due_on: date | None = None
    message: str = ""
    overdue: bool = False
    route: str = ""
    route_branch: queries.Localized | None = None


def _line(request: Request, scan: queries.Scan) -> CounterLine:
    return CounterLine(
        scan.kind,
        scan.barcode,
        scan.ok,
        scan.title,
        date.fromisoformat(scan.due_on) if scan.due_on else None,
        "" if scan.refusal is None else refusals.say(request, scan.refusal),
        scan.overdue,
        scan.route,
        scan.route_branch,
    )


def _counter(
    request: Request,
    state: queries.CounterState,
    mode: str,
    extra: CounterLine | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The counter page (or its #counter fragment); `extra` is a line shown first, in this
    response only (a receive is not part of the persisted scan list)."""
    lines = tuple(_line(request, s) for s in state.scans)
    if extra is not None:
        lines = (extra, *lines)
    return _page(
        request,
        "staff/counter.html",
        "staff/_counter.html",
        status_code=status_code,
        card=state.card,
        lines=lines,
        last=lines[0] if lines else None,
        mode=mode,
        kinds=SCAN_KINDS,
    )


async def counter_page(request: Request) -> Response:
    state = queries.get_counter_state(_me(request).token)
    mode = request.query_params.get("mode", "checkout")
    return _counter(request, state, mode if mode in SCAN_KINDS else "checkout")


async def _scan(request: Request, kind: str) -> Response:
    form = await checked_form(request)
    session = _me(request)
    state = queries.counter_scan(
        session.token, kind, _text(form, "card", 20), _text(form, "barcode", 32)
    )
    ok = state.last is not None and state.last.ok
    if ok and not wants_fragment(request):
        return RedirectResponse(f"/staff/counter?mode={kind}", status_code=303)
    return _counter(request, state, kind, status_code=200 if ok else 422)


async def checkout(request: Request) -> Response:
    return await _scan(request, "checkout")


async def return_item(request: Request) -> Response:
    return await _scan(request, "return")


async def renew(request: Request) -> Response:
    return await _scan(request, "renew")


async def receive(request: Request) -> Response:
    """A copy in transit arrived here: its reservation becomes ready (hold shelf)."""
    form = await checked_form(request)
    barcode = _text(form, "barcode", 32).strip()
    line: CounterLine
    if not barcode:
        missing = translator(request).gettext("Scan or type the item barcode.")
        line = CounterLine("receive", "", False, message=missing)
    else:
        try:
            routing = queries.receive_item(barcode, _me(request).actor.branch_id)
        except queries.QueryError as refused:  # NotFound, NotInTransit
            line = CounterLine("receive", barcode, False, message=refusals.say(request, refused))
        else:
            line = CounterLine(
                "receive",
                barcode,
                True,
                route=routing.state,
                route_branch=routing.branch,
            )
    state = queries.get_counter_state(_me(request).token)
    # No redirect after a receive: the line is not stored, a reload only repeats a
    # harmless refusal ("not in transit").
    return _counter(request, state, "receive", line, 200 if line.ok else 422)


async def clear(request: Request) -> Response:
    await checked_form(request)
    queries.clear_counter(_me(request).token)
    if wants_fragment(request):
        return _counter(request, queries.get_counter_state(_me(request).token), "checkout")
    return RedirectResponse("/staff/counter", status_code=303)


# Patrons ------------------------------------------------------------------------------------


async def patrons(request: Request) -> Response:
    session = _me(request)
    card = request.query_params.get("card", "")[:20].strip()
    name = request.query_params.get("name", "")[:50].strip()
    error = None
    hits: tuple[queries.PatronSummary, ...] = ()
    status = 200
    try:
        hits = queries.lookup_patrons(session.actor, card, name)
    except queries.StaffRefused as refused:
        error, status = refusals.say(request, refused), 403
    return _page(
        request,
        "staff/patrons.html",
        "staff/_patron_results.html",
        status_code=status,
        hits=hits,
        values={"card": card, "name": name},
        searched=bool(card or name),
        error=error,
    )


async def patron(request: Request) -> Response:
    session = _me(request)
    try:
        record = queries.get_patron_for_staff(
            session.actor, request.path_params["patron_id"], "patron_record"
        )
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    return _page(request, "staff/patron.html", record=record)


def _edit_values(record: queries.PatronRecord) -> dict[str, str]:
    return {
        "address": record.address or "",
        "phone": record.phone or "",
        "email": record.email or "",
        "category": record.category,
    }


async def patron_edit_page(request: Request) -> Response:
    session = _me(request)
    try:
        record = queries.get_patron_for_staff(
            session.actor, request.path_params["patron_id"], "patron_edit"
        )
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    return _page(
        request, "staff/patron_edit.html", record=record, values=_edit_values(record), errors={}
    )


async def patron_edit(request: Request) -> Response:
    form = await checked_form(request)
    session = _me(request)
    patron_id: int = request.path_params["patron_id"]
    data = queries.PatronEdit(
        address=_text(form, "address", 400),
        phone=_text(form, "phone", 40),
        email=_text(form, "email", 300),
        category=_text(form, "category", 20),
    )
    try:
        queries.update_patron_for_staff(session.actor, patron_id, data)
    except queries.StaffFormRefused as refused:
        record = queries.get_patron_for_staff(session.actor, patron_id, "patron_edit")
        return _page(
            request,
            "staff/patron_edit.html",
            status_code=422,
            record=record,
            values=data.__dict__,
            errors=refusals.say_fields(request, refused.errors),
        )
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    return RedirectResponse(f"/staff/patrons/{patron_id}?saved=1", status_code=303)


# Staff accounts -----------------------------------------------------------------------------


def _staff_input(
    request: Request, form: FormData, staff_code: str | None = None
) -> tuple[queries.StaffInput, dict[str, str]]:
    errors: dict[str, str] = {}
    ends_raw = _text(form, "ends_on", 20).strip()
    ends_on = None
    if ends_raw:
        try:
            ends_on = date.fromisoformat(ends_raw)
        except ValueError:
            errors["ends_on"] = translator(request).gettext("Use a date like 2026-03-31.")
    data = queries.StaffInput(
        staff_code=staff_code if staff_code is not None else _text(form, "staff_code", 40).strip(),
        name=_text(form, "name", 200),
        affiliation=_text(form, "affiliation", 200),
        branch_code=_text(form, "branch", 20),
        role=_text(form, "role", 20),
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
    return f"{guard.settings_of(request).public_url}/staff/enrol/{token}"


async def accounts(request: Request) -> Response:
    return _page(request, "staff/accounts.html", staff=queries.list_staff_accounts())


async def account_new_page(request: Request) -> Response:
    return _page(
        request,
        "staff/account_form.html",
        account=None,
        values=_form_values(None),
        errors={},
        branches=queries.list_branches(),
    )


async def account_new(request: Request) -> Response:
    form = await checked_form(request)
    data, errors = _staff_input(request, form)
    if not errors:
        try:
            staff_id, token = queries.create_staff_account(data)
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
    if errors:
        return _page(
            request,
            "staff/account_form.html",
            status_code=422,
            account=None,
            values=_form_values(data),
            errors=errors,
            branches=queries.list_branches(),
        )
    return _page(
        request,
        "staff/enrol_link.html",
        account=queries.get_staff_account(staff_id),
        link=_enrol_link(request, token),
    )


async def account_page(request: Request) -> Response:
    try:
        account = queries.get_staff_account(request.path_params["staff_id"])
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    return _page(
        request,
        "staff/account_form.html",
        account=account,
        values=_form_values(account),
        errors={},
        branches=queries.list_branches(),
    )


async def account_update(request: Request) -> Response:
    form = await checked_form(request)
    staff_id: int = request.path_params["staff_id"]
    try:
        account = queries.get_staff_account(staff_id)
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    data, errors = _staff_input(request, form, account.staff_code)
    if not errors:
        try:
            queries.update_staff_account(_me(request).actor.staff_id, staff_id, data)
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
    if errors:
        return _page(
            request,
            "staff/account_form.html",
            status_code=422,
            account=account,
            values=_form_values(data),
            errors=errors,
            branches=queries.list_branches(),
        )
    return RedirectResponse("/staff/accounts", status_code=303)


async def account_end(request: Request) -> Response:
    await checked_form(request)
    try:
        queries.end_staff_account(_me(request).actor.staff_id, request.path_params["staff_id"])
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    except queries.QueryError as refused:
        return _page(
            request,
            "staff/accounts.html",
            status_code=422,
            staff=queries.list_staff_accounts(),
            error=refusals.say(request, refused),
        )
    return RedirectResponse("/staff/accounts", status_code=303)


async def account_enrol_link(request: Request) -> Response:
    await checked_form(request)
    staff_id: int = request.path_params["staff_id"]
    try:
        token = queries.reissue_staff_enrol_link(_me(request).actor.staff_id, staff_id)
    except queries.NotFound:
        return _page(request, "staff/denied.html", status_code=404, missing=True)
    except queries.QueryError as refused:
        return _page(
            request,
            "staff/accounts.html",
            status_code=422,
            staff=queries.list_staff_accounts(),
            error=refusals.say(request, refused),
        )
    return _page(
        request,
        "staff/enrol_link.html",
        account=queries.get_staff_account(staff_id),
        link=_enrol_link(request, token),
    )


# Audit --------------------------------------------------------------------------------------


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def audit(request: Request) -> Response:
    params = request.query_params
    values = {
        "staff_code": params.get("staff_code", "")[:20],
        "card": params.get("card", "")[:20],
        "day_from": params.get("day_from", "")[:10],
        "day_to": params.get("day_to", "")[:10],
        "outcome": params.get("outcome", "")[:10],
    }
    bad_date = translator(request).gettext("Use a date like 2026-03-31.")
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
    return _page(
        request,
        "staff/audit.html",
        status_code=422 if errors else 200,
        rows=rows,
        values=values,
        errors=errors,
    )


ROUTES: list[BaseRoute] = [
    route("GET", "/login", login_page, "login_page"),
    route("POST", "/login", login, "login"),
    route("POST", "/logout", logout, "logout"),
    route("GET", "/enrol/{token}", enrol_page, "enrol_page"),
    route("POST", "/enrol/{token}", enrol, "enrol"),
    route("GET", "/mfa", mfa_page, "mfa_page"),
    route("POST", "/mfa", mfa, "mfa"),
    route("GET", "", home, "home"),
    route("GET", "/password", password_page, "password_page"),
    route("POST", "/password", password, "password"),
    route("GET", "/counter", counter_page, "counter"),
    route("POST", "/counter/checkout", checkout, "checkout"),
    route("POST", "/counter/return", return_item, "return"),
    route("POST", "/counter/renew", renew, "renew"),
    route("POST", "/counter/receive", receive, "receive"),
    route("POST", "/counter/clear", clear, "clear"),
    route("GET", "/patrons", patrons, "patrons"),
    route("GET", "/patrons/{patron_id:int}", patron, "patron"),
    route("GET", "/patrons/{patron_id:int}/edit", patron_edit_page, "patron_edit_page"),
    route("POST", "/patrons/{patron_id:int}/edit", patron_edit, "patron_edit"),
    route("GET", "/accounts", accounts, "accounts"),
    route("GET", "/accounts/new", account_new_page, "account_new_page"),
    route("POST", "/accounts/new", account_new, "account_new"),
    route("GET", "/accounts/{staff_id:int}", account_page, "account"),
    route("POST", "/accounts/{staff_id:int}", account_update, "account_update"),
    route("POST", "/accounts/{staff_id:int}/end", account_end, "account_end"),
    route("POST", "/accounts/{staff_id:int}/enrol-link", account_enrol_link, "account_enrol_link"),
    route("GET", "/audit", audit, "audit"),
]


def mounted(settings: Settings) -> list[BaseRoute]:
    """The /staff mount, or nothing when SHIORI_STAFF_CONSOLE=false (then /staff is 404)."""
    if not settings.staff_console:
        return []
    return [
        Mount(guard.PREFIX, routes=ROUTES, middleware=[Middleware(guard.NoStore)], name="staff")
    ]
