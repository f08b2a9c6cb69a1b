"""Words for fixed code sets that are not library data, keyed by code: item statuses,
patron categories, NDC classes, the staff policy's roles, duties and field groups, the
required fields of a catalogue import, and the staff audit log's actions, screens and fields.

Library data (branch and material type names) comes from the database instead, per
language (`Localized`). An unknown code shows as itself.
"""

from __future__ import annotations

from collections.abc import Callable

from babel.dates import get_day_names

from db import queries
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
    """A patron category: the seeded ones in these words (every catalogue language); one a
    manager added, by its names in table patron_category; else the code."""
    words = {
        "general": tr.gettext("General"),
        "university": tr.gettext("University student"),
        "high_school": tr.gettext("High school student"),
        "junior_high": tr.gettext("Junior high school student"),
        "elementary": tr.gettext("Elementary school or younger"),
        "other": tr.gettext("Other"),
    }.get(code)
    if words is not None:
        return words
    names = dict(queries.list_category_names()).get(code)
    return names.get(tr.lang) if names is not None else code


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
        "reference": tr.pgettext("staff duty", "Reference questions (answer patrons)"),
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
        "reference": tr.pgettext("field group", "Reference questions"),
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
        "reference_answer": tr.pgettext("mail kind", "Reference answer ready"),
        "application_rejected": tr.pgettext("mail kind", "Library card application declined"),
        "email_confirm": tr.pgettext("mail kind", "Email address confirmation link"),
        "account_deleted": tr.pgettext("mail kind", "Account deleted"),
        "purge_reminder": tr.pgettext("mail kind", "Registration about to be deleted"),
        "overdue_reminder": tr.pgettext("mail kind", "Overdue notice"),
        "new_arrivals": tr.pgettext("mail kind", "New-arrival alert"),
    }.get(code, code)


