"""Staff login with a second factor, logout, enrolment by a one-time link, the console's
home page, and a staff member's own password."""

from __future__ import annotations

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import client, devices, forms, refusals
from web.forms import text
from web.i18n import translator
from web.link_tokens import LinkCookie
from web.sessions import STAFF, clear_cookie, forget_staff, set_cookie, settings_of, staff
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other


async def login_page(request: Request) -> Response:
    if staff(request) is not None:
        return see_other(request, "staff:home")
    return page(request, "staff/login.html", values={"staff_code": ""}, error=None)


def _account(staff_code: str) -> str:
    return f"staff:{staff_code.casefold()}"


async def login(request: Request) -> Response:
    form = await forms.read(request)
    code = forms.typed_code(form, "staff_code", 20)  # Ｓ００２ logs in as S002
    settings = settings_of(request)
    try:
        result = queries.staff_log_in(
            code,
            text(form, "password", 1024),
            client.address(request),
            STAFF.timeouts(settings, False),
            devices.known(request, _account(code)),
        )
    except queries.StaffLoginFailed as refused:
        return page(
            request,
            "staff/login.html",
            status_code=422,
            values={"staff_code": code},
            error=refusals.say(request, refused),
        )
    response = see_other(request, "staff:mfa_page")
    set_cookie(response, settings, STAFF, result.token)
    return response


async def logout_page(request: Request) -> Response:
    """GET /staff/logout: the logout button (a POST with the token), or that no one is
    logged in on this browser."""
    return page(request, "staff/logout.html", logged_in=staff(request) is not None)


async def logout(request: Request) -> Response:
    queries.staff_log_out(me(request).token)
    response = see_other(request, "staff:login_page")
    clear_cookie(response, settings_of(request), STAFF)
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


ENROL_COOKIE = LinkCookie("shiori_enrol", "staff:enrol_page")


def _link_refused(request: Request, refused: queries.EnrolLinkRefused) -> Response:
    """An enrolment link that is unknown, used or expired: 404, with why."""
    return page(
        request,
        "staff/enrol.html",
        status_code=404,
        error=refusals.say(request, refused),
        staff_code="",
        errors={},
    )


async def enrol_link(request: Request) -> Response:
    """The link a manager hands over: its token moves into a cookie, out of the URL."""
    return ENROL_COOKIE.exchange(request, str(request.path_params["token"]))


async def enrol_page(request: Request) -> Response:
    token = ENROL_COOKIE.token(request)
    try:
        staff_code = queries.check_staff_enrol_link(token, client.address(request))
    except queries.EnrolLinkRefused as refused:
        return _link_refused(request, refused)
    return page(request, "staff/enrol.html", error=None, staff_code=staff_code, errors={})


async def enrol(request: Request) -> Response:
    form = await forms.read(request)
    token = ENROL_COOKIE.token(request)
    new = text(form, "new_password", 1024)
    settings = settings_of(request)
    errors: dict[str, str] = {}
    if new != text(form, "new_password_again", 1024):
        errors["new_password_again"] = translator(request).gettext(
            "The two new passwords are not the same."
        )
    else:
        try:
            result = queries.enrol_staff(token, new, STAFF.timeouts(settings, False))
        except queries.EnrolLinkRefused as refused:
            return _link_refused(request, refused)
        except queries.PasswordRejected as rejected:
            errors["new_password"] = refusals.say(request, rejected)
    if errors:
        return page(
            request, "staff/enrol.html", status_code=422, error=None, staff_code="", errors=errors
        )
    response = see_other(request, "staff:mfa_page")
    set_cookie(response, settings, STAFF, result.token)
    ENROL_COOKIE.forget(request, response)
    return response


def _qr_data_uri(uri: str) -> str:
    # An <img> with a data: URI: allowed by the CSP (img-src 'self' data:), no inline style.
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


async def mfa_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    session = me(request)
    if session.info.totp_enrolled:
        return page(
            request, "staff/mfa.html", status_code=status, enrolment=None, qr="", error=error
        )
    enrolment = queries.begin_totp_enrolment(session.token)
    return page(
        request,
        "staff/mfa.html",
        status_code=status,
        enrolment=enrolment,
        qr=_qr_data_uri(enrolment.uri),
        error=error,
    )


async def mfa(request: Request) -> Response:
    form = await forms.read(request)
    session = me(request)
    code = text(form, "code", 40)
    timeouts = STAFF.timeouts(settings_of(request), False)
    try:
        if session.info.totp_enrolled:
            result = queries.pass_second_factor(session.token, code, timeouts)
            codes: tuple[str, ...] = ()
        else:
            result, codes = queries.confirm_totp(session.token, code, timeouts)
    except queries.SecondFactorFailed as refused:
        return await mfa_page(request, refusals.say(request, refused), 422)
    if codes:
        # Shown once, on this response only: only their digests are kept.
        forget_staff(request)
        response: Response = page(request, "staff/recovery_codes.html", codes=codes)
    else:
        response = see_other(request, "staff:home")
    set_cookie(response, settings_of(request), STAFF, result.token)
    # Both factors passed: this browser is the member's device (web.devices).
    devices.remember(request, response, _account(session.actor.staff_code))
    return response


async def home(request: Request) -> Response:
    return page(request, "staff/home.html")


async def password_page(request: Request) -> Response:
    return page(request, "staff/password.html", errors={}, done=False)


async def password(request: Request) -> Response:
    form = await forms.read(request)
    session = me(request)
    new = text(form, "new_password", 1024)
    errors: dict[str, str] = {}
    if new != text(form, "new_password_again", 1024):
        errors["new_password_again"] = translator(request).gettext(
            "The two new passwords are not the same."
        )
    else:
        try:
            queries.change_staff_password(
                session.actor.staff_id, text(form, "current_password", 1024), new, session.token
            )
        except queries.StaffFormRefused as refused:
            errors = refusals.say_fields(request, refused.errors)
        except queries.QueryError as refused:
            errors = {"current_password": refusals.say(request, refused)}
    if errors:
        return page(request, "staff/password.html", status_code=422, errors=errors, done=False)
    return page(request, "staff/password.html", errors={}, done=True)


routes: list[BaseRoute] = [
    route("GET", "/login", login_page, "login_page"),
    route("POST", "/login", login, "login"),
    route("GET", "/logout", logout_page, "logout_page"),
    route("POST", "/logout", logout, "logout"),
    route("GET", "/enrol/{token}", enrol_link, "enrol_link"),
    route("GET", "/enrol", enrol_page, "enrol_page"),
    route("POST", "/enrol", enrol, "enrol"),
    route("GET", "/mfa", mfa_page, "mfa_page"),
    route("POST", "/mfa", mfa, "mfa"),
    route("GET", "", home, "home"),
    route("GET", "/password", password_page, "password_page"),
    route("POST", "/password", password, "password"),
]
