"""My data (/my/data, issue 16): everything the library holds about the patron, in plain
words; correcting the email (a single-use link), the phone, and asking for an address
change; the download of all of it (JSON, CSV); the notice settings (/my/notices); and
deleting the account.

The page and both downloads are built from the same `Section`s, so the download holds
exactly what the page shows, and nothing of anybody else: every value comes from a query
filtered by the logged-in patron. A feature that keeps more about a patron adds a section
with one line to `EXTRA_SECTIONS` (a function of the request and the patron id).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web import forms, hold_undo, refusals, structured
from web.csv_download import csv_download
from web.errors import error_response
from web.flash import flash
from web.guard import patron_route
from web.i18n import N_, Translator, translator
from web.labels import label
from web.link_tokens import LinkCookie
from web.sessions import PATRON, Current, clear_cookie, settings_of
from web.templating import path_for, render, see_other

EMAIL_COOKIE = LinkCookie("shiori_email", "my_email_confirm_page")
DEFAULT_REMINDER_DAYS = 3  # the due-soon mail's day count when the patron turns it on


@dataclass(frozen=True)
class Value:
    """One value held: its key (the download's), its label and its words (the page's), and
    its plain value for JSON (ISO dates, numbers, text, None)."""

    key: str
    label: str
    text: str
    value: Any


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    records: tuple[tuple[Value, ...], ...]
    single: bool = False  # one record (the registration): shown as a list of values
    empty: str = ""  # the words when there are no records
    link: tuple[str, str] | None = None  # (route name, words) of the page that manages it
    note: str = ""


# Sections that other features add: (request, patron id) -> Section. One line each.
EXTRA_SECTIONS: list[Callable[[Request, int], Section]] = []


@dataclass
class _Builder:
    tr: Translator
    values: list[Value] = field(default_factory=list)

    def add(self, key: str, label_text: str, value: Any, text: str | None = None) -> None:
        if text is None:
            text = self._words(value)
        self.values.append(Value(key, label_text, text, _plain(value)))

    def _words(self, value: Any) -> str:
        if value is None or value == "":
            return self.tr.pgettext("my data", "none")
        if isinstance(value, bool):
            return self.tr.gettext("Yes") if value else self.tr.gettext("No")
        if isinstance(value, datetime):
            return self.tr.datetime(value)
        if isinstance(value, date):
            return self.tr.date(value)
        return str(value)

    def done(self) -> tuple[Value, ...]:
        return tuple(self.values)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, queries.Localized):
        return value.get("ja")
    return value


def _registration(tr: Translator, data: queries.MyData) -> Section:
    b = _Builder(tr)
    b.add("card_number", tr.gettext("Library card number"), data.card_number)
    b.add("name", tr.gettext("Name"), data.name)
    b.add("name_kana", tr.gettext("Name in katakana (furigana)"), data.name_kana)
    b.add("birth_date", tr.gettext("Date of birth"), data.birth_date)
    b.add("address", tr.gettext("Address"), data.address)
    b.add("phone", tr.gettext("Phone"), data.phone)
    b.add("email", tr.gettext("Email"), data.email)
    if data.email_waiting:
        b.add("email_waiting", tr.gettext("New email waiting for its link"), data.email_waiting)
    if data.email_recorded:
        b.add("email_recorded", tr.gettext("Email recorded at a counter"), data.email_recorded)
    if data.address_change:
        change = data.address_change
        b.add(
            "address_change",
            tr.gettext("Address change waiting for the counter"),
            f"{change.postal_code} {change.address}",
            f"〒{change.postal_code[:3]}-{change.postal_code[3:]} {change.address}",
        )
    b.add(
        "category",
        tr.gettext("Category"),
        data.category,
        label(tr, "category", data.category),
    )
    b.add(
        "home_branch", tr.gettext("Home library"), data.home_branch, data.home_branch.get(tr.lang)
    )
    b.add("language", tr.gettext("Language of mail"), data.lang, tr.language_name(data.lang))
    b.add("registered_on", tr.gettext("Registered on"), data.registered_on)
    b.add("expires_on", tr.gettext("Card valid until"), data.expires_on)
    b.add("last_used_at", tr.gettext("Last used"), data.last_used_at)
    b.add("last_loan_on", tr.gettext("Last borrowed"), data.last_loan_on)
    b.add(
        "purge_on",
        tr.gettext("Deleted if unused"),
        data.purge_on,
        tr.gettext(
            "This record will be deleted on %(date)s if you do not borrow before then.",
            date=tr.date(data.purge_on),
        ),
    )
    return Section(
        "registration",
        tr.gettext("Your registration"),
        (b.done(),),
        single=True,
        note=tr.gettext(
            "The library deletes a registration three years after the last loan (or after "
            "registering, for someone who never borrowed). Borrowing anything moves the date."
        ),
    )


def _loans(tr: Translator, patron_id: int) -> Section:
    records = []
    for loan in queries.list_loans(patron_id):
        b = _Builder(tr)
        b.add("title", tr.gettext("Title"), loan.title)
        b.add("barcode", tr.gettext("Barcode"), loan.barcode)
        b.add("branch", tr.gettext("Library"), loan.branch, loan.branch.get(tr.lang))
        b.add("checked_out_at", tr.gettext("Borrowed"), loan.checked_out_at)
        b.add("due_on", tr.gettext("Due"), loan.due_on)
        b.add("renewals", tr.gettext("Renewals"), loan.renewals)
        records.append(b.done())
    return Section(
        "loans",
        tr.gettext("Loans"),
        tuple(records),
        empty=tr.gettext("Nothing on loan."),
        link=("loans", tr.gettext("Your loans")),
        note=tr.gettext("A returned item leaves no record of you: there is no reading history."),
    )


def _holds(tr: Translator, patron_id: int) -> Section:
    records = []
    for hold in queries.list_holds(patron_id):
        b = _Builder(tr)
        b.add("title", tr.gettext("Title"), hold.title)
        b.add("pickup", tr.gettext("Pickup library"), hold.pickup, hold.pickup.get(tr.lang))
        b.add("placed_at", tr.gettext("Reserved"), hold.placed_at)
        b.add("state", tr.gettext("State"), hold.state, label(tr, "hold_state", hold.state))
        if hold.ready_until is not None:
            b.add("ready_until", tr.gettext("Pick up by"), hold.ready_until)
        records.append(b.done())
    return Section(
        "reservations",
        tr.gettext("Reservations"),
        tuple(records),
        empty=tr.gettext("No reservations."),
        link=("holds", tr.gettext("Your reservations")),
    )


def _questions(tr: Translator, patron_id: int) -> Section:
    records = []
    for question in queries.list_reference_questions(patron_id):
        b = _Builder(tr)
        b.add("question", tr.gettext("Question"), question.question)
        b.add(
            "status",
            tr.gettext("State"),
            question.status,
            label(tr, "reference_status", question.status),
        )
        b.add("created_at", tr.gettext("Asked"), question.created_at)
        b.add("answers", tr.gettext("Answers"), question.answers)
        records.append(b.done())
    return Section(
        "reference_questions",
        tr.gettext("Reference questions"),
        tuple(records),
        empty=tr.gettext("No reference questions."),
        link=("reference", tr.gettext("Your reference questions")),
    )


def _devices(tr: Translator, session: Current) -> Section:
    records = []
    for device in queries.list_my_sessions(session.patron_id, session.token):
        b = _Builder(tr)
        b.add("device", tr.gettext("Device"), device.device)
        b.add("logged_in_at", tr.gettext("Logged in"), device.created_at)
        b.add("last_seen_at", tr.gettext("Last active"), device.last_seen_at)
        b.add("shared_terminal", tr.gettext("Library terminal"), device.kiosk)
        b.add("this_device", tr.gettext("This device"), device.current)
        records.append(b.done())
    return Section(
        "devices",
        tr.gettext("Where you are logged in"),
        tuple(records),
        link=("sessions", tr.gettext("Log out other devices")),
    )


def _notices(tr: Translator, patron_id: int) -> Section:
    settings = queries.get_notice_settings(patron_id)
    records = []
    for setting in settings.settings:
        b = _Builder(tr)
        kind = label(tr, "notice_kind", setting.kind)
        b.add("kind", tr.pgettext("notice setting", "Kind of notice"), setting.kind, kind)
        b.add("email", tr.gettext("By email"), setting.email)
        b.add("titles", tr.gettext("Titles in the mail"), setting.titles)
        # Every row has the column (the table's headings come from the first row); only
        # the due-date reminder has a "when".
        days = settings.due_reminder_days if setting.kind == "due_soon" else None
        when = tr.gettext("Off") if setting.kind == "due_soon" and days is None else "—"
        b.add(
            "days_before",
            tr.gettext("Days before the due date"),
            days,
            None if days is not None else when,
        )
        records.append(b.done())
    return Section(
        "notice_settings",
        tr.gettext("Notice settings"),
        tuple(records),
        link=("my_notices_page", tr.gettext("Change notice settings")),
    )


def _staff_looks(tr: Translator, patron_id: int) -> Section:
    records = []
    for look in queries.list_staff_looks_at_me(patron_id):
        b = _Builder(tr)
        b.add("day", tr.gettext("Date"), look.day)
        b.add("branch", tr.gettext("Branch"), look.branch, look.branch.get(tr.lang))
        records.append(b.done())
    return Section(
        "staff_looks",
        tr.gettext("When staff looked at your record"),
        tuple(records),
        empty=tr.gettext("There are no records."),
        link=("my_staff_access", tr.gettext("When staff looked at your record")),
    )


def sections(request: Request, session: Current) -> tuple[Section, ...]:
    """Everything held about the logged-in patron, in the page's order."""
    tr = translator(request)
    pid = session.patron_id
    return (
        _registration(tr, queries.get_my_data(pid)),
        _loans(tr, pid),
        _holds(tr, pid),
        *(extra(request, pid) for extra in EXTRA_SECTIONS),
        _questions(tr, pid),
        _devices(tr, session),
        _notices(tr, pid),
        _staff_looks(tr, pid),
    )


