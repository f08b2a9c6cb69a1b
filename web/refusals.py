"""Refusals from db in words: one message per refusal code, in the page's language.

db raises a code and its parameters (db.errors); this is the one place that words them,
for pages, JSON answers and the command line alike. A parameter that is a date or a
`Localized` name is formatted in the same language as the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request

from db import queries
from web import labels
from web.i18n import N_, Catalogues, Translator, translator

MESSAGES: dict[str, str] = {
    "too_many_attempts": N_("Too many attempts. Please wait a while and try again."),
    "password_too_short": N_("Use at least %(min)s characters."),
    "password_too_long": N_("Use at most %(max)s characters."),
    "password_too_common": N_("That password is too common and easy to guess. Choose another."),
    "password_has_card_number": N_("Your password must not contain your library card number."),
    "password_is_birth_date": N_("Your birth date cannot be your password."),
    "staff_password_too_short": N_("Staff passwords need at least %(min)s characters."),
    "password_change_too_soon": N_("The password can be changed once every %(days)s day(s)."),
    "password_reused": N_("You cannot reuse one of your recent passwords."),
    "wrong_current_password": N_("The current password is wrong."),
    "items_on_loan": N_(
        "You still have %(count)s item(s) on loan: return them first, then delete the account."
    ),
    "address_change_open": N_(
        "You already asked for an address change: bring your ID to a counter, or withdraw "
        "that request first."
    ),
    "email_same": N_("That is already your email address."),
    "confirm_deletion": N_("Tick the box to confirm that everything is to be deleted."),
    "address_change_not_found": N_("No such address change request (already handled?)."),
    "email_link_invalid": N_(
        "This link cannot be used (expired, already used, or replaced by a newer one). Ask "
        "for a new one on the My data page."
    ),
    # One short line (a phone shows it whole); the page adds the note on repeated failures.
    "login_failed": N_("The card number or password is wrong."),
    "facts_refused": N_(
        "A password cannot be set with these details: they do not match our records, a "
        "password already exists, or there were too many attempts. Please ask at a library "
        "counter with your card."
    ),
    "code_refused": N_(
        "The card number or code is wrong, the code has expired, or there were too many "
        "attempts. Please try again later, or ask at a library counter with your card."
    ),
    "reset_link_refused": N_(
        "This link cannot be used (expired or already used). Please ask for a new one."
    ),
    "staff_login_failed": N_(
        "The staff ID or password is wrong, or this account cannot be used. After repeated "
        "failures you must wait."
    ),
    "second_factor_failed": N_(
        "The code is wrong or already used. Type the 6 digits from your authenticator app, or"
        " a recovery code."
    ),
    "authenticator_enrolled": N_("An authenticator is already enrolled."),
    "log_in_again": N_("Please log in again."),
    "session_not_found": N_("No such session."),
    "card_not_found": N_("No patron with that card number."),
    "patron_not_found": N_("Patron not found."),
    "unknown_category": N_("Unknown patron category."),
    "unknown_home_branch": N_("Unknown home branch."),
    "bad_email": N_("The email address is not valid."),
    "booklist_loss_unconfirmed": N_(
        "Resetting the password deletes your My Booklist (there is no recovery key). Tick the"
        " box to confirm."
    ),
    "booklist_weak_key": N_("The key settings are not strong enough."),
    "booklist_not_rewrapped": N_(
        "The My Booklist key could not be re-wrapped with the new password. Enable JavaScript"
        " and try again (your password was not changed)."
    ),
    "booklist_conflict": N_(
        "The booklist was changed on another device; merging and saving again."
    ),
    "booklist_malformed": N_("The encrypted data is malformed."),
    "booklist_too_large": N_("The booklist is too large to store."),
    "booklist_not_found": N_("There is no booklist."),
    "booklist_key_changed": N_("The booklist key changed. Please reload the page."),
    "booklist_changed": N_("The booklist changed. Please reload the page."),
    "unknown_card": N_("Unknown library card."),
    "card_expired": N_("This library card has expired; please renew it at the counter."),
    "unknown_barcode": N_("Unknown item barcode."),
    "already_on_loan": N_("This item is already on loan; check it in first."),
    "not_for_loan": N_("This item is for use in the library only and cannot be borrowed."),
    "item_missing": N_("This item is recorded as missing. It cannot be borrowed."),
    "item_in_process": N_("This item is being processed. It cannot be borrowed."),
    "item_in_transit": N_("This item is in transit between branches. It cannot be borrowed."),
    "item_on_hold_shelf": N_(
        "This item is on the hold shelf for a reservation. It cannot be borrowed."
    ),
    "item_unavailable": N_("Not available. It cannot be borrowed."),
    "item_to_pull": N_(
        "This copy is promised to a reservation and is on the pull list. It cannot be "
        "borrowed: scan it on the pull list instead."
    ),
    "loan_limit": N_("The loan limit (%(limit)s items) has been reached."),
    "not_on_loan": N_("This item is not on loan."),
    "loan_not_found": N_("Loan not found."),
    "renewal_overdue": N_("This item is overdue and cannot be renewed."),
    "renewal_limit": N_("The renewal limit (%(limit)s) has been reached."),
    "renewal_holds_waiting": N_("Someone is waiting for this item, so it cannot be renewed."),
    "renewal_not_for_loan": N_("This kind of material is not for loan and cannot be renewed."),
    "renewal_too_soon": N_(
        "Renewing today would not move the due date (%(due)s): a renewal gives %(days)s days "
        "from the day you renew. Please renew nearer the due date."
    ),
    "checkout_overdue": N_(
        "Overdue items on this patron's card: %(count)s. They must be returned first."
    ),
    "checkout_overdue_warn": N_(
        "Overdue items on this patron's card: %(count)s. Ask for them back before lending."
    ),
    "loan_limit_material": N_(
        "The loan limit for %(material)s (%(limit)s items) has been reached."
    ),
    "rule_number": N_("Enter a whole number from %(min)s to %(max)s."),
    "counter_no_card": N_("Scan or type the library card number."),
    "counter_no_barcode": N_("Scan or type the item barcode."),
    "counter_unknown_action": N_("Unknown counter action."),
    "hold_limit": N_("You can have at most %(limit)s reservations; cancel one you no longer need."),
    "already_reserved": N_("You have already reserved this title."),
    "on_loan_to_you": N_("You have this title on loan right now."),
    "not_reservable": N_("There is no copy that can be reserved (e.g. reference only)."),
    "unknown_pickup": N_("Choose a pickup library."),
    "already_ready": N_("The item is already waiting for you; the pickup library cannot change."),
    "cannot_suspend": N_(
        "A reservation cannot be suspended once an item has been set aside for it."
    ),
    "bad_suspend_date": N_("Choose a date from tomorrow up to %(days)s days ahead."),
    "undo_expired": N_(
        "It is more than %(minutes)s minutes since the cancellation: reserve the title again."
    ),
    "undo_used": N_("This cancellation was undone already: reserve the title again."),
    "hold_not_found": N_("Reservation not found."),
    "work_not_found": N_("Record not found."),
    "not_in_transit": N_("This item is not in transit."),
    "wrong_pickup_branch": N_("This item is for pickup at %(branch)s: send it on there."),
    "choose_option": N_("Choose one of the options."),
    "series_too_few": N_("Choose at least two volumes."),
    "series_over_limit": N_(
        "You can have at most %(limit)s reservations; you can add %(free)s more. Choose fewer"
        " volumes."
    ),
    "step_back_days": N_("Choose from 1 to %(max)s days."),
    "step_back_nobody_behind": N_(
        "Nobody else is waiting for this title, so the item stays set aside for you."
    ),
    "enrol_link_refused": N_(
        "This enrolment link cannot be used (expired, used, or the account has ended). Ask a "
        "manager for a new one."
    ),
    "check_fields": N_("Please check the highlighted fields."),
    "staff_code_format": N_("The staff ID must be 3–20 letters or digits."),
    "staff_name_format": N_("Enter a name (up to 100 characters)."),
    "affiliation_too_long": N_("Up to 100 characters."),
    "choose_role": N_("Choose a role."),
    "unknown_duty": N_("Unknown duty."),
    "duties_for_temporary_only": N_("Only temporary staff can take assigned duties."),
    "ends_on_past": N_("The end date must be today or later (use End now to end at once)."),
    "choose_branch": N_("Choose a branch."),
    "staff_code_taken": N_("This staff ID is taken."),
    "staff_not_found": N_("No such staff account."),
    "own_role": N_("You cannot change your own role."),
    "own_account_end": N_("You cannot end your own account."),
    "own_enrol_link": N_("Ask another manager to reset your own account."),
    "account_ended": N_("This account has ended."),
    "staff_refused": N_("Your role does not allow this (the attempt was recorded)."),
    "address_required": N_("Enter the address."),
    "address_too_long": N_("The address is too long (200 characters)."),
    "phone_format": N_(
        "Enter the phone number with its area code: 10 or 11 digits (e.g. 0466-25-1111)."
    ),
    "email_format": N_(
        "This is not an email address (e.g. name@example.jp). It may be left empty."
    ),
    "choose_category": N_("Choose a category."),
    "name_required": N_("Enter your name."),
    "name_too_long": N_("Up to %(max)s characters."),
    "kana_required": N_("Enter the reading of your name (furigana)."),
    "kana_format": N_(
        "Write the reading in hiragana or katakana (e.g. やまだ はなこ or ヤマダ ハナコ)."
    ),
    "birth_date_format": N_(
        "Enter the date of birth, e.g. 1990-04-01, 1990年4月1日, 平成2年4月1日 or H2.4.1."
    ),
    "birth_date_future": N_("The date of birth cannot be in the future."),
    "postal_code_format": N_("Enter the postal code as seven digits (e.g. 251-0052)."),
    "consent_required": N_("Please read the privacy notice and tick the box to agree."),
    "application_too_fast": N_(
        "This form was sent very quickly. Please check what you entered and send it again."
    ),
    "application_link_refused": N_(
        "This confirmation link cannot be used (already used, expired, or incomplete). "
        "Please apply again."
    ),
    "application_not_found": N_(
        "No application with this receipt number (it may have expired). Please apply again."
    ),
    "receipt_number_format": N_(
        "This is not a receipt number: it has ten digits (e.g. 12345-67890). Scan the QR code "
        "again or check the digits."
    ),
    "staff_application_not_found": N_(
        "No application with this receipt number is waiting: it may have expired, been "
        "confirmed or rejected, or its email may not be confirmed yet."
    ),
    "duplicate_unchecked": N_(
        "This may be someone who is already registered. Check the patron records, then tick "
        "the box to say you checked."
    ),
    "choose_reason": N_("Choose a reason."),
    "database_read_only": N_(
        "The database cannot be written: %(path)s is read-only for this user. Fix its "
        "permissions, then start again."
    ),
    "database_cannot_open": N_("The database %(path)s cannot be opened: %(reason)s"),
    "database_connection_refused": N_(
        "Cannot reach the database at %(address)s: the connection was refused (is PostgreSQL "
        "running there?)."
    ),
    "database_timed_out": N_("Cannot reach the database at %(address)s: no answer in time."),
    "database_host_unknown": N_(
        "Cannot reach the database at %(address)s: the host name is unknown."
    ),
    "database_login_refused": N_(
        "The database at %(address)s refused the login of user %(user)s: check the user name "
        "and password in SHIORI_DATABASE_URL."
    ),
    "database_missing": N_("There is no database %(name)s at %(address)s."),
    "database_unreachable": N_("Cannot reach the database at %(address)s."),
    "calendar_week_days": N_("Give all seven days of the week, Monday first."),
    "calendar_hours_format": N_(
        "Give both opening and closing times like 09:00 and 20:00, or leave both empty."
    ),
    "calendar_hours_order": N_("The closing time must be after the opening time."),
    "calendar_no_open_weekday": N_("A branch must be open on at least one day of the week."),
    "closure_ends_before_start": N_("The end date is before the start date."),
    "closure_too_long": N_("A closure can last at most %(days)s days."),
    "closure_not_found": N_("No such closure."),
    "closure_in_the_past": N_("This closure has already ended: give today or a later date."),
    "closure_exists": N_("This closure is already in the calendar."),
    "import_file_not_found": N_("File not found: %(name)s"),
    "import_cannot_open": N_("Cannot open the file %(name)s: %(reason)s"),
    "import_folder": N_("Cannot import this file: it is a folder."),
    "import_gzip_damaged": N_("Cannot import this file: the gzip data is damaged."),
    "import_unknown_source": N_("Unknown source: %(source)s (one of %(sources)s)"),
    "import_empty": N_("Cannot import this file: the file is empty."),
    "import_not_aozora_header": N_(
        "Cannot import this file: the CSV header is not an Aozora Bunko header."
    ),
    "import_unknown_format": N_(
        "Cannot import this file: it is neither MARC nor an Aozora Bunko CSV."
    ),
    "import_not_aozora": N_("Cannot import this file: it is not an Aozora Bunko CSV."),
    "import_not_marc": N_("Cannot import this file: it is not a MARC file."),
    "import_missing_fields": N_("missing: %(fields)s"),
    "import_no_title": N_("no title (245)"),
    "alert_limit": N_("You can keep at most %(limit)s alert conditions. Delete one first."),
    "alert_condition_invalid": N_("This condition cannot be used. Please check it."),
    "alert_not_found": N_("No such alert condition."),
    "import_unreadable_record": N_("unreadable record (%(error)s: %(detail)s)"),
    "import_record_damaged": N_("loaded, but part of the record is damaged (%(detail)s)"),
    "import_malformed_xml": N_("malformed XML, stopped here (%(detail)s)"),
    "import_stopped": N_("unreadable from here on (%(error)s: %(detail)s)"),
    "mail_not_found": N_("No such undelivered mail (it may have been sent or dismissed)."),
    "mail_nothing_to_resend": N_(
        "This mail cannot be re-sent: its text is gone (refused for good, or no longer needed)."
    ),
    "pull_not_listed": N_(
        "This copy is not on a pull list (already scanned, or not promised to a reservation)."
    ),
    "unknown_branch": N_("Unknown branch."),
    "import_field_too_long": N_(
        "refused: field %(tag)s is longer than %(limit)s characters (record at byte %(offset)s)"
    ),
    "import_record_too_long": N_(
        "refused: the record is longer than %(limit)s characters (record at byte %(offset)s)"
    ),
    "import_too_many_fields": N_(
        "refused: the record has more than %(limit)s fields and subfields"
        " (record at byte %(offset)s)"
    ),
    "import_value_too_long": N_("refused: %(column)s is longer than %(limit)s characters"),
    "import_row_too_long": N_("refused: the row is longer than %(limit)s characters"),
    "import_xml_entities": N_(
        "the file declares XML entities, which are not allowed; stopped here"
    ),
    "import_xml_markup_too_long": N_(
        "a piece of XML markup is longer than %(limit)s bytes; stopped here"
    ),
    "import_file_too_large": N_(
        "the file is larger than %(limit)s bytes (after decompression); stopped here"
    ),
    "reference_not_found": N_("Question not found."),
    "reference_text_required": N_("Please fill in this field."),
    "reference_text_too_long": N_("Use at most %(max)s characters."),
    "reference_useful_by_past": N_("This date has already passed."),
    "reference_useful_by_far": N_("Choose a date within %(days)s days."),
    "reference_no_email": N_(
        "We have no email address for you: choose to read the answer in My Library."
    ),
    "reference_not_deletable": N_("A question can be deleted once it has been answered or closed."),
    "reference_closed": N_("This question is closed."),
    "reference_bad_status": N_("The question cannot be moved to that state."),
    "reference_bad_url": N_("Enter a web address starting with http:// or https://."),
    "reference_bad_source": N_("This source cannot be cited."),
    "reference_unknown_work": N_("That record is not in the catalogue."),
    "reference_too_many_sources": N_("Cite at most %(max)s sources."),
    "reference_assignee": N_(
        "Choose a staff member who may answer reference questions (staff, managers, or "
        "temporary staff given the reference duty)."
    ),
    "case_not_found": N_("No such reference case."),
    "case_question_required": N_("Write the question."),
    "case_answer_required": N_("Write the answer."),
    "case_text_too_long": N_("Up to %(max)s characters."),
    "case_list_too_long": N_("Up to %(items)s lines of 500 characters each."),
    "case_ndc_format": N_("NDC numbers like 913.6, one a line, up to %(items)s."),
    "case_has_email": N_("This contains an email address: remove it before submitting."),
    "case_has_phone": N_("This contains a phone number: remove it before submitting."),
    "case_has_card_number": N_(
        "This contains a long number that may be a library card number: remove it before "
        "submitting."
    ),
    "case_has_patron_name": N_(
        "This contains the questioner's name (or part of it): rewrite it before submitting."
    ),
    "case_published": N_("This case is public: withdraw it before changing it."),
    "case_not_submitted": N_("This case is not waiting for approval."),
    "case_own_approval": N_(
        "You wrote this case: a second member of staff must approve it (the attempt was recorded)."
    ),
    "case_changed": N_("The case was changed after you opened it. Read it again, then approve."),
    "terminal_name_required": N_("Enter a name for the terminal."),
    "terminal_not_found": N_("No such terminal."),
    "terminal_link_refused": N_(
        "This enrolment link cannot be used (unknown, already used, expired, or the terminal "
        "was revoked). Ask a manager for a new one."
    ),
    "import_wrong_kind": N_("Cannot import this file as %(wanted)s: it is %(found)s."),
    "import_header_missing": N_(
        "Cannot import this file as %(wanted)s: the header lacks the columns %(columns)s."
    ),
    "import_no_holdings": N_(
        "Cannot import this file: it is MARC but has no holdings (852 or 949 fields)."
    ),
    "import_not_utf8": N_("Cannot import this file: it is neither UTF-8 nor Shift_JIS text."),
    "import_bad_csv": N_(
        "Cannot import this file: the CSV is malformed at line %(line)s (%(detail)s)."
    ),
    "import_bad_marc_xml": N_("Cannot import this file: the MARCXML is malformed (%(detail)s)."),
    "import_row_file_too_long": N_(
        "Cannot import this file: the row at line %(line)s is longer than %(limit)s characters."
    ),
    "import_row_required": N_("%(column)s is empty"),
    "import_row_bad_barcode": N_(
        "%(column)s is not a barcode (letters, digits and hyphens, up to 32)"
    ),
    "import_row_bad_card_number": N_(
        "card_number is not a card number (letters and digits, up to 20)"
    ),
    "import_row_bad_date": N_(
        "invalid date in %(column)s (西暦 or 和暦, e.g. 2024-04-01 or 令和6年4月1日)"
    ),
    "import_row_future_date": N_("%(column)s is in the future"),
    "import_row_unknown_branch": N_("unknown branch in %(column)s: %(value)s"),
    "import_row_unknown_category": N_("unknown patron category: %(value)s"),
    "import_row_unknown_material_type": N_("unknown material type: %(value)s"),
    "import_row_bad_status": N_(
        "unknown status: %(value)s (available, in_process, missing, on_loan)"
    ),
    "import_row_unknown_work": N_(
        "unknown work: the catalogue has no record with %(column)s %(value)s (not created)"
    ),
    "import_row_ambiguous_work": N_(
        "%(column)s %(value)s names several works: give ndl_number or source_id"
    ),
    "import_row_duplicate_barcode": N_("duplicate barcode %(barcode)s (already on line %(first)s)"),
    "import_row_duplicate_barcode_record": N_(
        "duplicate barcode %(barcode)s (already in record %(first)s)"
    ),
    "import_row_duplicate_card": N_("duplicate card number %(card)s (already on line %(first)s)"),
    "import_row_duplicate_hold": N_(
        "card %(card)s reserves the same title twice (already on line %(first)s)"
    ),
    "import_row_bad_kana": N_("%(column)s must be in kana (hiragana or katakana)"),
    "import_row_bad_phone": N_("%(column)s is not a Japanese phone number"),
    "import_row_bad_postal_code": N_("%(column)s is not a postal code (7 digits)"),
    "import_row_bad_email": N_("%(column)s is not an email address"),
    "import_row_bad_lang": N_("%(column)s must be ja or en"),
    "import_row_bad_number": N_("%(column)s is not a whole number"),
    "import_row_due_before_checkout": N_("due_on is before checked_out_on"),
    "import_row_unknown_card": N_("unknown card number %(card)s (import the patrons first)"),
    "import_row_unknown_barcode": N_("unknown barcode %(barcode)s (import the copies first)"),
    "import_row_lent_to_another": N_("copy %(barcode)s is already on loan to another card"),
    "import_row_promised": N_("copy %(barcode)s is set aside for a reservation"),
    "import_row_hold_under_way": N_(
        "the reservation of card %(card)s already has a copy set aside: not changed"
    ),
    "import_row_withdraw_on_loan": N_("copy %(barcode)s is on loan: check it in, then withdraw it"),
    "import_row_normalised": N_("full-width digits normalised in %(column)s"),
    "import_row_not_held": N_("copy %(barcode)s is not held (already withdrawn?): no change"),
    "import_row_last_copy": N_(
        "copy %(barcode)s was the last of its title: %(count)s reservation(s) now wait for a copy"
    ),
    "code_name_required": N_("Enter the name in Japanese."),
    "code_format": N_(
        "Use 1 to %(max)s lower-case letters, digits, hyphens or underscores (e.g. senior)."
    ),
    "code_taken": N_("This code already exists."),
    "code_in_use": N_("This code is still in use (%(where)s: %(count)s), so it cannot be deleted."),
    "code_not_found": N_("No such code."),
    "card_prefix_format": N_("Use up to %(max)s digits (0–9), or leave it empty."),
    "logo_required": N_("Choose an image file."),
    "logo_too_large": N_("The image is too large: at most %(max)s KB."),
    "logo_type": N_("Use a PNG, JPEG or WebP image."),
    "date_format": N_("Enter a date like 2026-12-28 or 令和8年12月28日."),
}

# The same refusals said to staff acting for a patron (the counter's telephone reservations):
# about the patron, not to them.
FOR_STAFF = {
    "hold_limit": N_("The patron already has %(limit)s reservations, the most allowed."),
    "already_reserved": N_("The patron has already reserved this title."),
    "on_loan_to_you": N_("The patron has this title on loan right now."),
}

# Parameters that hold codes of a code set (web/labels.py): each is worded, then listed.
_CODE_LISTS = {"fields": "import_field", "where": "code_use"}
# Parameters that hold one code of a code set (web/labels.py), worded.
_CODES = {"wanted": "import_kind", "found": "import_kind"}


def words(tr: Translator, refusal: queries.Refusal | queries.QueryError) -> str:
    """The refusal in the translator's language."""
    if isinstance(refusal, queries.QueryError):
        refusal = refusal.refusal
    values = {name: _value(tr, name, value) for name, value in refusal.params}
    return tr.gettext(MESSAGES[refusal.code], **values)


