"""Business vocabulary: item statuses, material types, branches, search limits."""

from __future__ import annotations

from dataclasses import dataclass

from db.localized import Localized

# Item statuses. "available" is the only one a patron can take from the shelf.
AVAILABLE = "available"
ON_LOAN = "on_loan"
IN_TRANSIT = "in_transit"
ON_HOLD_SHELF = "on_hold_shelf"
IN_PROCESS = "in_process"
MISSING = "missing"
TO_PULL = "to_pull"  # on the shelf, promised to a reservation: on its branch's pull list
ITEM_STATUSES = (AVAILABLE, ON_LOAN, IN_TRANSIT, ON_HOLD_SHELF, IN_PROCESS, MISSING, TO_PULL)


@dataclass(frozen=True)
class MaterialTypeRule:
    code: str
    names: Localized
    loan_days: int
    reservable: bool


def _names(ja: str, en: str) -> Localized:
    return Localized.of({"ja": ja, "en": en})


# The demo library's material types and names (data: stored per language in the database).
MATERIAL_TYPES = (
    MaterialTypeRule("book", _names("図書", "Book"), 14, True),
    MaterialTypeRule("children", _names("児童書", "Children's book"), 14, True),
    MaterialTypeRule("bunko", _names("文庫", "Paperback (bunko)"), 14, True),
    MaterialTypeRule(
        "reference", _names("参考図書（館内のみ）", "Reference (in library only)"), 0, False
    ),
    MaterialTypeRule("av", _names("視聴覚資料", "Audio-visual"), 7, True),
)


@dataclass(frozen=True)
class BranchSpec:
    code: str
    names: Localized


# Fujisawa's four branches; SHIORI_BRANCHES replaces them in an empty database only (db.codes).
DEFAULT_BRANCHES = (
    BranchSpec("sogo", _names("総合市民図書館", "Central Civic Library")),
    BranchSpec("minami", _names("南市民図書館", "Minami Civic Library")),
    BranchSpec("tsujido", _names("辻堂市民図書館", "Tsujido Civic Library")),
    BranchSpec("shonan-oba", _names("湘南大庭市民図書館", "Shonan-Oba Civic Library")),
)

# Search bounds: results are ranked among at most RANK_CAP text matches (plus exact and
# prefix title matches), and counted exactly below that ("1,000件以上" above it), so a
# one-character query over a million works stays fast.
PAGE_SIZE = 20
MAX_PAGE = 50  # RANK_CAP / PAGE_SIZE
RANK_CAP = 1000
# Facets are counted for result sets up to this size (db.queries.facets): counting costs
# about as much as the search itself at a few hundred works, and grows with the set.
FACET_MAX = 200
SORTS = ("relevance", "title", "year_desc", "year_asc")
NDC_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "K")


# The patron categories a new database is seeded with (table patron_category since migration
# 0029: managers keep them), from Fujisawa's reference form [003].
CATEGORIES = ("general", "university", "high_school", "junior_high", "elementary", "other")

# How a password came to be set; shown to the patron after login.
PASSWORD_VIA_WEB_FIRST = "web_first"  # card number + birth date + phone, from the web
PASSWORD_VIA_CODE = "activation_code"  # a code issued at the counter
PASSWORD_VIA_RESET = "reset"  # an emailed link
PASSWORD_VIA_CHANGE = "change"  # changed while logged in
PASSWORD_VIA_DEMO = "demo"  # demo data

CARD_VALID_YEARS = 3  # a library card's validity from registration

PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 256
ACTIVATION_CODE_HOURS = 72
RESET_LINK_MINUTES = 30

# Circulation.
RENEWAL_LIMIT = 1
LOAN_LIMIT = 20
PURGE_AFTER_YEARS_WITHOUT_LOAN = 3  # seed 000-4

# Mail outbox (db.queries.mail): a message the server put off is retried with doubling
# waits (1, 2, 4 … minutes, at most MAIL_RETRY_CAP_SECONDS) for MAIL_RETRY_DAYS (the
# SHIORI_MAIL_RETRY_DAYS default); an unreachable server costs no message an attempt.
MAIL_RETRY_BASE_SECONDS = 60
MAIL_RETRY_CAP_SECONDS = 3600
MAIL_RETRY_DAYS = 3
# A sending run's claim on its rows is a lease renewed while it works: after a crash the
# rows are free again within this time. Longer than one SMTP transaction can take.
MAIL_CLAIM_SECONDS = 60
# A message left in doubt (no reply to its final ".") is re-sent with the same Message-ID
# until it has been in doubt this many times, then given up for staff to settle.
MAIL_MAX_DOUBTS = 3

# Catalogue import bounds (db/importers). A record over a bound is refused with its position
# and the rest of the file loads; a file over a bound stops there (what came before stays).
# ISO 2709 caps a field at 9,999 bytes and a record at 99,999; the longest value in the
# Aozora catalogue is 11,989 characters. Memory per record stays below a few megabytes.
IMPORT_MAX_FIELD_CHARS = 20_000  # one MARC (sub)field or control field, one CSV value
IMPORT_MAX_RECORD_CHARS = 100_000  # a MARC record's text together; one CSV row (its lines)
IMPORT_MAX_RECORD_FIELDS = 10_000  # fields and subfields of one MARC record
IMPORT_MAX_XML_MARKUP_BYTES = 1 << 20  # one tag, comment or other piece of XML markup
IMPORT_MAX_FILE_BYTES = 4 << 30  # a file, after gzip decompression
IMPORT_MAX_GROUPED_FILE_BYTES = 256 << 20  # Aozora's per-person CSV, grouped in memory (17 MB)
IMPORT_MAX_LISTED_PROBLEMS = 1_000  # problems kept in a report (the rest are counted)

# Pre-registration (issue 13, seed 003-b): an application not confirmed at a counter within
# APPLICATION_DAYS (the SHIORI_APPLICATION_DAYS default; when every branch is closed on that
# last day, the next day one is open) is deleted; one whose emailed link
# is not opened within APPLICATION_EMAIL_LINK_HOURS is deleted then (it never counted).
APPLICATION_DAYS = 30
APPLICATION_EMAIL_LINK_HOURS = 24
# The privacy notice an applicant agrees to (templates/registration/privacy.html): change it
# when the notice changes, so each application records which one was shown.
PRIVACY_NOTICE_VERSION = "2026-12-01"
