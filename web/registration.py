"""Pre-registration for a library card (利用者仮登録申請, issue 13): the applicant's pages.

`/register` is a plain form that works without JavaScript; with htmx each field is checked
as it is left (`/register/check?field=…` answers with that field's partial; the birth date
also suggests a category and the postal code fills the prefecture and city, out of band).
A failed submit answers 422 with everything typed kept and a message next to each field.

Anti-automation without outside services: the form carries a signed start time and a
submit sooner than MIN_FILL_SECONDS after it is refused (kindly: a person can send it
again); a honeypot field hidden from people must stay empty; submissions are throttled per
client address in the database (db.applications.SUBMIT_ADDRESS).

After a submit the receipt number travels in a short-lived signed HttpOnly cookie (not the
address bar) to `/register/receipt`, which shows it with its QR code (segno, inline SVG).
With an email the applicant is first sent a single-use link (`/register/confirm`, traded
for a cookie like a password-reset link, then confirmed by a POST: no change on GET).
"""

from __future__ import annotations

import time
from typing import Any

import segno
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web import client, forms, refusals, structured
from web.i18n import translator
from web.link_tokens import LinkCookie
from web.sessions import settings_of
from web.templating import path_for, render, see_other, wants_fragment

CONFIRM_COOKIE = LinkCookie("shiori_application", "register_confirm_page")
RECEIPT_COOKIE = "shiori_receipt"
RECEIPT_COOKIE_SECONDS = 24 * 3600
MIN_FILL_SECONDS = 3
HONEYPOT = "website"
# What an applicant typed is never kept by a browser cache or a proxy.
NO_STORE = {"Cache-Control": "no-store"}

_LIMITS = {"address": 300, "email": 254, "home_branch": 20, "category": 20}


def _started_signer(request: Request) -> Signer:
    return Signer(settings_of(request).secret_key, salt="shiori.register.started")


def started_token(request: Request, at: float | None = None) -> str:
    """The signed time the form was handed out (seconds since the epoch)."""
    moment = int(time.time() if at is None else at)
    return _started_signer(request).sign(str(moment)).decode()


def _signed(request: Request, token: str) -> int | None:
    """The start time a form carries, if this site signed it."""
    try:
        return int(_started_signer(request).unsign(token))
    except (BadSignature, ValueError):
        return None


def _filled_too_fast(request: Request, form: FormData) -> bool:
    started = _signed(request, forms.text(form, "started", 100))
    return started is None or time.time() - started < MIN_FILL_SECONDS


def _receipt_serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings_of(request).secret_key, salt="shiori.register.receipt")


# The category the page last suggested: while the applicant has not chosen another, a
# changed birth date suggests again.
SUGGESTED = "suggested_category"


def _values(form: FormData) -> dict[str, str]:
    return {
        name: forms.text(form, name, _LIMITS.get(name, 100))
        for name in (*queries.APPLICATION_FIELDS, "consent", SUGGESTED)
    }


def _fields(values: dict[str, str]) -> queries.ApplicationFields:
    return queries.ApplicationFields(
        name=values["name"],
        name_kana=values["name_kana"],
        birth_date=forms.calendar_date(values["birth_date"]),
        postal_code=values["postal_code"],
        address=values["address"],
        phone=values["phone"],
        email=values["email"],
        category=values["category"],
        home_branch=values["home_branch"],
    )


def _form_context(
    request: Request, values: dict[str, str], errors: dict[str, str], started: str = ""
) -> dict[str, Any]:
    born = forms.calendar_date(values.get("birth_date", ""))
    return {
        "values": values,
        "errors": errors,
        "born": born,
        "branches": queries.list_branches(),
        "categories": queries.list_category_codes(),
        # A form sent back keeps its start time: the minimum fill time counts from the first view.
        "started": started or started_token(request),
        "area": queries.find_postal_area(values.get("postal_code", "")),
        "days": settings_of(request).application_days,
        "hours": queries.APPLICATION_EMAIL_LINK_HOURS,
    }


def _with_suggested_category(values: dict[str, str]) -> dict[str, str]:
    """The category the birth date suggests, when none was chosen or the one chosen is the
    page's own earlier suggestion (the birth date was corrected)."""
    born = forms.calendar_date(values["birth_date"])
    chosen = values["category"] and values["category"] != values[SUGGESTED]
    if chosen or born is None:
        return values
    suggestion = queries.suggest_category(born)
    return {**values, "category": suggestion, SUGGESTED: suggestion}


async def form_page(request: Request) -> Response:
    values = dict.fromkeys((*queries.APPLICATION_FIELDS, "consent", SUGGESTED), "")
    return render(request, "registration/form.html", ctx=_form_context(request, values, {}))


async def privacy_page(request: Request) -> Response:
    return render(
        request,
        "registration/privacy.html",
        ctx={
            "days": settings_of(request).application_days,
            "hours": queries.APPLICATION_EMAIL_LINK_HOURS,
        },
    )


async def check(request: Request) -> Response:
    """One field checked as it is left: its partial (htmx), or the whole form without it."""
    field = forms.query(request, "field", 20)
    if field not in queries.APPLICATION_FIELDS:
        field = "name"
    values = _values(await forms.read(request))
    refusal = queries.check_application_field(field, _fields(values))
    errors = refusals.say_fields(request, {field: refusal} if refusal else {})
    if field == "birth_date":
        values = _with_suggested_category(values)
    area = queries.find_postal_area(values["postal_code"])
    fill_address = field == "postal_code" and area is not None and not values["address"].strip()
    if fill_address and area is not None:
        values = {**values, "address": area.prefecture + area.city}
    ctx = _form_context(request, values, errors)
    ctx.update(checked_field=field, fill_address=fill_address)
    status = 422 if errors and not wants_fragment(request) else 200
    return render(
        request, "registration/form.html", "registration/_check.html", ctx, status, NO_STORE
    )


