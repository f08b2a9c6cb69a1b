"""Setting a web password without one: first time from the web (card + birth date + phone),
with a code from the counter, or by an emailed link when it is forgotten."""

from __future__ import annotations

from datetime import date

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web import client, forms, refusals, structured
from web.flash import flash
from web.i18n import N_, Translator, translator
from web.link_tokens import LinkCookie
from web.templating import path_for, render, see_other

RESET_COOKIE = LinkCookie("shiori_reset", "password_reset_page")


def _text(form: FormData, name: str, limit: int = 100) -> str:
    return forms.text(form, name, limit).strip()


def _new_password(tr: Translator, form: FormData, errors: dict[str, str]) -> str:
    new = str(form.get("new_password", ""))[:1024]
    if new != str(form.get("new_password_again", ""))[:1024]:
        errors["new_password_again"] = tr.gettext("The two new passwords are not the same.")
    return new


def _birth_date(tr: Translator, form: FormData, errors: dict[str, str]) -> date | None:
    """The birth date's three boxes, the year in 西暦 or 和暦 (2014, 平成26, H26) as
    registration reads it; what is accepted is said when it is not understood."""
    born = forms.calendar_date_of_parts(
        *(_text(form, name) for name in ("birth_year", "birth_month", "birth_day"))
    )
    if born is None:
        errors["birth_date"] = tr.gettext(
            "Check the birth date: the year in the Western or Japanese calendar (e.g. 2014, "
            "平成26 or H26), the month and the day as numbers."
        )
    return born


def _done(request: Request) -> Response:
    response = see_other(request, "login_page")
    flash(request, response, N_("Your password is set. Log in with it now."))
    return response


async def index(request: Request) -> Response:
    return render(request, "password/index.html")


async def first_page(request: Request) -> Response:
    return render(request, "password/first.html", ctx={"values": {}, "errors": {}})


async def first(request: Request) -> Response:
    form = await forms.read(request)
    tr = translator(request)
    errors: dict[str, str] = {}
    values = {k: _text(form, k) for k in ("birth_year", "birth_month", "birth_day", "phone")}
    values["card"] = forms.card(form, "card")
    birth = _birth_date(tr, form, errors)
    new = _new_password(tr, form, errors)
    for name in ("card", "phone"):
        if not values[name]:
            errors[name] = tr.gettext("This is required.")
    if not errors and birth is not None:
        try:
            queries.set_first_password(
                values["card"], birth, values["phone"], new, client.address(request)
            )
        except queries.PasswordRejected as rejected:
            errors["new_password"] = refusals.say(request, rejected)
        except queries.FactsRefused as refused:
            errors["form"] = refusals.say(request, refused)
    if errors:
        return render(
            request,
            "password/first.html",
            status_code=422,
            ctx={"values": values, "errors": errors},
        )
    return _done(request)


async def code_page(request: Request) -> Response:
    return render(request, "password/code.html", ctx={"values": {}, "errors": {}})


async def code(request: Request) -> Response:
    form = await forms.read(request)
    tr = translator(request)
    errors: dict[str, str] = {}
    values = {"card": forms.card(form, "card"), "code": _text(form, "code", 40)}
    new = _new_password(tr, form, errors)
    for name in ("card", "code"):
        if not values[name]:
            errors[name] = tr.gettext("This is required.")
    if not errors:
        try:
            queries.set_password_with_code(
                values["card"], values["code"], new, client.address(request)
            )
        except queries.PasswordRejected as rejected:
            errors["new_password"] = refusals.say(request, rejected)
        except queries.CodeRefused as refused:
            errors["form"] = refusals.say(request, refused)
    if errors:
        return render(
            request, "password/code.html", status_code=422, ctx={"values": values, "errors": errors}
        )
    return _done(request)


async def forgot_page(request: Request) -> Response:
    return render(request, "password/forgot.html", ctx={"values": {}, "errors": {}, "sent": False})


async def forgot(request: Request) -> Response:
    form = await forms.read(request)
    values = {"card": forms.card(form, "card"), "email": _text(form, "email", 254)}
    required = translator(request).gettext("This is required.")
    errors = {name: required for name, value in values.items() if not value}
    if errors:
        return render(
            request,
            "password/forgot.html",
            status_code=422,
            ctx={"values": values, "errors": errors, "sent": False},
        )
    base = structured.base_url(request)
    reset_page = path_for(request, "password_reset_page")

    def make_link(token: str) -> str:
        return f"{base}{reset_page}?token={token}"

    queries.request_password_reset(
        values["card"], values["email"], client.address(request), make_link
    )
    # The same page whether or not anything was sent: no hint about cards or addresses.
    return render(request, "password/forgot.html", ctx={"values": {}, "errors": {}, "sent": True})


def _unusable(request: Request) -> Response:
    """The link is used, expired or made up: said on GET as on POST, and its cookie goes."""
    return RESET_COOKIE.refuse(
        request,
        "password/reset.html",
        {"errors": {}, "valid": False, "booklist_outlook": "none"},
    )


async def reset_page(request: Request) -> Response:
    if "token" in request.query_params:
        return RESET_COOKIE.exchange(request, request.query_params["token"])
    try:
        outlook = queries.check_reset_link(RESET_COOKIE.token(request))
    except queries.ResetLinkRefused:
        return _unusable(request)
    return render(
        request,
        "password/reset.html",
        ctx={"errors": {}, "valid": True, "booklist_outlook": outlook},
    )


async def reset(request: Request) -> Response:
    form = await forms.read(request)
    token = RESET_COOKIE.token(request)
    errors: dict[str, str] = {}
    new = _new_password(translator(request), form, errors)
    try:
        outlook = queries.check_reset_link(token)
        if not errors:
            queries.reset_password_with_booklist(
                token, new, form.get("booklist_loss_confirmed") == "1"
            )
    except queries.ResetLinkRefused:
        return _unusable(request)
    except queries.PasswordRejected as rejected:
        errors["new_password"] = refusals.say(request, rejected)
    except queries.BooklistLossUnconfirmed as unconfirmed:
        errors["booklist_loss_confirmed"] = refusals.say(request, unconfirmed)
    if errors:
        return render(
            request,
            "password/reset.html",
            status_code=422,
            ctx={"errors": errors, "valid": True, "booklist_outlook": outlook},
        )
    response = _done(request)
    RESET_COOKIE.forget(request, response)
    return response


routes = [
    Route("/password", index, methods=["GET"], name="password"),
    Route("/password/first", first_page, methods=["GET"], name="password_first_page"),
    Route("/password/first", first, methods=["POST"], name="password_first"),
    Route("/password/code", code_page, methods=["GET"], name="password_code_page"),
    Route("/password/code", code, methods=["POST"], name="password_code"),
    Route("/password/forgot", forgot_page, methods=["GET"], name="password_forgot_page"),
    Route("/password/forgot", forgot, methods=["POST"], name="password_forgot"),
    Route("/password/reset", reset_page, methods=["GET"], name="password_reset_page"),
    Route("/password/reset", reset, methods=["POST"], name="password_reset"),
]
