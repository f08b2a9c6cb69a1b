"""Expected refusals: a stable code and its parameters, never finished text.

`web` words each code in the page's language (web/refusals.py, one message per code of
`CODES`). Parameters are plain values: numbers, strings, dates, `Localized` names.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every refusal code db raises or reports. A code names the reason, not the words.
CODES = frozenset(
    {
        # my data (issue 16): deleting the account, correcting an address
        "items_on_loan",  # count
        "address_change_open",
        "email_same",
        "email_link_invalid",
        "address_change_not_found",
        "confirm_deletion",
        # passwords and logins
        "too_many_attempts",
        "password_too_short",  # min
        "password_too_long",  # max
        "password_too_common",
        "password_has_card_number",
        "password_is_birth_date",
        "staff_password_too_short",  # min
        "password_change_too_soon",  # days
        "password_reused",
        "wrong_current_password",
        "login_failed",
        "facts_refused",
        "code_refused",
        "reset_link_refused",
        "staff_login_failed",
        "second_factor_failed",
        "authenticator_enrolled",
        "log_in_again",
        "session_not_found",
        # patrons
        "card_not_found",
        "patron_not_found",
        "unknown_category",
        "unknown_home_branch",
        "bad_email",
        # booklist
        "booklist_loss_unconfirmed",
        "booklist_weak_key",
        "booklist_not_rewrapped",
        "booklist_conflict",
        "booklist_malformed",
        "booklist_too_large",
        "booklist_not_found",
        "booklist_key_changed",
        "booklist_changed",
        # circulation
        "unknown_card",
        "card_expired",
        "unknown_barcode",
        "already_on_loan",
        "not_for_loan",
        "item_missing",
        "item_in_process",
        "item_in_transit",
        "item_on_hold_shelf",
        "item_unavailable",
        "loan_limit",  # limit
        "not_on_loan",
        "loan_not_found",
        "renewal_overdue",
        "renewal_limit",  # limit
        "renewal_holds_waiting",
        "renewal_not_for_loan",
        "renewal_too_soon",  # due (the current due date), days (the loan period)
        "checkout_overdue",  # count
        "checkout_overdue_warn",  # count
        "loan_limit_material",  # limit, material (Localized)
        "rule_number",  # min, max (a loan rule's field)
        "counter_no_card",
        "counter_no_barcode",
        "counter_unknown_action",
        # reservations
        "hold_limit",  # limit
        "already_reserved",
        "on_loan_to_you",
        "not_reservable",
        "unknown_pickup",
        "already_ready",
        "cannot_suspend",
        "bad_suspend_date",  # days
        "undo_expired",  # minutes
        "undo_used",
        "hold_not_found",
        "work_not_found",
        "not_in_transit",
        "wrong_pickup_branch",  # branch (Localized)
        "choose_option",
        "series_too_few",
        "series_over_limit",  # limit, free
        "step_back_days",  # max
        "step_back_nobody_behind",
        # staff accounts and patron records
        "enrol_link_refused",
        "check_fields",
        "staff_code_format",
        "staff_name_format",
        "affiliation_too_long",
        "choose_role",
        "unknown_duty",
        "duties_for_temporary_only",
        "ends_on_past",
        "choose_branch",
        "staff_code_taken",
        "staff_not_found",
        "own_role",
        "own_account_end",
        "own_enrol_link",
        "account_ended",
        "staff_refused",
        "address_required",
        "address_too_long",
        "phone_format",
        "email_format",
        "choose_category",
        # pre-registration (db.applications, db.queries.registration)
        "name_required",
        "name_too_long",  # max
        "kana_required",
        "kana_format",
        "birth_date_format",
        "birth_date_future",
        "postal_code_format",
        "consent_required",
        "application_too_fast",
        "application_link_refused",
        "application_not_found",
        # the counter side of pre-registration (db.queries.staff_registrations)
        "receipt_number_format",
        "staff_application_not_found",
        "duplicate_unchecked",
        "choose_reason",
        # starting: the database cannot be used (db.availability)
        "database_read_only",  # path
        "database_cannot_open",  # path, reason (the driver's words)
        "database_connection_refused",  # address (host:port)
        "database_timed_out",  # address
        "database_host_unknown",  # address
        "database_login_refused",  # address, user
        "database_missing",  # address, name
        "database_unreachable",  # address
        # the library calendar
        "calendar_week_days",
        "calendar_hours_format",
        "calendar_hours_order",
        "calendar_no_open_weekday",
        "closure_ends_before_start",
        "closure_too_long",  # days
        "closure_not_found",
        "closure_in_the_past",
        "closure_exists",
        # catalogue import
        "import_file_not_found",  # name
        "import_cannot_open",  # name, reason
        "import_folder",
        "import_gzip_damaged",
        "import_unknown_source",  # source, sources
        "import_empty",
        "import_not_aozora_header",
        "import_unknown_format",
        "import_not_aozora",
        "import_not_marc",
        # catalogue import: one row or record (db.catalog_write.ImportProblem)
        "import_missing_fields",  # fields (codes: work_id, title)
        "import_no_title",
        "import_unreadable_record",  # error (exception class), detail (the parser's text)
        "import_record_damaged",  # detail (the decoder's warnings)
        "import_malformed_xml",  # detail (the parser's text)
        "import_stopped",  # error (exception class), detail
        # new-arrival alerts (db.queries.alerts)
        "alert_limit",  # limit
        "alert_condition_invalid",
        "alert_not_found",
        # staff mail screen
        "mail_nothing_to_resend",
        "mail_not_found",
        # pull list (db.pulling)
        "item_to_pull",
        "pull_not_listed",
        "unknown_branch",
        # catalogue import: bounds (db.rules IMPORT_MAX_*); offset = the record's first byte
        "import_field_too_long",  # tag, limit, offset
        "import_record_too_long",  # limit, offset
        "import_too_many_fields",  # limit, offset
        "import_value_too_long",  # column, limit (a CSV value)
        "import_row_too_long",  # limit (a CSV row)
        "import_xml_entities",  # the file declares XML entities: refused
        "import_xml_markup_too_long",  # limit
        "import_file_too_large",  # limit (bytes, after decompression)
        # imports of the system being replaced (db.queries.imports): the file
        "import_wrong_kind",  # found, wanted (kinds: items, patrons … marc, catalogue)
        "import_header_missing",  # wanted, columns
        "import_no_holdings",
        "import_not_utf8",
        "import_bad_csv",  # line, detail
        "import_bad_marc_xml",  # detail
        "import_row_file_too_long",  # line, limit
        # … one row (db.importers.apply); never a personal value, a card number at most
        "import_row_required",  # column
        "import_row_bad_barcode",  # column
        "import_row_bad_card_number",
        "import_row_bad_date",  # column
        "import_row_future_date",  # column
        "import_row_unknown_branch",  # column, value (the code given)
        "import_row_unknown_category",  # value
        "import_row_unknown_material_type",  # value
        "import_row_bad_status",  # value
        "import_row_unknown_work",  # column, value
        "import_row_ambiguous_work",  # column, value
        "import_row_duplicate_barcode",  # barcode, first (a line)
        "import_row_duplicate_barcode_record",  # barcode, first (a MARC record)
        "import_row_duplicate_card",  # card, first
        "import_row_duplicate_hold",  # card, first
        "import_row_bad_kana",  # column
        "import_row_bad_phone",  # column
        "import_row_bad_postal_code",  # column
        "import_row_bad_email",  # column
        "import_row_bad_lang",  # column
        "import_row_bad_number",  # column
        "import_row_due_before_checkout",
        "import_row_unknown_card",  # card
        "import_row_unknown_barcode",  # barcode
        "import_row_lent_to_another",  # barcode
        "import_row_promised",  # barcode
        "import_row_hold_under_way",  # card
        "import_row_withdraw_on_loan",  # barcode
        # … notes on rows that were accepted
        "import_row_normalised",  # column
        "import_row_not_held",  # barcode
        "import_row_last_copy",  # barcode, count
        # reference service (db.reference)
        "reference_not_found",
        "reference_text_required",
        "reference_text_too_long",  # max
        "reference_useful_by_past",
        "reference_useful_by_far",  # days
        "reference_no_email",
        "reference_not_deletable",
        "reference_closed",
        "reference_bad_status",
        "reference_bad_url",
        "reference_bad_source",
        "reference_unknown_work",
        "reference_too_many_sources",  # max
        "reference_assignee",  # staff side: the chosen member may not take reference questions
        # the public reference collection (db.queries.reference_cases)
        "case_not_found",
        "case_question_required",
        "case_answer_required",
        "case_text_too_long",  # max
        "case_list_too_long",  # items
        "case_ndc_format",  # items
        "case_has_email",
        "case_has_phone",
        "case_has_card_number",
        "case_has_patron_name",
        "case_published",
        "case_not_submitted",
        "case_own_approval",
        "case_changed",
        # library kiosks (db.queries.terminals)
        "terminal_name_required",
        "terminal_not_found",
        "terminal_link_refused",
        # code tables (db.queries.code_tables)
        "code_name_required",
        "code_format",  # max
        "code_taken",
        "code_in_use",  # count, where (db.codes.Use kinds)
        "code_not_found",
        "card_prefix_format",  # max
        "logo_required",
        "logo_too_large",  # max (KB)
        "logo_type",
        "date_format",
    }
)


def _checked(code: str) -> str:
    if code not in CODES:
        raise ValueError(f"unknown refusal code {code!r}: add it to db.errors.CODES")
    return code


@dataclass(frozen=True)
class Refusal:
    """One reason, as a code and its parameters (a per-field error, a loan's renewal)."""

    code: str
    params: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        _checked(self.code)

    @classmethod
    def of(cls, code: str, **params: object) -> Refusal:
        return cls(code, tuple(sorted(params.items())))

    @property
    def values(self) -> dict[str, object]:
        return dict(self.params)


class QueryError(Exception):
    """A refusal the caller should show, not a bug. A subclass with one reason names its
    code in `code`; `str()` is the code (for logs), never words."""

    code = ""

    def __init__(self, code: str = "", /, **params: object) -> None:
        self.refusal = Refusal.of(_checked(code or type(self).code), **params)
        self.code = self.refusal.code
        super().__init__(self.code)

    @property
    def params(self) -> dict[str, object]:
        return self.refusal.values


class NotFound(QueryError):
    """No such row for this caller (another patron's row is NotFound too, never 403)."""


class ImportRefused(QueryError):
    """A file that cannot be imported at all (not what it claims, unreadable); nothing was
    written."""


class DatabaseUnavailable(QueryError):
    """The database cannot be opened for writing (db.availability); nothing was done."""


class TooManyAttempts(QueryError):
    """A throttled secret check (see db.throttle), where saying so reveals nothing."""

    code = "too_many_attempts"
