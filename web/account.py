"""Logging in and out, the patron's devices, and changing the password."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db import queries
from web import booklist, client, devices, forms, hold_undo, refusals, terminals
from web.flash import flash
from web.guard import patron_route
from web.i18n import N_, translator
from web.lang import safe_next
from web.sessions import PATRON, Current, clear_cookie, current, set_cookie, settings_of
from web.templating import path_for, render, see_other, wants_fragment

LOGIN_FIELDS = ("card", "password")


async def login_page(request: Request) -> Response:
    my = path_for(request, "my")
    if current(request) is not None:
        return RedirectResponse(my, status_code=303)
    return render(
        request,
        "account/login.html",
        ctx={
            "values": {"card": "", "next": safe_next(request.query_params.get("next", my))},
            "error": None,
        },
    )


async def login(request: Request) -> Response:
    form = await forms.read(request)
    my = path_for(request, "my")
    card = forms.card(form, "card")
    password = str(form.get("password", ""))[:1024]
    # The terminal decides, not the patron: on a kiosk every login is a shared one.
    kiosk = terminals.kiosk(request) is not None
    next_url = safe_next(str(form.get("next", my)))
    values = {"card": card, "next": next_url}
    missing = _missing(request, card, password)
    if missing:
        # Nothing to check yet: say what is missing next to its field (not a refusal).
        return render(
            request,
            "account/login.html",
            status_code=422,
            ctx={"values": values, "error": None, "errors": missing},
        )
    settings = settings_of(request)
    account = f"patron:{card}"
    try:
        result = queries.log_in(
            card,
            password,
            client.address(request),
            client.device(request),
            kiosk,
            PATRON.timeouts(settings, kiosk),
            devices.known(request, account),
        )
    except queries.LoginFailed as refused:
        # The same answer for an unknown card, a wrong password and a throttled card.
        return render(
            request,
            "account/login.html",
            status_code=422,
            ctx={"values": values, "error": refusals.say(request, refused)},
        )
    response = RedirectResponse(next_url if next_url != "/" else my, status_code=303)
    set_cookie(response, settings, PATRON, result.token)
    if not kiosk:  # a shared terminal is nobody's device
        devices.remember(request, response, account)
    return response


def _missing(request: Request, card: str, password: str) -> dict[str, str]:
    tr = translator(request)
    errors = {}
    if not card:
        errors["card"] = tr.gettext("Enter your library card number.")
    if not password:
        errors["password"] = tr.gettext("Enter your password.")
    return errors


async def logout_page(request: Request) -> Response:
    """GET /logout (a typed or bookmarked address): logging out changes state, so it takes
    the POST; this page offers that button, or says the browser is not logged in."""
    return render(request, "account/logout.html")


async def logout(request: Request) -> Response:
    session = current(request)
    return _log_out(
        request, session.token if session else None, shared=session is None or session.kiosk
    )


def _log_out(request: Request, token: str | None, *, shared: bool) -> Response:
    if token is not None:
        queries.log_out(token)
    on_kiosk = terminals.kiosk(request) is not None
    # A query flag, not a flash cookie: Clear-Site-Data may drop every cookie of the site.
    response = see_other(request, "kiosk" if on_kiosk else "home", "logged_out=1")
    if wants_fragment(request):
        # Leave the page, not a swap.
        response.headers["HX-Redirect"] = response.headers["location"]
    clear_cookie(response, settings_of(request), PATRON)
    # Clear-Site-Data keeps cookies on a kiosk: the undo note must not reach the next person.
    hold_undo.forget(request, response)
    # The browser drops cached pages and storage: nothing personal for the next person. A
    # shared computer loses every cookie too; the patron's own browser keeps its device
    # cookie (web/devices.py), or logging out would give up its protection from lockouts,
    # and a kiosk keeps its terminal cookie (it never gets a device cookie).
    shared = shared and not on_kiosk
    kinds = '"cache", "cookies", "storage"' if shared else '"cache", "storage"'
    response.headers["Clear-Site-Data"] = kinds
    return response


async def sessions_page(request: Request, session: Current) -> Response:
    listing = queries.list_my_sessions(session.patron_id, session.token)
    return render(
        request, "account/sessions.html", "account/_sessions.html", ctx={"sessions": listing}
    )


async def end_session(request: Request, session: Current) -> Response:
    handle = request.path_params["handle"]
    own = [s for s in queries.list_my_sessions(session.patron_id, session.token) if s.current]
    if own and own[0].handle == handle:
        return _log_out(request, session.token, shared=session.kiosk)  # ending this device
    queries.end_my_session(session.patron_id, handle)
    return _after_sessions_change(request, session, N_("That device is logged out."))


async def end_other_sessions(request: Request, session: Current) -> Response:
    queries.end_my_other_sessions(session.patron_id, session.token)
    return _after_sessions_change(request, session, N_("All your other devices are logged out."))


def _after_sessions_change(request: Request, session: Current, notice: str) -> Response:
    if wants_fragment(request):
        listing = queries.list_my_sessions(session.patron_id, session.token)
        return render(
            request,
            "account/sessions.html",
            "account/_sessions.html",
            ctx={"sessions": listing, "notice": translator(request).gettext(notice)},
        )
    response = see_other(request, "sessions")
    flash(request, response, notice)
    return response


async def change_password_page(request: Request, session: Current) -> Response:
    return render(
        request, "account/change_password.html", ctx={"errors": {}, "logout_others": True}
    )


async def change_password(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    new = str(form.get("new_password", ""))
    errors: dict[str, str] = {}
    if new != str(form.get("new_password_again", "")):
        errors["new_password_again"] = translator(request).gettext(
            "The two new passwords are not the same."
        )
    logout_others = form.get("logout_others") == "1"
    if not errors:
        try:
            # The browser re-wrapped the My Booklist key with the new password (booklist.js).
            queries.change_password_with_booklist(
                session.patron_id,
                str(form.get("current_password", "")),
                new,
                logout_others,
                session.token,
                booklist.wrap_from_form(form),
            )
        except queries.PasswordRejected as rejected:
            errors["new_password"] = refusals.say(request, rejected)
        except queries.BooklistRefused as refused:
            errors["booklist"] = refusals.say(request, refused)
        except queries.QueryError as refused:
            errors["current_password"] = refusals.say(request, refused)
    if errors:
        return render(
            request,
            "account/change_password.html",
            status_code=422,
            ctx={"errors": errors, "logout_others": logout_others},
        )
    response = see_other(request, "my")
    flash(request, response, N_("Your password was changed."))
    return response


async def confirm_email(request: Request, session: Current) -> Response:
    """Only a patron logged in with their own password can make a recorded address theirs."""
    form = await forms.read(request)
    done = queries.confirm_pending_email(session.patron_id, forms.text(form, "address", 300))
    return _after_email_answer(request, done, N_("Your email address is now the new one."))


async def decline_email(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    done = queries.decline_pending_email(session.patron_id, forms.text(form, "address", 300))
    return _after_email_answer(
        request, done, N_("The new address was dropped; nothing is sent to it.")
    )


def _after_email_answer(request: Request, done: bool, notice: str) -> Response:
    response = see_other(request, "my")
    # Not done: the library recorded another address since the page was shown.
    flash(request, response, notice if done else N_("The address to confirm has changed."))
    return response


routes = [
    Route("/login", login_page, methods=["GET"], name="login_page"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout_page, methods=["GET"], name="logout_page"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    patron_route("/my/sessions", sessions_page, methods=["GET"], name="sessions"),
    patron_route(
        "/my/sessions/end-others", end_other_sessions, methods=["POST"], name="end_other_sessions"
    ),
    patron_route("/my/sessions/{handle}/end", end_session, methods=["POST"], name="end_session"),
    patron_route(
        "/my/password", change_password_page, methods=["GET"], name="change_password_page"
    ),
    patron_route("/my/password", change_password, methods=["POST"], name="change_password"),
    patron_route("/my/email/confirm", confirm_email, methods=["POST"], name="confirm_email"),
    patron_route("/my/email/decline", decline_email, methods=["POST"], name="decline_email"),
]