def _page(
    request: Request,
    session: Current,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "mydata/page.html",
        ctx={
            "sections": sections(request, session),
            "data": queries.get_my_data(session.patron_id),
            "kiosk": session.kiosk,
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


async def page(request: Request, session: Current) -> Response:
    return _page(request, session)


# --- downloads ------------------------------------------------------------------------


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _as_json(found: Sequence[Section]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section in found:
        records = [{v.key: v.value for v in record} for record in section.records]
        out[section.key] = records[0] if section.single else records
    return out


def _kiosk_refusal(request: Request) -> Response:
    """A library terminal keeps no file for the next person."""
    message = translator(request).gettext(
        "Downloads are not offered on library terminals. Use your own device."
    )
    return error_response(request, 403, message)


async def export_json(request: Request, session: Current) -> Response:
    if session.kiosk:
        return _kiosk_refusal(request)
    body = json.dumps(
        _as_json(sections(request, session)), ensure_ascii=False, indent=2, sort_keys=False
    )
    return _download(body.encode(), "application/json", "my-library-data.json")


async def export_csv(request: Request, session: Current) -> Response:
    """One row per value (section, record number, field, label, value): every section fits
    one sheet. UTF-8 with a BOM, so Excel reads the Japanese."""
    if session.kiosk:
        return _kiosk_refusal(request)
    tr = translator(request)
    head = [
        tr.gettext("Section"),
        tr.gettext("Record"),
        tr.gettext("Field"),
        tr.gettext("Item"),
        tr.gettext("Value"),
    ]
    rows = [
        [section.title, number, value.key, value.label, value.text]
        for section in sections(request, session)
        for number, record in enumerate(section.records, start=1)
        for value in record
    ]
    return csv_download([head, *rows], "my-library-data.csv")


# --- corrections ----------------------------------------------------------------------


def _field_errors(request: Request, refused: queries.MyDataFieldsRefused) -> dict[str, str]:
    return refusals.say_fields(request, refused.errors)


def _done(request: Request, notice: str) -> Response:
    response = see_other(request, "my_data")
    flash(request, response, notice)
    return response


async def change_email(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    address = forms.text(form, "email", 254)
    if session.kiosk:
        # The address receives password reset links: not changed on a shared terminal.
        message = translator(request).gettext(
            "The email address is not changed on library terminals. Use your own device."
        )
        return _page(request, session, 403, {}, {"email": message})
    base = structured.base_url(request)
    confirm_page = path_for(request, "my_email_confirm_page")

    def make_link(token: str) -> str:
        return f"{base}{confirm_page}?token={token}"

    try:
        queries.request_email_change(
            session.patron_id, address, str(form.get("password", ""))[:1024], make_link
        )
    except queries.MyDataFieldsRefused as refused:
        return _page(request, session, 422, {"email": address}, _field_errors(request, refused))
    return _done(
        request,
        N_(
            "We sent a link to the new address. It is used only after you open that link "
            "(within 24 hours)."
        ),
    )


async def cancel_email(request: Request, session: Current) -> Response:
    queries.cancel_email_change(session.patron_id)
    return _done(request, N_("The new address was dropped; nothing is sent to it."))


def _link_unusable(request: Request) -> Response:
    message = refusals.words(translator(request), queries.Refusal("email_link_invalid"))
    return EMAIL_COOKIE.refuse(request, "mydata/email_unusable.html", {"message": message})


async def email_confirm_page(request: Request) -> Response:
    """Opened from the mail, logged in or not: owning the mailbox is what the link proves."""
    return EMAIL_COOKIE.landing(request, "mydata/email_confirm.html", _link_unusable)


async def email_confirm(request: Request) -> Response:
    try:
        queries.confirm_email_change(EMAIL_COOKIE.token(request))
    except queries.MyDataRefused:
        return _link_unusable(request)
    response = render(request, "mydata/email_confirmed.html")
    EMAIL_COOKIE.forget(request, response)
    return response


async def change_phone(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    phone = forms.text(form, "phone", 40)
    try:
        queries.set_my_phone(session.patron_id, phone)
    except queries.MyDataFieldsRefused as refused:
        return _page(request, session, 422, {"phone": phone}, _field_errors(request, refused))
    return _done(request, N_("Your phone number was changed."))


async def request_address(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    typed = {
        "postal_code": forms.text(form, "postal_code", 20),
        "address": forms.text(form, "address", 400),
    }
    try:
        queries.request_address_change(session.patron_id, typed["postal_code"], typed["address"])
    except queries.MyDataFieldsRefused as refused:
        return _page(request, session, 422, typed, _field_errors(request, refused))
    except queries.MyDataRefused as refused:
        errors = {"address": refusals.say(request, refused)}
        return _page(request, session, 422, typed, errors)
    return _done(
        request,
        N_(
            "Address change requested. Bring an identification document showing the new "
            "address to any library counter; staff will then change it."
        ),
    )


async def withdraw_address(request: Request, session: Current) -> Response:
    queries.withdraw_address_change(session.patron_id)
    return _done(request, N_("Your address change request was withdrawn."))


# --- notice settings ------------------------------------------------------------------


def _notices_page(
    request: Request, session: Current, status_code: int = 200, error: str = ""
) -> Response:
    return render(
        request,
        "mydata/notices.html",
        ctx={
            "settings": queries.get_notice_settings(session.patron_id),
            "reminder_days": queries.HOLD_REMINDER_DAYS,
            "error": error,
        },
        status_code=status_code,
    )


async def notices_page(request: Request, session: Current) -> Response:
    return _notices_page(request, session)


def _choices(form: FormData) -> dict[str, tuple[bool, bool]]:
    return {
        kind: (
            forms.text(form, f"{kind}_email", 10) != "none",
            forms.text(form, f"{kind}_titles", 10) == "yes",
        )
        for kind in queries.NOTICE_KINDS
    }


async def save_notices(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    choices = _choices(form)
    days: int | None = None
    if choices["due_soon"][0]:
        days = forms.whole_number(forms.text(form, "reminder_days", 10)) or DEFAULT_REMINDER_DAYS
    # The reservations page's switches are the same settings (db.notice_prefs): one save.
    try:
        queries.set_notice_settings(session.patron_id, choices, days)
    except queries.MyDataRefused as refused:
        return _notices_page(request, session, 422, refusals.say(request, refused))
    response = see_other(request, "my_notices_page")
    flash(request, response, N_("Notice settings saved."))
    return response


# --- deleting the account -------------------------------------------------------------


def _delete_page(
    request: Request, session: Current, status_code: int = 200, error: str = ""
) -> Response:
    return render(
        request,
        "mydata/delete.html",
        ctx={
            "loans": queries.list_deletion_blockers(session.patron_id),
            "data": queries.get_my_data(session.patron_id),
            "error": error,
        },
        status_code=status_code,
    )


async def delete_page(request: Request, session: Current) -> Response:
    return _delete_page(request, session)


async def delete_account(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    if forms.text(form, "confirm", 10) != "yes":
        error = refusals.words(translator(request), queries.Refusal("confirm_deletion"))
        return _delete_page(request, session, 422, error)
    try:
        queries.delete_my_account(session.patron_id, str(form.get("password", ""))[:1024])
    except queries.QueryError as refused:
        return _delete_page(request, session, 422, refusals.say(request, refused))
    # The session went with the patron: leave like a logout, leaving nothing in the browser.
    response = render(request, "mydata/deleted.html")
    clear_cookie(response, settings_of(request), PATRON)
    hold_undo.forget(request, response)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


routes = [
    patron_route("/my/data", page, methods=["GET"], name="my_data"),
    patron_route("/my/data/export.json", export_json, methods=["GET"], name="my_data_json"),
    patron_route("/my/data/export.csv", export_csv, methods=["GET"], name="my_data_csv"),
    patron_route("/my/data/email", change_email, methods=["POST"], name="my_data_email"),
    patron_route(
        "/my/data/email/cancel", cancel_email, methods=["POST"], name="my_data_email_cancel"
    ),
    Route("/my/email-link", email_confirm_page, methods=["GET"], name="my_email_confirm_page"),
    Route("/my/email-link", email_confirm, methods=["POST"], name="my_email_confirm"),
    patron_route("/my/data/phone", change_phone, methods=["POST"], name="my_data_phone"),
    patron_route("/my/data/address", request_address, methods=["POST"], name="my_data_address"),
    patron_route(
        "/my/data/address/withdraw",
        withdraw_address,
        methods=["POST"],
        name="my_data_address_withdraw",
    ),
    patron_route("/my/notices", notices_page, methods=["GET"], name="my_notices_page"),
    patron_route("/my/notices", save_notices, methods=["POST"], name="my_notices"),
    patron_route("/my/data/delete", delete_page, methods=["GET"], name="my_data_delete_page"),
    patron_route("/my/data/delete", delete_account, methods=["POST"], name="my_data_delete"),
]
