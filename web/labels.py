"""Words for fixed code sets that are not library data, keyed by code: item statuses,
patron categories, NDC classes, the staff policy's roles, duties and field groups, and the
required fields of a catalogue import.

Library data (branch and material type names) comes from the database instead, per
language (`Localized`). An unknown code shows as itself.
"""

from __future__ import annotations

from collections.abc import Callable

from web.i18n import Translator


def item_status(tr: Translator, code: str) -> str:
    return {
        "available": tr.gettext("On shelf"),
        "on_loan": tr.gettext("On loan"),
        "in_transit": tr.gettext("In transit"),
        "on_hold_shelf": tr.gettext("On hold shelf"),
        "in_process": tr.gettext("Being processed"),
        "missing": tr.gettext("Missing"),
        "to_pull": tr.gettext("Being set aside for a reservation"),
    }.get(code, code)


def category(tr: Translator, code: str) -> str:
    return {
        "general": tr.gettext("General"),
        "university": tr.gettext("University student"),
        "high_school": tr.gettext("High school student"),
        "junior_high": tr.gettext("Junior high school student"),
        "elementary": tr.gettext("Elementary school or younger"),
        "other": tr.gettext("Other"),
    }.get(code, code)


def ndc_class(tr: Translator, code: str) -> str:
    return {
        "0": tr.gettext("General works"),
        "1": tr.gettext("Philosophy"),
        "2": tr.gettext("History"),
        "3": tr.gettext("Social sciences"),
        "4": tr.gettext("Natural sciences"),
        "5": tr.gettext("Technology"),
        "6": tr.gettext("Industry"),
        "7": tr.gettext("Arts"),
        "8": tr.gettext("Language"),
        "9": tr.gettext("Literature"),
        "K": tr.gettext("Children's"),
    }.get(code, code)


def role(tr: Translator, code: str) -> str:
    return {
        "manager": tr.gettext("Manager"),
        "staff": tr.gettext("Staff"),
        "temporary": tr.gettext("Temporary staff"),
        "intern": tr.gettext("Intern"),
    }.get(code, code)


def duty(tr: Translator, code: str) -> str:
    return {
        "patron_records": tr.pgettext("staff duty", "Patron records (view and correct)"),
    }.get(code, code)


def field_group(tr: Translator, code: str) -> str:
    return {
        "card": tr.pgettext("field group", "Card number and expiry"),
        "category": tr.pgettext("field group", "Category"),
        "loans": tr.pgettext("field group", "Current loans"),
        "name": tr.pgettext("field group", "Name"),
        "contact": tr.pgettext("field group", "Address, phone, email"),
        "birth_date": tr.pgettext("field group", "Birth date"),
        "holds": tr.pgettext("field group", "Reservations"),
    }.get(code, code)


def import_field(tr: Translator, code: str) -> str:
    return {
        "work_id": tr.pgettext("catalogue field", "work id"),
        "title": tr.pgettext("catalogue field", "title"),
    }.get(code, code)


def mail_kind(tr: Translator, code: str) -> str:
    return {
        "hold_ready": tr.pgettext("mail kind", "Reservation ready for pickup"),
        "due_reminder": tr.pgettext("mail kind", "Due-date reminder"),
        "email_changed": tr.pgettext("mail kind", "Email address changed"),
        "password_reset": tr.pgettext("mail kind", "Password reset link"),
        "password_set": tr.pgettext("mail kind", "Password set"),
        "application_rejected": tr.pgettext("mail kind", "Library card application declined"),
    }.get(code, code)


def reject_reason(tr: Translator, code: str) -> str:
    """Why the counter turned a library-card application down (db.queries.staff_registrations)."""
    return {
        "no_identification": tr.pgettext("reject", "No identification could be checked"),
        "outside_service_area": tr.pgettext(
            "reject", "The applicant does not live, work or study in the service area"
        ),
        "already_registered": tr.pgettext("reject", "The applicant already has a library card"),
        "other": tr.pgettext("reject", "Please ask at a library counter for the reason"),
    }.get(code, code)


def closure(tr: Translator, code: str) -> str:
    """Why a branch is closed on a day (db.calendar: a closure kind, or the regular week)."""
    return {
        "weekly": tr.pgettext("closed day", "Closed (regular closing day)"),
        "new_year": tr.pgettext("closed day", "Closed (New Year holidays)"),
        "stocktaking": tr.pgettext("closed day", "Closed (stock-taking)"),
        "other": tr.pgettext("closed day", "Closed"),
    }.get(code, code)


KINDS: dict[str, Callable[[Translator, str], str]] = {
    "status": item_status,
    "category": category,
    "ndc_class": ndc_class,
    "role": role,
    "duty": duty,
    "field_group": field_group,
    "import_field": import_field,
    "mail_kind": mail_kind,
    "closure": closure,
    "reject_reason": reject_reason,
}


def label(tr: Translator, kind: str, code: str) -> str:
    """The words for `code` of a code set (`KINDS`), in the translator's language."""
    return KINDS[kind](tr, code)