async def submit(request: Request) -> Response:
    form = await forms.read(request)
    values = _with_suggested_category(_values(form))
    errors: dict[str, str] = {}
    if forms.text(form, HONEYPOT, 200) or _filled_too_fast(request, form):
        errors["form"] = refusals.words(
            translator(request), queries.Refusal("application_too_fast")
        )
    fields = _fields(values)
    if values["consent"] != "yes":
        errors["consent"] = refusals.words(translator(request), queries.Refusal("consent_required"))
    base = structured.base_url(request)
    confirm_page = path_for(request, "register_confirm_page")

    def make_link(token: str) -> str:
        return f"{base}{confirm_page}?token={token}"

    receipt = None
    try:
        if errors:  # the rest still gets its messages
            for name in queries.APPLICATION_FIELDS:
                refusal = queries.check_application_field(name, fields)
                if refusal is not None:
                    errors[name] = refusals.words(translator(request), refusal)
        else:
            receipt = queries.submit_application(
                fields,
                client=client.address(request),
                days=settings_of(request).application_days,
                lang=translator(request).lang,
                make_link=make_link,
            )
    except queries.ApplicationRefused as refused:
        errors.update(refusals.say_fields(request, refused.errors))
        errors.setdefault("form", refusals.say(request, refused))
    except queries.SubmitThrottled as throttled:
        errors["form"] = refusals.say(request, throttled)
    if receipt is None:
        errors.setdefault(
            "form", refusals.words(translator(request), queries.Refusal("check_fields"))
        )
        kept = forms.text(form, "started", 100)
        return render(
            request,
            "registration/form.html",
            ctx=_form_context(request, values, errors, kept if _signed(request, kept) else ""),
            status_code=422,
            headers=NO_STORE,
        )
    if not receipt.counted:
        return see_other(request, "register_sent_page")
    return _to_receipt(request, receipt.receipt_number)


def _to_receipt(request: Request, receipt_number: str) -> Response:
    response = see_other(request, "register_receipt_page")
    response.set_cookie(
        RECEIPT_COOKIE,
        _receipt_serializer(request).dumps(receipt_number),
        max_age=RECEIPT_COOKIE_SECONDS,
        path=path_for(request, "register_receipt_page"),
        secure=settings_of(request).https,
        httponly=True,
        samesite="lax",
    )
    return response


async def sent_page(request: Request) -> Response:
    return render(
        request, "registration/sent.html", ctx={"hours": queries.APPLICATION_EMAIL_LINK_HOURS}
    )


def _link_unusable(request: Request) -> Response:
    message = refusals.words(translator(request), queries.Refusal("application_link_refused"))
    return CONFIRM_COOKIE.refuse(request, "registration/unusable.html", {"message": message})


async def confirm_page(request: Request) -> Response:
    return CONFIRM_COOKIE.landing(request, "registration/confirm.html", _link_unusable)


async def confirm(request: Request) -> Response:
    try:
        receipt = queries.confirm_application_email(CONFIRM_COOKIE.token(request))
    except queries.ApplicationLinkRefused:
        return _link_unusable(request)
    response = _to_receipt(request, receipt.receipt_number)
    CONFIRM_COOKIE.forget(request, response)
    return response


def qr_svg(receipt_number: str) -> str:
    """The receipt number as a QR code, inline SVG (what the counter's scanner reads)."""
    code = segno.make(receipt_number, error="m")
    return str(code.svg_inline(scale=4, border=4, omitsize=True, svgclass="receipt-qr"))


async def receipt_page(request: Request) -> Response:
    raw = request.cookies.get(RECEIPT_COOKIE, "")[:200]
    try:
        number = str(_receipt_serializer(request).loads(raw, max_age=RECEIPT_COOKIE_SECONDS))
        receipt = queries.get_application_receipt(number)
    except (BadSignature, queries.NotFound):
        # No receipt in this browser (another device, expired, or deleted): said as a page.
        message = refusals.words(translator(request), queries.Refusal("application_not_found"))
        return render(
            request, "registration/unusable.html", ctx={"message": message}, status_code=400
        )
    branch = next((b for b in queries.list_branches() if b.code == receipt.home_branch), None)
    return render(
        request,
        "registration/receipt.html",
        ctx={
            "receipt": receipt,
            "number": queries.format_receipt_number(receipt.receipt_number),
            "qr": qr_svg(receipt.receipt_number),
            "branch": branch,
        },
        headers=NO_STORE,
    )


routes = [
    Route("/register", form_page, methods=["GET"], name="register_page"),
    Route("/register", submit, methods=["POST"], name="register"),
    Route("/register/check", check, methods=["POST"], name="register_check"),
    Route("/register/privacy", privacy_page, methods=["GET"], name="register_privacy"),
    Route("/register/sent", sent_page, methods=["GET"], name="register_sent_page"),
    Route("/register/confirm", confirm_page, methods=["GET"], name="register_confirm_page"),
    Route("/register/confirm", confirm, methods=["POST"], name="register_confirm"),
    Route("/register/receipt", receipt_page, methods=["GET"], name="register_receipt_page"),
]
