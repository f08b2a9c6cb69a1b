"""コード管理 / Code tables: the managers' screens of branches, shelf locations, material
types, patron categories, the card numbering rule, the library's identity and logo, and
the home page's announcements (db.queries.code_tables), with links to the loan rules and
the calendar. Each list page links to one form per code; a form that cannot be saved comes
back (422) with what was typed and a message next to each field, and nothing is saved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel import Locale
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import forms, refusals
from web.flash import flash
from web.i18n import N_, translator
from web.sessions import settings_of
from web.settings import smtp_settings
from web.staff.guard import missing, route
from web.staff.pages import me, page
from web.templating import see_other


@dataclass(frozen=True)
class Field:
    """One field of a code form; `label` and `help` are msgids the template translates."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, number, checkbox, select, date
    maxlength: int = 100
    options: tuple[tuple[str, str], ...] = ()  # (value, msgid)
    help: str = ""
    lang: str = ""  # a name in this language (the label names the language)


def _languages(request: Request) -> tuple[str, ...]:
    books = request.app.state.catalogues
    return (books.default, *(lang for lang in books.languages if lang != books.default))


def _language_name(request: Request, lang: str) -> str:
    return str(Locale.parse(lang).get_display_name(translator(request).lang) or lang)


def _name_fields(request: Request, prefix: str, label: str, maxlength: int = 100) -> list[Field]:
    kind = "textarea" if maxlength > 100 else "text"
    return [
        Field(f"{prefix}.{lang}", label, kind, maxlength, lang=lang) for lang in _languages(request)
    ]


def _names(form: FormData, request: Request, prefix: str, limit: int = 100) -> dict[str, str]:
    return {lang: forms.text(form, f"{prefix}.{lang}", limit) for lang in _languages(request)}


def _name_values(prefix: str, names: queries.Localized) -> dict[str, str]:
    return {f"{prefix}.{lang}": text for lang, text in names.texts}


def _edit(
    request: Request,
    *,
    title: str,
    heading: str,
    fields: list[Field],
    values: Mapping[str, str],
    errors: Mapping[str, str],
    action: str,
    back: str,
    delete: str = "",
    end: str = "",
    status_code: int = 200,
    intro: str = "",
) -> Response:
    return page(
        request,
        "staff/codes/edit.html",
        status_code=status_code,
        title=title,
        heading=heading,
        fields=fields,
        values=values,
        errors=errors,
        action=action,
        back=back,
        delete=delete,
        end=end,
        intro=intro,
        language_name=lambda lang: _language_name(request, lang),
    )


def _refused(request: Request, refused: queries.StaffFormRefused) -> dict[str, str]:
    return refusals.say_fields(request, refused.errors)


def _saved(request: Request, target: str, message: str, **params: Any) -> Response:
    response = see_other(request, target)
    flash(request, response, message, **params)
    return response


def _in_use(request: Request, back: str, refused: queries.CodeInUse, **params: Any) -> Response:
    response = see_other(request, back, **params)
    flash(request, response, N_("Not deleted: %(why)s"), why=refusals.say(request, refused))
    return response


# ---------------------------------------------------------------------------------------
# The section's home
# ---------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    return page(request, "staff/codes/index.html")


# ---------------------------------------------------------------------------------------
# Branches
# ---------------------------------------------------------------------------------------


def _branch_fields(request: Request) -> list[Field]:
    return [
        *_name_fields(request, "names", N_("Display name")),
        Field("address", N_("Address"), maxlength=200),
        Field("phone", N_("Phone"), maxlength=30, help=N_("For example 0466-22-0000.")),
    ]


async def branches(request: Request) -> Response:
    return page(request, "staff/codes/branches.html", branches=queries.list_code_branches())


def _branch(code: str) -> queries.BranchCode | None:
    return next((b for b in queries.list_code_branches() if b.code == code), None)