def problem_words(tr: Translator, problem: queries.ImportProblem) -> str:
    """An import problem, its position first, in the translator's language."""
    reason = words(tr, problem.reason)
    if problem.kind == "line":
        return tr.pgettext(
            "import problem", "line %(number)s: %(reason)s", number=problem.number, reason=reason
        )
    if problem.kind == "record":
        return tr.pgettext(
            "import problem", "record %(number)s: %(reason)s", number=problem.number, reason=reason
        )
    return tr.pgettext("import problem", "file: %(reason)s", reason=reason)


def say(request: Request, refusal: queries.Refusal | queries.QueryError) -> str:
    """The refusal in the request's language."""
    return words(translator(request), refusal)


def say_to_staff(request: Request, refusal: queries.QueryError) -> str:
    """The refusal in the request's language, worded for staff acting for a patron."""
    tr = translator(request)
    staff_words = FOR_STAFF.get(refusal.code)
    if staff_words is None:
        return words(tr, refusal)
    values = {name: _value(tr, name, value) for name, value in refusal.refusal.params}
    return tr.gettext(staff_words, **values)


def say_fields(request: Request, errors: Mapping[str, queries.Refusal]) -> dict[str, str]:
    """Per-field refusals (a form's errors) in the request's language."""
    tr = translator(request)
    return {field: words(tr, refusal) for field, refusal in errors.items()}


@lru_cache(maxsize=4)
def _catalogues(folder: Path) -> Catalogues:
    return Catalogues(folder)


def in_every_language(locale_dir: Path, say: Callable[[Translator], str]) -> str:
    """For the command line, which has no chosen language: `say` in every language, the
    default first, " / " between."""
    books = _catalogues(locale_dir)
    order = [books.default, *(lang for lang in books.languages if lang != books.default)]
    return " / ".join(say(books.translators[lang]) for lang in order)


def for_console(locale_dir: Path, refusal: queries.Refusal | queries.QueryError) -> str:
    """A refusal for the command line, in every language."""
    return in_every_language(locale_dir, lambda tr: words(tr, refusal))


def _value(tr: Translator, name: str, value: object) -> object:
    if name in _CODE_LISTS and isinstance(value, tuple):
        return tr.join([labels.label(tr, _CODE_LISTS[name], str(code)) for code in value])
    if name in _CODES and isinstance(value, str):
        return labels.label(tr, _CODES[name], value)
    if isinstance(value, queries.Localized):
        return value.get(tr.lang)
    if isinstance(value, date):
        return tr.date(value)
    return value