def alert_kind(tr: Translator, code: str) -> str:
    """What a new-arrival alert condition watches (db.queries.alerts.ALERT_KINDS)."""
    return {
        "keyword": tr.pgettext("alert", "Keywords"),
        "author": tr.pgettext("alert", "Author"),
        "ndc": tr.pgettext("alert", "Classification (NDC)"),
        "material_type": tr.pgettext("alert", "Material type"),
        "branch": tr.pgettext("alert", "Branch"),
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


def audit_action(tr: Translator, code: str) -> str:
    """What a staff audit row records (db.staff.write_audit `action`); a refused attempt
    records the policy action it needed (web.staff.guard)."""
    return {
        "view": tr.pgettext("audit action", "Viewed"),
        "edit": tr.pgettext("audit action", "Changed"),
        "search": tr.pgettext("audit action", "Searched"),
        "account_create": tr.pgettext("audit action", "Staff account created"),
        "account_edit": tr.pgettext("audit action", "Staff account changed"),
        "account_enrol_link": tr.pgettext("audit action", "Enrolment link issued"),
        "account_end": tr.pgettext("audit action", "Staff account ended"),
        "hold_place": tr.pgettext("audit action", "Reservation placed"),
        "hold_cancel": tr.pgettext("audit action", "Reservation cancelled"),
        "hold_pickup": tr.pgettext("audit action", "Pickup branch changed"),
        "hold_suspend": tr.pgettext("audit action", "Reservation suspended"),
        "hold_resume": tr.pgettext("audit action", "Reservation resumed"),
        "calendar_week": tr.pgettext("audit action", "Opening hours changed"),
        "closure_add": tr.pgettext("audit action", "Closure added"),
        "closure_remove": tr.pgettext("audit action", "Closure removed"),
        "rule_edit": tr.pgettext("audit action", "Loan rule changed"),
        "mail_resend": tr.pgettext("audit action", "Mail sent again"),
        "mail_dismiss": tr.pgettext("audit action", "Mail dismissed"),
        "checkout_override": tr.pgettext("audit action", "Lent despite a warning"),
        "reference_assign": tr.pgettext("audit action", "Reference question assigned"),
        "reference_start": tr.pgettext("audit action", "Reference research started"),
        "reference_answer": tr.pgettext("audit action", "Reference question answered"),
        "reference_note": tr.pgettext("audit action", "Internal note added"),
        "reference_close": tr.pgettext("audit action", "Reference question closed"),
        "case_create": tr.pgettext("audit action", "Reference case written"),
        "case_edit": tr.pgettext("audit action", "Reference case changed"),
        "case_submit": tr.pgettext("audit action", "Reference case sent for approval"),
        "case_approve": tr.pgettext("audit action", "Reference case approved and published"),
        "case_withdraw": tr.pgettext("audit action", "Reference case withdrawn"),
        "issue_code": tr.pgettext("audit action", "Activation code issued"),
        "register": tr.pgettext("audit action", "Patron registered"),
        "reject": tr.pgettext("audit action", "Card application declined"),
        "address_confirm": tr.pgettext("audit action", "Address change confirmed"),
        "address_reject": tr.pgettext("audit action", "Address change rejected"),
        "patron.code": tr.pgettext("audit action", "Issue an activation code"),
        "reference": tr.pgettext("audit action", "Work on reference questions"),
        "reference.publish": tr.pgettext("audit action", "Approve public reference cases"),
        "reference_queue": tr.pgettext("audit action", "View the reference queue"),
        "registration.view": tr.pgettext("audit action", "View card applications"),
        "patron.register": tr.pgettext("audit action", "Register a patron"),
        "patron.view": tr.pgettext("audit action", "View a patron record"),
        "patron.edit": tr.pgettext("audit action", "Change a patron record"),
        "patron.lookup": tr.pgettext("audit action", "Look up patrons"),
        "patron.holds": tr.pgettext("audit action", "A patron's reservations"),
        "terminal_create": tr.pgettext("audit action", "Library terminal registered"),
        "terminal_edit": tr.pgettext("audit action", "Library terminal changed"),
        "terminal_enrol_link": tr.pgettext("audit action", "Terminal enrolment link issued"),
        "terminal_revoke": tr.pgettext("audit action", "Library terminal revoked"),
        "code_add": tr.pgettext("audit action", "Code added"),
        "code_edit": tr.pgettext("audit action", "Code changed"),
        "code_delete": tr.pgettext("audit action", "Code deleted"),
        "logo_set": tr.pgettext("audit action", "Logo replaced"),
        "logo_remove": tr.pgettext("audit action", "Logo removed"),
        "announcement_end": tr.pgettext("audit action", "Announcement ended"),
        "code_tables": tr.pgettext("audit action", "Change code tables"),
    }.get(code, code)


def audit_screen(tr: Translator, code: str) -> str:
    """The screen of a staff audit row; the loan rules' screen names the rule changed
    ("loan_rules:<category>/<material type>")."""
    screen, _, rule = code.partition(":")
    if screen == "code_tables" and rule:
        return code_table_screen(tr, rule)
    if code in CODE_TABLES:
        return code_table(tr, code)
    if screen == "loan_rules" and rule:
        category_code, _, material = rule.partition("/")
        return tr.pgettext(
            "audit screen",
            "Loan rules (%(category)s, %(material)s)",
            category=category(tr, category_code),
            material=material,
        )
    return {
        "patron_lookup": tr.pgettext("audit screen", "Patron lookup"),
        "patron_record": tr.pgettext("audit screen", "Patron record"),
        "patron_edit": tr.pgettext("audit screen", "Patron record correction"),
        "patron_holds": tr.pgettext("audit screen", "Patron's reservations"),
        "counter": tr.pgettext("audit screen", "Circulation counter"),
        "staff_accounts": tr.pgettext("audit screen", "Staff accounts"),
        "calendar": tr.pgettext("audit screen", "Library calendar"),
        "loan_rules": tr.pgettext("audit screen", "Loan rules"),
        "mail_failures": tr.pgettext("audit screen", "Undelivered mail"),
        "reference": tr.pgettext("audit screen", "Reference questions"),
        "reference_case": tr.pgettext("audit screen", "Public reference cases"),
        "patron_code": tr.pgettext("audit screen", "Activation code slip"),
        "registration": tr.pgettext("audit screen", "Card application"),
        "registration_queue": tr.pgettext("audit screen", "Card applications"),
        "registration_walk_in": tr.pgettext("audit screen", "Walk-in registration"),
        "address_queue": tr.pgettext("audit screen", "Address changes"),
        "address_change": tr.pgettext("audit screen", "Address change request"),
        "terminals": tr.pgettext("audit screen", "Library terminals"),
    }.get(code, code)


def audit_field(tr: Translator, code: str) -> str:
    """One entry of a staff audit row's `field_groups`: a field group of the policy, a
    field changed (staff account, loan rule), or `name:value` for what a change was about
    (branch, closure kind, closing days, role); a date range stays as it is."""
    name, colon, value = code.partition(":")
    if colon:
        if name == "kind":
            return closure(tr, value)
        if name == "role":
            return tr.pgettext("audit field", "Role: %(role)s", role=role(tr, value))
        if name == "branch":
            return tr.pgettext("audit field", "Branch: %(branch)s", branch=value)
        if name == "terminal":
            return tr.pgettext("audit field", "Terminal no. %(number)s", number=value)
        if name == "closed_weekdays":
            days = get_day_names("abbreviated", locale=tr.lang)
            closed = "・".join(str(days[int(d)]) for d in value if d.isdigit() and int(d) < 7)
            none = tr.pgettext("audit field", "none")
            return tr.pgettext("audit field", "Closing days: %(days)s", days=closed or none)
        return code
    if ".." in code:  # a closure's first and last day
        return code.replace("..", "–")
    return (
        {
            "affiliation": tr.pgettext("audit field", "Affiliation"),
            "branch": tr.pgettext("audit field", "Branch"),
            "duties": tr.pgettext("audit field", "Duties"),
            "ends_on": tr.pgettext("audit field", "End date"),
            "loan_days": tr.pgettext("audit field", "Loan period"),
            "max_items": tr.pgettext("audit field", "Items at a time"),
            "max_renewals": tr.pgettext("audit field", "Renewals"),
            "enforce": tr.pgettext("audit field", "Refuse or warn"),
            "terminal_name": tr.pgettext("audit field", "Terminal name"),
            "location": tr.pgettext("audit field", "Where it stands"),
            "floor_guide": tr.pgettext("audit field", "Floor guide"),
        }.get(code)
        or code_field(tr, code)
        or field_group(tr, code)
    )


def reference_status(tr: Translator, code: str) -> str:
    """A reference question's state (受付・調査中・回答済・終了; db.reference)."""
    return {
        "received": tr.pgettext("reference", "Received"),
        "investigating": tr.pgettext("reference", "Being researched"),
        "answered": tr.pgettext("reference", "Answered"),
        "closed": tr.pgettext("reference", "Closed"),
    }.get(code, code)


def case_status(tr: Translator, code: str) -> str:
    """Where a public reference case stands (db.queries.reference_cases)."""
    return {
        "draft": tr.pgettext("reference case", "Draft"),
        "submitted": tr.pgettext("reference case", "Waiting for approval"),
        "published": tr.pgettext("reference case", "Public"),
    }.get(code, code)


def notice_kind(tr: Translator, code: str) -> str:
    """A kind of notice the patron controls (db.notice_prefs.KINDS)."""
    return {
        "ready": tr.pgettext("notice kind", "Reservation ready for pickup"),
        "due_soon": tr.pgettext("notice kind", "Due date coming soon"),
        "overdue": tr.pgettext("notice kind", "Overdue items"),
        "reference_answer": tr.pgettext("notice kind", "Answer to a reference question"),
        "new_arrivals": tr.pgettext("notice kind", "New arrivals matching your alerts"),
    }.get(code, code)


def hold_state(tr: Translator, code: str) -> str:
    """A reservation's state, in one or two words (db.routing, db.pulling, db.series)."""
    return {
        "waiting": tr.pgettext("hold state", "Waiting"),
        "suspended": tr.pgettext("hold state", "Suspended"),
        "pulling": tr.pgettext("hold state", "Being taken off the shelf"),
        "in_transit": tr.pgettext("hold state", "In transit"),
        "ready": tr.pgettext("hold state", "Ready for pickup"),
        "kept": tr.pgettext("hold state", "Set aside"),
    }.get(code, code)


def import_kind(tr: Translator, code: str) -> str:
    """What an imported file holds (`shiori import KIND`, db.importers.rows)."""
    return {
        "items": tr.pgettext("import kind", "copies"),
        "patrons": tr.pgettext("import kind", "patrons"),
        "loans": tr.pgettext("import kind", "loans"),
        "holds": tr.pgettext("import kind", "reservations"),
        "withdrawals": tr.pgettext("import kind", "withdrawals"),
        "marc": tr.pgettext("import kind", "MARC"),
        "catalogue": tr.pgettext("import kind", "catalogue (Aozora Bunko CSV)"),
    }.get(code, code)


CODE_TABLES = (
    "code_tables",
    "branch",
    "shelf_location",
    "material_type",
    "patron_category",
    "card_rule",
    "identity",
    "logo",
    "announcement",
)


def code_table(tr: Translator, code: str) -> str:
    """A code table (db.queries.code_tables), as the console's pages name it."""
    return {
        "code_tables": tr.gettext("Code tables"),
        "branch": tr.gettext("Branches"),
        "shelf_location": tr.gettext("Shelf locations"),
        "material_type": tr.gettext("Material types"),
        "patron_category": tr.gettext("Patron categories"),
        "card_rule": tr.gettext("Card numbering rule"),
        "identity": tr.pgettext("audit screen", "Library identity"),
        "logo": tr.gettext("Logo"),
        "announcement": tr.gettext("Announcements"),
    }.get(code, code)


def code_table_screen(tr: Translator, rule: str) -> str:
    """A code-table audit row's screen, "<table>/<key>" (db.queries.code_tables)."""
    table, _, key = rule.partition("/")
    words = {
        "branch": tr.pgettext("audit screen", "Branch %(key)s", key=key),
        "shelf_location": tr.pgettext("audit screen", "Shelf location %(key)s", key=key),
        "material_type": tr.pgettext("audit screen", "Material type %(key)s", key=key),
        "patron_category": tr.pgettext("audit screen", "Patron category %(key)s", key=key),
        "card_rule": tr.pgettext("audit screen", "Card numbering rule"),
        "identity": tr.pgettext("audit screen", "Library identity"),
        "announcement": tr.pgettext("audit screen", "Announcement no. %(key)s", key=key),
    }.get(table)
    return words or f"{table}/{key}"


def code_field(tr: Translator, code: str) -> str:
    """A code-table field of an audit row ("names.ja": the Japanese name); "" if none."""
    name, _, lang = code.partition(".")
    if lang:
        which = {
            "names": tr.pgettext("audit field", "Name (%(lang)s)", lang=lang),
            "short_names": tr.pgettext("audit field", "Short name (%(lang)s)", lang=lang),
            "texts": tr.pgettext("audit field", "Text (%(lang)s)", lang=lang),
        }.get(name)
        return which or ""
    return {
        "code": tr.pgettext("audit field", "Code"),
        "address": tr.pgettext("audit field", "Address"),
        "phone": tr.pgettext("audit field", "Phone"),
        "email": tr.pgettext("audit field", "Email"),
        "reservable": tr.pgettext("audit field", "May be reserved"),
        "prefix": tr.pgettext("audit field", "Prefix"),
        "serial_digits": tr.pgettext("audit field", "Serial digits"),
        "check_digit": tr.pgettext("audit field", "Check digit"),
        "starts_on": tr.pgettext("audit field", "Shown from"),
        "logo_type": tr.pgettext("audit field", "Logo image type"),
        "logo_bytes": tr.pgettext("audit field", "Logo size (bytes)"),
    }.get(code, "")


def code_use(tr: Translator, code: str) -> str:
    """What still uses a code (db.codes.Use kinds)."""
    return {
        "items": tr.pgettext("code use", "copies"),
        "patrons": tr.pgettext("code use", "patrons"),
        "applications": tr.pgettext("code use", "card applications"),
        "reference_questions": tr.pgettext("code use", "reference questions"),
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
    "audit_action": audit_action,
    "audit_screen": audit_screen,
    "audit_field": audit_field,
    "reference_status": reference_status,
    "case_status": case_status,
    "alert_kind": alert_kind,
    "reject_reason": reject_reason,
    "notice_kind": notice_kind,
    "hold_state": hold_state,
    "import_kind": import_kind,
    "code_use": code_use,
}


def label(tr: Translator, kind: str, code: str) -> str:
    """The words for `code` of a code set (`KINDS`), in the translator's language."""
    return KINDS[kind](tr, code)