def _branch_form(
    request: Request,
    branch: queries.BranchCode,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    name = branch.names.get(translator(request).lang)
    return _edit(
        request,
        title=translator(request).gettext("Branch: %(name)s", name=name),
        heading=translator(request).gettext("Branch: %(name)s", name=name),
        fields=_branch_fields(request),
        values=values,
        errors=errors,
        action=str(request.url_for("staff:code_branch_save", branch=branch.code).path),
        back=str(request.url_for("staff:code_branches").path),
        status_code=status_code,
        intro=N_("Opening hours and closed days are kept in the library calendar."),
    )


async def branch_page(request: Request) -> Response:
    branch = _branch(request.path_params["branch"])
    if branch is None:
        return missing(request)
    values = {
        **_name_values("names", branch.names),
        "address": branch.address,
        "phone": branch.phone,
    }
    return _branch_form(request, branch, values, {})


async def branch_save(request: Request) -> Response:
    branch = _branch(request.path_params["branch"])
    if branch is None:
        return missing(request)
    form = await forms.read(request)
    typed = queries.BranchInput(
        _names(form, request, "names"),
        forms.text(form, "address", 200),
        forms.text(form, "phone", 30),
    )
    try:
        queries.save_branch(me(request).actor, branch.code, typed)
    except queries.StaffFormRefused as refused:
        values = {
            **{f"names.{k}": v for k, v in typed.names.items()},
            "address": typed.address,
            "phone": typed.phone,
        }
        return _branch_form(request, branch, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_branches", N_("Branch saved."))


# ---------------------------------------------------------------------------------------
# Shelf locations
# ---------------------------------------------------------------------------------------


def _shelf_page(
    request: Request, values: Mapping[str, str], errors: Mapping[str, str], status_code: int = 200
) -> Response:
    return page(
        request,
        "staff/codes/shelf_locations.html",
        status_code=status_code,
        locations=queries.list_shelf_locations(),
        branches=queries.list_code_branches(),
        values=values,
        errors=errors,
        languages=_languages(request),
        language_name=lambda lang: _language_name(request, lang),
    )


async def shelf_locations(request: Request) -> Response:
    return _shelf_page(request, {}, {})


async def shelf_location_add(request: Request) -> Response:
    form = await forms.read(request)
    branch = forms.text(form, "branch", 20)
    code = forms.text(form, "code", 100)
    names = _names(form, request, "names")
    try:
        queries.add_shelf_location(me(request).actor, branch, code, names)
    except queries.StaffFormRefused as refused:
        values = {"branch": branch, "code": code, **{f"names.{k}": v for k, v in names.items()}}
        return _shelf_page(request, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_shelf_locations", N_("Shelf location added."))


def _location(location_id: int) -> queries.ShelfLocationCode | None:
    return next((s for s in queries.list_shelf_locations() if s.id == location_id), None)


def _location_form(
    request: Request,
    location: queries.ShelfLocationCode,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    tr = translator(request)
    heading = tr.gettext(
        "Shelf location: %(code)s (%(branch)s)",
        code=location.code,
        branch=location.branch.get(tr.lang),
    )
    return _edit(
        request,
        title=heading,
        heading=heading,
        fields=_name_fields(request, "names", N_("Name shown to patrons")),
        values=values,
        errors=errors,
        action=str(request.url_for("staff:code_shelf_location_save", location_id=location.id).path),
        back=str(request.url_for("staff:code_shelf_locations").path),
        delete=str(
            request.url_for("staff:code_shelf_location_delete", location_id=location.id).path
        ),
        status_code=status_code,
        intro=N_("The code is what copies record as their shelf location; it cannot be changed."),
    )


async def shelf_location_page(request: Request) -> Response:
    location = _location(request.path_params["location_id"])
    if location is None:
        return missing(request)
    return _location_form(request, location, _name_values("names", location.names), {})


async def shelf_location_save(request: Request) -> Response:
    location = _location(request.path_params["location_id"])
    if location is None:
        return missing(request)
    form = await forms.read(request)
    names = _names(form, request, "names")
    try:
        queries.save_shelf_location(me(request).actor, location.id, names)
    except queries.StaffFormRefused as refused:
        values = {f"names.{k}": v for k, v in names.items()}
        return _location_form(request, location, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_shelf_locations", N_("Shelf location saved."))


async def shelf_location_delete(request: Request) -> Response:
    location_id = request.path_params["location_id"]
    try:
        queries.delete_shelf_location(me(request).actor, location_id)
    except queries.CodeInUse as refused:
        return _in_use(request, "staff:code_shelf_location", refused, location_id=location_id)
    return _saved(request, "staff:code_shelf_locations", N_("Shelf location deleted."))


# ---------------------------------------------------------------------------------------
# Material types and patron categories (a list with an add form, and an edit form each)
# ---------------------------------------------------------------------------------------


def _material_fields(request: Request) -> list[Field]:
    return [
        *_name_fields(request, "names", N_("Display name")),
        Field(
            "loan_days",
            N_("Loan period (days)"),
            "number",
            maxlength=10,
            help=N_("0: for use in the library only. Loan rules per patron category may differ."),
        ),
        Field("reservable", N_("May be reserved"), "checkbox"),
    ]


def _material_input(form: FormData, request: Request) -> queries.MaterialTypeInput:
    return queries.MaterialTypeInput(
        _names(form, request, "names"),
        forms.whole_number(forms.text(form, "loan_days", 10)),
        forms.text(form, "reservable", 5) == "1",
    )


def _material_values(form: FormData, request: Request) -> dict[str, str]:
    return {
        **{f"names.{k}": v for k, v in _names(form, request, "names").items()},
        "loan_days": forms.text(form, "loan_days", 10),
        "reservable": "1" if forms.text(form, "reservable", 5) == "1" else "",
    }


def _list_page(
    request: Request,
    template: str,
    rows: tuple[Any, ...],
    fields: list[Field],
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    return page(
        request,
        template,
        status_code=status_code,
        rows=rows,
        fields=fields,
        values=values,
        errors=errors,
        language_name=lambda lang: _language_name(request, lang),
    )


def _code_field() -> Field:
    return Field(
        "code",
        N_("Code (cannot be changed later)"),
        maxlength=20,
        help=N_("Letters a–z, digits, - and _."),
    )


async def material_types(request: Request) -> Response:
    return _list_page(
        request,
        "staff/codes/material_types.html",
        queries.list_material_type_codes(),
        [_code_field(), *_material_fields(request)],
        {"reservable": "1"},
        {},
    )


async def material_type_add(request: Request) -> Response:
    form = await forms.read(request)
    code = forms.text(form, "code", 20)
    try:
        queries.add_material_type(me(request).actor, code, _material_input(form, request))
    except queries.StaffFormRefused as refused:
        return _list_page(
            request,
            "staff/codes/material_types.html",
            queries.list_material_type_codes(),
            [_code_field(), *_material_fields(request)],
            {"code": code, **_material_values(form, request)},
            _refused(request, refused),
            422,
        )
    return _saved(request, "staff:code_material_types", N_("Material type added."))


def _material(code: str) -> queries.MaterialTypeCode | None:
    return next((m for m in queries.list_material_type_codes() if m.code == code), None)


def _material_form(
    request: Request,
    material: queries.MaterialTypeCode,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    tr = translator(request)
    heading = tr.gettext("Material type: %(name)s", name=material.names.get(tr.lang))
    return _edit(
        request,
        title=heading,
        heading=heading,
        fields=_material_fields(request),
        values=values,
        errors=errors,
        action=str(request.url_for("staff:code_material_type_save", material=material.code).path),
        back=str(request.url_for("staff:code_material_types").path),
        delete=str(request.url_for("staff:code_material_type_delete", material=material.code).path),
        status_code=status_code,
    )


async def material_type_page(request: Request) -> Response:
    material = _material(request.path_params["material"])
    if material is None:
        return missing(request)
    values = {
        **_name_values("names", material.names),
        "loan_days": str(material.loan_days),
        "reservable": "1" if material.reservable else "",
    }
    return _material_form(request, material, values, {})


async def material_type_save(request: Request) -> Response:
    material = _material(request.path_params["material"])
    if material is None:
        return missing(request)
    form = await forms.read(request)
    try:
        queries.save_material_type(me(request).actor, material.code, _material_input(form, request))
    except queries.StaffFormRefused as refused:
        values = _material_values(form, request)
        return _material_form(request, material, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_material_types", N_("Material type saved."))


async def material_type_delete(request: Request) -> Response:
    code = request.path_params["material"]
    try:
        queries.delete_material_type(me(request).actor, code)
    except queries.CodeInUse as refused:
        return _in_use(request, "staff:code_material_type", refused, material=code)
    return _saved(request, "staff:code_material_types", N_("Material type deleted."))


async def categories(request: Request) -> Response:
    return _list_page(
        request,
        "staff/codes/categories.html",
        queries.list_patron_categories(),
        [_code_field(), *_name_fields(request, "names", N_("Display name"))],
        {},
        {},
    )


async def category_add(request: Request) -> Response:
    form = await forms.read(request)
    code = forms.text(form, "code", 20)
    names = _names(form, request, "names")
    try:
        queries.add_patron_category(me(request).actor, code, names)
    except queries.StaffFormRefused as refused:
        return _list_page(
            request,
            "staff/codes/categories.html",
            queries.list_patron_categories(),
            [_code_field(), *_name_fields(request, "names", N_("Display name"))],
            {"code": code, **{f"names.{k}": v for k, v in names.items()}},
            _refused(request, refused),
            422,
        )
    return _saved(request, "staff:code_categories", N_("Patron category added."))


def _category(code: str) -> queries.PatronCategoryCode | None:
    return next((c for c in queries.list_patron_categories() if c.code == code), None)


def _category_form(
    request: Request,
    category: queries.PatronCategoryCode,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    tr = translator(request)
    heading = tr.gettext("Patron category: %(name)s", name=category.names.get(tr.lang))
    return _edit(
        request,
        title=heading,
        heading=heading,
        fields=_name_fields(request, "names", N_("Display name")),
        values=values,
        errors=errors,
        action=str(request.url_for("staff:code_category_save", category=category.code).path),
        back=str(request.url_for("staff:code_categories").path),
        delete=str(request.url_for("staff:code_category_delete", category=category.code).path),
        status_code=status_code,
    )


async def category_page(request: Request) -> Response:
    category = _category(request.path_params["category"])
    if category is None:
        return missing(request)
    return _category_form(request, category, _name_values("names", category.names), {})


async def category_save(request: Request) -> Response:
    category = _category(request.path_params["category"])
    if category is None:
        return missing(request)
    form = await forms.read(request)
    names = _names(form, request, "names")
    try:
        queries.save_patron_category(me(request).actor, category.code, names)
    except queries.StaffFormRefused as refused:
        values = {f"names.{k}": v for k, v in names.items()}
        return _category_form(request, category, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_categories", N_("Patron category saved."))


async def category_delete(request: Request) -> Response:
    code = request.path_params["category"]
    try:
        queries.delete_patron_category(me(request).actor, code)
    except queries.CodeInUse as refused:
        return _in_use(request, "staff:code_category", refused, category=code)
    return _saved(request, "staff:code_categories", N_("Patron category deleted."))


# ---------------------------------------------------------------------------------------
# The card numbering rule
# ---------------------------------------------------------------------------------------

_CHECK_DIGIT_WORDS = {
    "luhn": N_("A check digit (Luhn, modulus 10)"),
    "none": N_("No check digit"),
}


def _card_form(
    request: Request, values: Mapping[str, str], errors: Mapping[str, str], status_code: int = 200
) -> Response:
    rule = queries.get_card_rule()
    tr = translator(request)
    return _edit(
        request,
        title=tr.gettext("Card numbering rule"),
        heading=tr.gettext("Card numbering rule"),
        fields=[
            Field(
                "prefix",
                N_("Prefix"),
                maxlength=6,
                help=N_("The digits every new card number starts with."),
            ),
            Field("serial_digits", N_("Serial digits"), "number", maxlength=2),
            Field(
                "check_digit",
                N_("Check digit"),
                "select",
                options=tuple((c, _CHECK_DIGIT_WORDS[c]) for c in queries.CARD_CHECK_DIGITS),
            ),
        ],
        values=values,
        errors=errors,
        action=str(request.url_for("staff:code_card_rule_save").path),
        back=str(request.url_for("staff:codes").path),
        status_code=status_code,
        intro=tr.gettext(
            "New cards are numbered by this rule, for example %(example)s; cards already "
            "given keep their numbers, and a number in use is never given again.",
            example=rule.example,
        ),
    )


async def card_rule(request: Request) -> Response:
    rule = queries.get_card_rule()
    values = {
        "prefix": rule.prefix,
        "serial_digits": str(rule.serial_digits),
        "check_digit": rule.check_digit,
    }
    return _card_form(request, values, {})


async def card_rule_save(request: Request) -> Response:
    form = await forms.read(request)
    values = {
        name: forms.text(form, name, 20) for name in ("prefix", "serial_digits", "check_digit")
    }
    typed = queries.CardRuleInput(
        values["prefix"], forms.whole_number(values["serial_digits"]), values["check_digit"]
    )
    try:
        queries.save_card_rule(me(request).actor, typed)
    except queries.StaffFormRefused as refused:
        return _card_form(request, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_card_rule", N_("Card numbering rule saved."))


# ---------------------------------------------------------------------------------------
# The library's identity and logo
# ---------------------------------------------------------------------------------------


def _identity_fields(request: Request) -> list[Field]:
    return [
        *_name_fields(request, "names", N_("Display name")),
        *_name_fields(request, "short_names", N_("Short name")),
        Field("address", N_("Address"), maxlength=200),
        Field("phone", N_("Phone"), maxlength=30),
        Field("email", N_("Email"), maxlength=254),
    ]


def _identity_page(
    request: Request,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
    logo_error: str = "",
) -> Response:
    return page(
        request,
        "staff/codes/identity.html",
        status_code=status_code,
        identity=queries.get_library_identity(),
        mail_sender=queries.library_sender(smtp_settings(settings_of(request))),
        fields=_identity_fields(request),
        values=values,
        errors=errors,
        logo_errors={"logo": logo_error} if logo_error else {},
        max_kb=queries.LOGO_MAX_BYTES // 1024,
        language_name=lambda lang: _language_name(request, lang),
    )


def _identity_values() -> dict[str, str]:
    current = queries.get_library_identity()
    return {
        **_name_values("names", current.names),
        **_name_values("short_names", current.short_names),
        "address": current.address,
        "phone": current.phone,
        "email": current.email,
    }


async def identity(request: Request) -> Response:
    return _identity_page(request, _identity_values(), {})


async def identity_save(request: Request) -> Response:
    form = await forms.read(request)
    typed = queries.IdentityInput(
        _names(form, request, "names"),
        _names(form, request, "short_names"),
        forms.text(form, "address", 200),
        forms.text(form, "phone", 30),
        forms.text(form, "email", 254),
    )
    try:
        queries.save_library_identity(me(request).actor, typed)
    except queries.StaffFormRefused as refused:
        values = {
            **{f"names.{k}": v for k, v in typed.names.items()},
            **{f"short_names.{k}": v for k, v in typed.short_names.items()},
            "address": typed.address,
            "phone": typed.phone,
            "email": typed.email,
        }
        return _identity_page(request, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_identity", N_("The library's details saved."))


async def logo_upload(request: Request) -> Response:
    form = await forms.read(request)
    upload = form.get("logo")
    try:
        data = (
            await upload.read(queries.LOGO_MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
        )
    finally:
        await form.close()
    try:
        queries.set_library_logo(me(request).actor, data)
    except queries.StaffFormRefused as refused:
        words = _refused(request, refused)["logo"]
        return _identity_page(request, _identity_values(), {}, 422, words)
    return _saved(request, "staff:code_identity", N_("Logo saved."))


async def logo_remove(request: Request) -> Response:
    queries.remove_library_logo(me(request).actor)
    return _saved(request, "staff:code_identity", N_("Logo removed."))


# ---------------------------------------------------------------------------------------
# Announcements
# ---------------------------------------------------------------------------------------


def _announcement_fields(request: Request) -> list[Field]:
    date_help = N_("西暦 or 和暦: 2026-12-28, 2026年12月28日, 令和8年12月28日.")
    return [
        *_name_fields(request, "texts", N_("Text"), maxlength=queries.ANNOUNCEMENT_MAX_CHARS),
        Field("starts_on", N_("Shown from"), "date", maxlength=20, help=date_help),
        Field(
            "ends_on",
            N_("Shown until"),
            "date",
            maxlength=20,
            help=N_("Leave empty to show it until you end it."),
        ),
    ]


def _announcement_input(
    form: FormData, request: Request
) -> tuple[queries.AnnouncementInput, dict[str, str]]:
    texts = _names(form, request, "texts", queries.ANNOUNCEMENT_MAX_CHARS)
    starts = forms.text(form, "starts_on", 20).strip()
    ends = forms.text(form, "ends_on", 20).strip()
    typed = queries.AnnouncementInput(
        texts, forms.calendar_date(starts), forms.calendar_date(ends) if ends else None, bool(ends)
    )
    values = {**{f"texts.{k}": v for k, v in texts.items()}, "starts_on": starts, "ends_on": ends}
    return typed, values


def _announcements_page(
    request: Request, values: Mapping[str, str], errors: Mapping[str, str], status_code: int = 200
) -> Response:
    return page(
        request,
        "staff/codes/announcements.html",
        status_code=status_code,
        rows=queries.list_announcements(),
        fields=_announcement_fields(request),
        values=values,
        errors=errors,
        language_name=lambda lang: _language_name(request, lang),
    )


async def announcements(request: Request) -> Response:
    today = queries.current_time()
    return _announcements_page(
        request, {"starts_on": queries.to_library_time(today).date().isoformat()}, {}
    )


async def announcement_add(request: Request) -> Response:
    typed, values = _announcement_input(await forms.read(request), request)
    try:
        queries.save_announcement(me(request).actor, None, typed)
    except queries.StaffFormRefused as refused:
        return _announcements_page(request, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_announcements", N_("Announcement saved."))


def _announcement(announcement_id: int) -> queries.AnnouncementView | None:
    return next((a for a in queries.list_announcements() if a.id == announcement_id), None)


def _announcement_form(
    request: Request,
    row: queries.AnnouncementView,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    tr = translator(request)
    heading = tr.gettext("Announcement no. %(number)s", number=row.id)
    return _edit(
        request,
        title=heading,
        heading=heading,
        fields=_announcement_fields(request),
        values=values,
        errors=errors,
        action=str(request.url_for("staff:code_announcement_save", announcement_id=row.id).path),
        back=str(request.url_for("staff:code_announcements").path),
        end=""
        if row.state == "ended"
        else str(request.url_for("staff:code_announcement_end", announcement_id=row.id).path),
        status_code=status_code,
    )


async def announcement_page(request: Request) -> Response:
    row = _announcement(request.path_params["announcement_id"])
    if row is None:
        return missing(request)
    values = {
        **_name_values("texts", row.texts),
        "starts_on": row.starts_on.isoformat(),
        "ends_on": row.ends_on.isoformat() if row.ends_on else "",
    }
    return _announcement_form(request, row, values, {})


async def announcement_save(request: Request) -> Response:
    row = _announcement(request.path_params["announcement_id"])
    if row is None:
        return missing(request)
    typed, values = _announcement_input(await forms.read(request), request)
    try:
        queries.save_announcement(me(request).actor, row.id, typed)
    except queries.StaffFormRefused as refused:
        return _announcement_form(request, row, values, _refused(request, refused), 422)
    return _saved(request, "staff:code_announcements", N_("Announcement saved."))


async def announcement_end(request: Request) -> Response:
    queries.end_announcement(me(request).actor, request.path_params["announcement_id"])
    return _saved(request, "staff:code_announcements", N_("Announcement ended."))


routes: list[BaseRoute] = [
    route("GET", "/codes", index, "codes"),
    route("GET", "/codes/branches", branches, "code_branches"),
    route("GET", "/codes/branches/{branch}", branch_page, "code_branch"),
    route("POST", "/codes/branches/{branch}", branch_save, "code_branch_save"),
    route("GET", "/codes/shelf-locations", shelf_locations, "code_shelf_locations"),
    route("POST", "/codes/shelf-locations", shelf_location_add, "code_shelf_location_add"),
    route(
        "GET",
        "/codes/shelf-locations/{location_id:int}",
        shelf_location_page,
        "code_shelf_location",
    ),
    route(
        "POST",
        "/codes/shelf-locations/{location_id:int}",
        shelf_location_save,
        "code_shelf_location_save",
    ),
    route(
        "POST",
        "/codes/shelf-locations/{location_id:int}/delete",
        shelf_location_delete,
        "code_shelf_location_delete",
    ),
    route("GET", "/codes/material-types", material_types, "code_material_types"),
    route("POST", "/codes/material-types", material_type_add, "code_material_type_add"),
    route("GET", "/codes/material-types/{material}", material_type_page, "code_material_type"),
    route(
        "POST", "/codes/material-types/{material}", material_type_save, "code_material_type_save"
    ),
    route(
        "POST",
        "/codes/material-types/{material}/delete",
        material_type_delete,
        "code_material_type_delete",
    ),
    route("GET", "/codes/categories", categories, "code_categories"),
    route("POST", "/codes/categories", category_add, "code_category_add"),
    route("GET", "/codes/categories/{category}", category_page, "code_category"),
    route("POST", "/codes/categories/{category}", category_save, "code_category_save"),
    route("POST", "/codes/categories/{category}/delete", category_delete, "code_category_delete"),
    route("GET", "/codes/card-rule", card_rule, "code_card_rule"),
    route("POST", "/codes/card-rule", card_rule_save, "code_card_rule_save"),
    route("GET", "/codes/identity", identity, "code_identity"),
    route("POST", "/codes/identity", identity_save, "code_identity_save"),
    route("POST", "/codes/identity/logo", logo_upload, "code_logo_upload"),
    route("POST", "/codes/identity/logo/delete", logo_remove, "code_logo_remove"),
    route("GET", "/codes/announcements", announcements, "code_announcements"),
    route("POST", "/codes/announcements", announcement_add, "code_announcement_add"),
    route(
        "GET", "/codes/announcements/{announcement_id:int}", announcement_page, "code_announcement"
    ),
    route(
        "POST",
        "/codes/announcements/{announcement_id:int}",
        announcement_save,
        "code_announcement_save",
    ),
    route(
        "POST",
        "/codes/announcements/{announcement_id:int}/end",
        announcement_end,
        "code_announcement_end",
    ),
]
