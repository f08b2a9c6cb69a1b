"""The managers' code tables (コード管理, seed 001 reserves コード変更 to managers): branches,
shelf locations, material types, patron categories, the card numbering rule, the library's
identity and logo, and the home page's announcements (db.codes has the rules the rest of
db shares).

Every write checks every field first and saves nothing when one is wrong
(StaffFormRefused, by field); a code still in use is never deleted (CodeInUse says where).
Each change writes one audit row (screen "code_tables:<table>/<key>") with the fields
changed and their values before and after — code-table values only, never a patron's.
The code-table cache of each process (db.search_cache) is cleared by every change, so this
process shows it at once and the others within CODE_TABLE_SECONDS.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Row

from db import card_numbers, codes, emails, japanese_input, loan_rules, search_cache, staff
from db.clock import aware_utc, aware_utc_or_none, library_today
from db.engine import reads, writes
from db.errors import NotFound, QueryError, Refusal
from db.localized import LIBRARY_LANG, Localized
from db.models import TABLES
from db.staff import StaffActor, StaffFormRefused

AnnouncementView = codes.AnnouncementView
LibraryIdentityView = codes.LibraryIdentityView

__all__ = [
    "ANNOUNCEMENT_MAX_CHARS",
    "CARD_CHECK_DIGITS",
    "LOGO_MAX_BYTES",
    "LOGO_TYPES",
    "AnnouncementInput",
    "AnnouncementView",
    "BranchCode",
    "BranchInput",
    "CardRuleInput",
    "CardRuleView",
    "CodeInUse",
    "CodeNotFound",
    "IdentityInput",
    "LibraryIdentityView",
    "LogoImage",
    "MaterialTypeCode",
    "MaterialTypeInput",
    "PatronCategoryCode",
    "ShelfLocationCode",
    "add_material_type",
    "add_patron_category",
    "add_shelf_location",
    "delete_material_type",
    "delete_patron_category",
    "delete_shelf_location",
    "end_announcement",
    "get_card_rule",
    "get_library_identity",
    "get_library_logo",
    "library_identity",
    "list_announcements",
    "list_category_codes",
    "list_category_names",
    "list_code_branches",
    "list_material_type_codes",
    "list_patron_categories",
    "list_shelf_locations",
    "remove_library_logo",
    "save_announcement",
    "save_branch",
    "save_card_rule",
    "save_library_identity",
    "save_material_type",
    "save_patron_category",
    "save_shelf_location",
    "set_library_logo",
]

_branch = TABLES["branch"]
_shelf = TABLES["shelf_location"]
_mtype = TABLES["material_type"]
_category = TABLES["patron_category"]
_card_rule = TABLES["card_number_rule"]
_identity = TABLES["library_identity"]
_announcement = TABLES["announcement"]

SCREEN = "code_tables"
# staff_audit actions
CODE_ADD, CODE_EDIT, CODE_DELETE = "code_add", "code_edit", "code_delete"
LOGO_SET, LOGO_REMOVE = "logo_set", "logo_remove"
ANNOUNCEMENT_END = "announcement_end"

NAME_MAX_CHARS = 100
ADDRESS_MAX_CHARS = 200
ANNOUNCEMENT_MAX_CHARS = 500
CARD_CHECK_DIGITS = card_numbers.CHECK_DIGITS
CARD_PREFIX_MAX = 6
CARD_SERIAL_DIGITS = (4, 12)
LOGO_MAX_BYTES = 200 * 1024
# The image types a logo may be, told by their first bytes (never by the upload's word):
# no SVG, which may carry script.
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,19}")


class CodeNotFound(NotFound):
    code = "code_not_found"


class CodeInUse(QueryError):
    """A code still used by other rows: `uses` says by which and how many."""

    def __init__(self, uses: tuple[codes.Use, ...]) -> None:
        total = sum(u.count for u in uses)
        super().__init__("code_in_use", count=total, where=tuple(u.kind for u in uses))
        self.uses = uses


# ---------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchCode:
    id: int
    code: str
    names: Localized
    address: str
    phone: str
    sort_order: int


@dataclass(frozen=True)
class BranchInput:
    names: Mapping[str, str]  # language → name as typed
    address: str
    phone: str


@dataclass(frozen=True)
class ShelfLocationCode:
    id: int
    branch_code: str
    branch: Localized
    code: str
    names: Localized
    sort_order: int


@dataclass(frozen=True)
class MaterialTypeCode:
    code: str
    names: Localized
    loan_days: int
    reservable: bool


@dataclass(frozen=True)
class MaterialTypeInput:
    names: Mapping[str, str]
    loan_days: int | None  # None: not a whole number (web.forms.whole_number)
    reservable: bool


@dataclass(frozen=True)
class PatronCategoryCode:
    code: str
    names: Localized
    sort_order: int


@dataclass(frozen=True)
class CardRuleView:
    prefix: str
    serial_digits: int
    check_digit: str
    example: str  # the first number under the rule


@dataclass(frozen=True)
class CardRuleInput:
    prefix: str
    serial_digits: int | None
    check_digit: str


@dataclass(frozen=True)
class IdentityInput:
    names: Mapping[str, str]
    short_names: Mapping[str, str]
    address: str
    phone: str
    email: str


@dataclass(frozen=True)
class LogoImage:
    data: bytes
    content_type: str
    updated_at: datetime | None


@dataclass(frozen=True)
class AnnouncementInput:
    texts: Mapping[str, str]
    starts_on: date | None  # None: not a date (web.forms.calendar_date)
    ends_on: date | None
    ends_on_typed: bool = False  # something was typed for the end date


# ---------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------


def _names(
    errors: dict[str, Refusal], field: str, typed: Mapping[str, str], limit: int = NAME_MAX_CHARS
) -> dict[str, str]:
    """Names per language, tidied; the library's language is required."""
    names = {
        lang: japanese_input.name(unicodedata.normalize("NFC", text))
        for lang, text in typed.items()
    }
    names = {lang: text for lang, text in names.items() if text}
    for lang, text in names.items():
        if len(text) > limit:
            errors[f"{field}.{lang}"] = Refusal.of("name_too_long", max=limit)
    if LIBRARY_LANG not in names:
        errors[f"{field}.{LIBRARY_LANG}"] = Refusal("code_name_required")
    return names


def _address(errors: dict[str, Refusal], field: str, typed: str) -> str:
    value = japanese_input.address(typed)
    if len(value) > ADDRESS_MAX_CHARS:
        errors[field] = Refusal("address_too_long")
    return value


def _phone(errors: dict[str, Refusal], field: str, typed: str) -> str:
    value = japanese_input.phone_text(typed)
    if value and japanese_input.phone(value) is None:
        errors[field] = Refusal("phone_format")
    return value


def _code(errors: dict[str, Refusal], field: str, typed: str) -> str:
    value = unicodedata.normalize("NFKC", typed).strip().lower()
    if _CODE.fullmatch(value) is None:
        errors[field] = Refusal.of("code_format", max=20)
    return value


def _refuse_if(errors: dict[str, Refusal]) -> None:
    if errors:
        raise StaffFormRefused(errors)


def _audit(
    conn: Connection,
    actor: StaffActor,
    now: datetime,
    table: str,
    key: str,
    action: str,
    changes: Mapping[str, tuple[Any, Any]],
) -> None:
    staff.write_audit(
        conn,
        actor,
        None,
        list(changes),
        f"{SCREEN}:{table}/{key}",
        action,
        staff.ALLOWED,
        now,
        changes=changes,
    )
    search_cache.clear()


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each field whose value changed, names per language as `names.ja` …"""
    changed: dict[str, tuple[Any, Any]] = {}
    for name, value in after.items():
        old = before.get(name)
        if isinstance(value, dict) or isinstance(old, dict):
            old_d, new_d = dict(old or {}), dict(value or {})
            for lang in sorted(set(old_d) | set(new_d)):
                if old_d.get(lang, "") != new_d.get(lang, ""):
                    changed[f"{name}.{lang}"] = (old_d.get(lang, ""), new_d.get(lang, ""))
        elif old != value:
            changed[name] = (old, value)
    return changed


def _as_dict(value: object) -> dict[str, str]:
    return Localized.of(value if isinstance(value, (dict, str)) else None).as_dict()


# ---------------------------------------------------------------------------------------
# Branches
# ---------------------------------------------------------------------------------------


@reads
def list_code_branches(conn: Connection, now: datetime) -> tuple[BranchCode, ...]:
    return tuple(
        BranchCode(r.id, r.code, Localized.of(r.names), r.address, r.phone, r.sort_order)
        for r in conn.execute(select(_branch).order_by(_branch.c.sort_order, _branch.c.code))
    )


@writes
def save_branch(
    conn: Connection, now: datetime, actor: StaffActor, code: str, typed: BranchInput
) -> int:
    """A branch's names, address and phone (hours: db.queries.calendar). → fields changed."""
    row = conn.execute(select(_branch).where(_branch.c.code == code)).first()
    if row is None:
        raise CodeNotFound()
    errors: dict[str, Refusal] = {}
    after = {
        "names": _names(errors, "names", typed.names),
        "address": _address(errors, "address", typed.address),
        "phone": _phone(errors, "phone", typed.phone),
    }
    _refuse_if(errors)
    before = {"names": _as_dict(row.names), "address": row.address, "phone": row.phone}
    changes = _diff(before, after)
    if changes:
        conn.execute(_branch.update().where(_branch.c.id == row.id).values(**after))
        _audit(conn, actor, now, "branch", code, CODE_EDIT, changes)
    return len(changes)


# ---------------------------------------------------------------------------------------
# Shelf locations (per branch)
# ---------------------------------------------------------------------------------------


@reads
def list_shelf_locations(conn: Connection, now: datetime) -> tuple[ShelfLocationCode, ...]:
    rows = conn.execute(
        select(_shelf, _branch.c.code.label("branch_code"), _branch.c.names.label("branch_names"))
        .select_from(_shelf.join(_branch, _branch.c.id == _shelf.c.branch_id))
        .order_by(_branch.c.sort_order, _shelf.c.sort_order, _shelf.c.code)
    )
    return tuple(
        ShelfLocationCode(
            r.id,
            r.branch_code,
            Localized.of(r.branch_names),
            r.code,
            Localized.of(r.names),
            r.sort_order,
        )
        for r in rows
    )


def _shelf_code(errors: dict[str, Refusal], field: str, typed: str) -> str:
    value = japanese_input.name(unicodedata.normalize("NFC", typed))
    if not value:
        errors[field] = Refusal("code_name_required")
    elif len(value) > NAME_MAX_CHARS:
        errors[field] = Refusal.of("name_too_long", max=NAME_MAX_CHARS)
    return value


@writes
def add_shelf_location(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    branch_code: str,
    code: str,
    names: Mapping[str, str],
) -> int:
    """A new shelf location of a branch; `code` is what copies' shelf_location holds."""
    errors: dict[str, Refusal] = {}
    branch_id = conn.execute(
        select(_branch.c.id).where(_branch.c.code == branch_code)
    ).scalar_one_or_none()
    if branch_id is None:
        errors["branch"] = Refusal("choose_branch")
    value = _shelf_code(errors, "code", code)
    clean = {k: v for k, v in ((k, japanese_input.name(v)) for k, v in names.items()) if v}
    for lang, text in clean.items():
        if len(text) > NAME_MAX_CHARS:
            errors[f"names.{lang}"] = Refusal.of("name_too_long", max=NAME_MAX_CHARS)
    if branch_id is not None and value:
        taken = conn.execute(
            select(_shelf.c.id).where(_shelf.c.branch_id == branch_id, _shelf.c.code == value)
        ).first()
        if taken is not None:
            errors["code"] = Refusal("code_taken")
    _refuse_if(errors)
    position = conn.execute(
        select(func.coalesce(func.max(_shelf.c.sort_order), 0)).where(
            _shelf.c.branch_id == branch_id
        )
    ).scalar_one()
    new_id = conn.execute(
        _shelf.insert().values(
            branch_id=branch_id, code=value, names=clean, sort_order=int(position) + 1
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    _audit(
        conn,
        actor,
        now,
        "shelf_location",
        f"{branch_code}/{value}",
        CODE_ADD,
        {"code": ("", value)},
    )
    return int(new_id)


def _shelf_row(conn: Connection, location_id: int) -> Row[Any]:
    """A shelf location with its branch's code, or CodeNotFound."""
    row = conn.execute(
        select(_shelf, _branch.c.code.label("branch_code"))
        .select_from(_shelf.join(_branch, _branch.c.id == _shelf.c.branch_id))
        .where(_shelf.c.id == location_id)
    ).first()
    if row is None:
        raise CodeNotFound()
    return row


@writes
def save_shelf_location(
    conn: Connection, now: datetime, actor: StaffActor, location_id: int, names: Mapping[str, str]
) -> int:
    """A shelf location's names (its code stays: copies hold it). → fields changed."""
    row = _shelf_row(conn, location_id)
    errors: dict[str, Refusal] = {}
    clean = {k: v for k, v in ((k, japanese_input.name(v)) for k, v in names.items()) if v}
    for lang, text in clean.items():
        if len(text) > NAME_MAX_CHARS:
            errors[f"names.{lang}"] = Refusal.of("name_too_long", max=NAME_MAX_CHARS)
    _refuse_if(errors)
    changes = _diff({"names": _as_dict(row.names)}, {"names": clean})
    if changes:
        conn.execute(_shelf.update().where(_shelf.c.id == location_id).values(names=clean))
        _audit(
            conn,
            actor,
            now,
            "shelf_location",
            f"{row.branch_code}/{row.code}",
            CODE_EDIT,
            changes,
        )
    return len(changes)


@writes
def delete_shelf_location(
    conn: Connection, now: datetime, actor: StaffActor, location_id: int
) -> None:
    """Refused (CodeInUse) while a copy stands there."""
    row = _shelf_row(conn, location_id)
    uses = codes.uses_of_shelf_location(conn, row.branch_id, row.code)
    if uses:
        raise CodeInUse(uses)
    conn.execute(_shelf.delete().where(_shelf.c.id == location_id))
    _audit(
        conn,
        actor,
        now,
        "shelf_location",
        f"{row.branch_code}/{row.code}",
        CODE_DELETE,
        {"code": (row.code, "")},
    )


# ---------------------------------------------------------------------------------------
# Material types
# ---------------------------------------------------------------------------------------


@reads
def list_material_type_codes(conn: Connection, now: datetime) -> tuple[MaterialTypeCode, ...]:
    return tuple(
        MaterialTypeCode(r.code, Localized.of(r.names), r.loan_days, bool(r.reservable))
        for r in conn.execute(select(_mtype).order_by(_mtype.c.code))
    )


def _material_values(errors: dict[str, Refusal], typed: MaterialTypeInput) -> dict[str, Any]:
    names = _names(errors, "names", typed.names)
    if typed.loan_days is None or not 0 <= typed.loan_days <= loan_rules.MAX_LOAN_DAYS:
        errors["loan_days"] = Refusal.of("rule_number", min=0, max=loan_rules.MAX_LOAN_DAYS)
    return {"names": names, "loan_days": typed.loan_days, "reservable": typed.reservable}


@writes
def add_material_type(
    conn: Connection, now: datetime, actor: StaffActor, code: str, typed: MaterialTypeInput
) -> str:
    """A new material type, with the default loan rules for every category."""
    errors: dict[str, Refusal] = {}
    value = _code(errors, "code", code)
    values = _material_values(errors, typed)
    if (
        "code" not in errors
        and conn.execute(select(_mtype.c.code).where(_mtype.c.code == value)).first()
    ):
        errors["code"] = Refusal("code_taken")
    _refuse_if(errors)
    conn.execute(_mtype.insert().values(code=value, **values))
    loan_rules.ensure_rules(conn)
    _audit(conn, actor, now, "material_type", value, CODE_ADD, _diff({}, values))
    return value


@writes
def save_material_type(
    conn: Connection, now: datetime, actor: StaffActor, code: str, typed: MaterialTypeInput
) -> int:
    """A material type's names, default loan period (0: in the library only) and whether
    it may be reserved. → fields changed."""
    row = conn.execute(select(_mtype).where(_mtype.c.code == code)).first()
    if row is None:
        raise CodeNotFound()
    errors: dict[str, Refusal] = {}
    after = _material_values(errors, typed)
    _refuse_if(errors)
    before = {
        "names": _as_dict(row.names),
        "loan_days": row.loan_days,
        "reservable": bool(row.reservable),
    }
    changes = _diff(before, after)
    if changes:
        conn.execute(_mtype.update().where(_mtype.c.code == code).values(**after))
        _audit(conn, actor, now, "material_type", code, CODE_EDIT, changes)
    return len(changes)


@writes
def delete_material_type(conn: Connection, now: datetime, actor: StaffActor, code: str) -> None:
    """Refused (CodeInUse) while a copy has it; its loan rules go with it."""
    row = conn.execute(select(_mtype).where(_mtype.c.code == code)).first()
    if row is None:
        raise CodeNotFound()
    uses = codes.uses_of_material_type(conn, code)
    if uses:
        raise CodeInUse(uses)
    conn.execute(loan_rules.loan_rule.delete().where(loan_rules.loan_rule.c.material_type == code))
    conn.execute(_mtype.delete().where(_mtype.c.code == code))
    _audit(conn, actor, now, "material_type", code, CODE_DELETE, {"code": (code, "")})


# ---------------------------------------------------------------------------------------
# Patron categories
# ---------------------------------------------------------------------------------------


def list_category_codes() -> tuple[str, ...]:
    """The patron categories' codes in the order forms offer them (kept per process)."""
    return codes.cached_category_codes()


def list_category_names() -> tuple[tuple[str, Localized], ...]:
    """(code, names) of every patron category, in order (kept per process)."""
    return codes.cached_category_names()


@reads
def list_patron_categories(conn: Connection, now: datetime) -> tuple[PatronCategoryCode, ...]:
    return tuple(
        PatronCategoryCode(r.code, Localized.of(r.names), r.sort_order)
        for r in conn.execute(select(_category).order_by(_category.c.sort_order, _category.c.code))
    )


@writes
def add_patron_category(
    conn: Connection, now: datetime, actor: StaffActor, code: str, names: Mapping[str, str]
) -> str:
    """A new category, with the default loan rules for every material type."""
    errors: dict[str, Refusal] = {}
    value = _code(errors, "code", code)
    clean = _names(errors, "names", names)
    if "code" not in errors and codes.is_category(conn, value):
        errors["code"] = Refusal("code_taken")
    _refuse_if(errors)
    position = conn.execute(select(func.coalesce(func.max(_category.c.sort_order), 0))).scalar_one()
    conn.execute(_category.insert().values(code=value, names=clean, sort_order=int(position) + 1))
    loan_rules.ensure_rules(conn)
    _audit(conn, actor, now, "patron_category", value, CODE_ADD, _diff({}, {"names": clean}))
    return value


@writes
def save_patron_category(
    conn: Connection, now: datetime, actor: StaffActor, code: str, names: Mapping[str, str]
) -> int:
    row = conn.execute(select(_category).where(_category.c.code == code)).first()
    if row is None:
        raise CodeNotFound()
    errors: dict[str, Refusal] = {}
    clean = _names(errors, "names", names)
    _refuse_if(errors)
    changes = _diff({"names": _as_dict(row.names)}, {"names": clean})
    if changes:
        conn.execute(_category.update().where(_category.c.code == code).values(names=clean))
        _audit(conn, actor, now, "patron_category", code, CODE_EDIT, changes)
    return len(changes)


@writes
def delete_patron_category(conn: Connection, now: datetime, actor: StaffActor, code: str) -> None:
    """Refused (CodeInUse) while a patron, an application or a reference question has it;
    its loan rules go with it."""
    if not codes.lock_category(conn, code):
        raise CodeNotFound()
    uses = codes.uses_of_category(conn, code)
    if uses:
        raise CodeInUse(uses)
    codes.delete_category_rules(conn, code)
    conn.execute(_category.delete().where(_category.c.code == code))
    _audit(conn, actor, now, "patron_category", code, CODE_DELETE, {"code": (code, "")})


# ---------------------------------------------------------------------------------------
# The card numbering rule
# ---------------------------------------------------------------------------------------


def _card_view(rule: card_numbers.CardRule) -> CardRuleView:
    return CardRuleView(rule.prefix, rule.serial_digits, rule.check_digit, rule.number(1))


@reads
def get_card_rule(conn: Connection, now: datetime) -> CardRuleView:
    return _card_view(card_numbers.current_rule(conn))


@writes
def save_card_rule(conn: Connection, now: datetime, actor: StaffActor, typed: CardRuleInput) -> int:
    """The rule new cards are numbered by (cards already given keep their numbers)."""
    errors: dict[str, Refusal] = {}
    prefix = unicodedata.normalize("NFKC", typed.prefix).strip()
    if len(prefix) > CARD_PREFIX_MAX or not (prefix.isascii() and (prefix.isdigit() or not prefix)):
        errors["prefix"] = Refusal.of("card_prefix_format", max=CARD_PREFIX_MAX)
    low, high = CARD_SERIAL_DIGITS
    if typed.serial_digits is None or not low <= typed.serial_digits <= high:
        errors["serial_digits"] = Refusal.of("rule_number", min=low, max=high)
    if typed.check_digit not in CARD_CHECK_DIGITS:
        errors["check_digit"] = Refusal("choose_option")
    _refuse_if(errors)
    current = card_numbers.current_rule(conn)
    before = {
        "prefix": current.prefix,
        "serial_digits": current.serial_digits,
        "check_digit": current.check_digit,
    }
    after = {
        "prefix": prefix,
        "serial_digits": typed.serial_digits,
        "check_digit": typed.check_digit,
    }
    changes = _diff(before, after)
    if changes:
        if conn.execute(select(_card_rule.c.id)).first() is None:
            conn.execute(_card_rule.insert().values(id=1, **after))
        else:
            conn.execute(_card_rule.update().where(_card_rule.c.id == 1).values(**after))
        _audit(conn, actor, now, "card_rule", "1", CODE_EDIT, changes)
    return len(changes)


# ---------------------------------------------------------------------------------------
# The library's identity and logo
# ---------------------------------------------------------------------------------------


def library_identity() -> LibraryIdentityView:
    """The current library's identity, kept per process and library (db.search_cache's code
    tables: the page header and the mail subjects read it without a query; `_audit` clears
    it, so a rename in the console shows at once)."""
    return search_cache.code_table("library_identity", _read_identity)[0]


@reads
def _read_identity(conn: Connection, now: datetime) -> tuple[LibraryIdentityView]:
    return (codes.identity_view(conn),)


@reads
def get_library_identity(conn: Connection, now: datetime) -> LibraryIdentityView:
    return codes.identity_view(conn)


@writes
def save_library_identity(
    conn: Connection, now: datetime, actor: StaffActor, typed: IdentityInput
) -> int:
    errors: dict[str, Refusal] = {}
    email = japanese_input.email(typed.email)
    if email and not emails.is_email(email):
        errors["email"] = Refusal("email_format")
    after = {
        "names": _names(errors, "names", typed.names),
        "short_names": _names(errors, "short_names", typed.short_names),
        "address": _address(errors, "address", typed.address),
        "phone": _phone(errors, "phone", typed.phone),
        "email": email,
    }
    _refuse_if(errors)
    current = codes.identity_view(conn)
    before = {
        "names": current.names.as_dict(),
        "short_names": current.short_names.as_dict(),
        "address": current.address,
        "phone": current.phone,
        "email": current.email,
    }
    changes = _diff(before, after)
    if changes:
        _write_identity(conn, now, after)
        _audit(conn, actor, now, "identity", "1", CODE_EDIT, changes)
    return len(changes)


def _write_identity(conn: Connection, now: datetime, values: Mapping[str, Any]) -> None:
    stamped = {**values, "updated_at": aware_utc(now)}
    if conn.execute(select(_identity.c.id)).first() is None:
        defaults = {
            "names": codes.LIBRARY_NAMES,
            "short_names": codes.LIBRARY_SHORT_NAMES,
            "address": "",
            "phone": "",
            "email": "",
            "logo_type": "",
        }
        conn.execute(_identity.insert().values(id=1, **{**defaults, **stamped}))
    else:
        conn.execute(_identity.update().where(_identity.c.id == 1).values(**stamped))


def logo_type(data: bytes) -> str | None:
    """The image type of a logo, told by its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@writes
def set_library_logo(conn: Connection, now: datetime, actor: StaffActor, data: bytes) -> str:
    """A small PNG, JPEG or WebP image (at most LOGO_MAX_BYTES). → its content type."""
    if not data:
        raise StaffFormRefused({"logo": Refusal("logo_required")})
    if len(data) > LOGO_MAX_BYTES:
        raise StaffFormRefused({"logo": Refusal.of("logo_too_large", max=LOGO_MAX_BYTES // 1024)})
    kind = logo_type(data)
    if kind is None:
        raise StaffFormRefused({"logo": Refusal("logo_type")})
    before = codes.identity_view(conn).logo_type
    _write_identity(conn, now, {"logo": data, "logo_type": kind})
    _audit(
        conn,
        actor,
        now,
        "identity",
        "logo",
        LOGO_SET,
        {"logo_type": (before, kind), "logo_bytes": ("", len(data))},
    )
    return kind


@writes
def remove_library_logo(conn: Connection, now: datetime, actor: StaffActor) -> None:
    before = codes.identity_view(conn).logo_type
    if not before:
        return
    _write_identity(conn, now, {"logo": None, "logo_type": ""})
    _audit(conn, actor, now, "identity", "logo", LOGO_REMOVE, {"logo_type": (before, "")})


@reads
def get_library_logo(conn: Connection, now: datetime) -> LogoImage | None:
    row = conn.execute(
        select(_identity.c.logo, _identity.c.logo_type, _identity.c.updated_at).where(
            _identity.c.id == 1
        )
    ).first()
    if row is None or not row.logo or row.logo_type not in LOGO_TYPES:
        return None
    return LogoImage(bytes(row.logo), row.logo_type, aware_utc_or_none(row.updated_at))


# ---------------------------------------------------------------------------------------
# Announcements (お知らせ)
# ---------------------------------------------------------------------------------------


@reads
def list_announcements(conn: Connection, now: datetime) -> tuple[AnnouncementView, ...]:
    """Every announcement, the latest start first."""
    today = library_today(now)
    return tuple(
        codes.announcement_view(r, today)
        for r in conn.execute(
            select(_announcement).order_by(
                _announcement.c.starts_on.desc(), _announcement.c.id.desc()
            )
        )
    )


@writes
def save_announcement(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    announcement_id: int | None,
    typed: AnnouncementInput,
) -> int:
    """Create (announcement_id None) or change an announcement. → its id."""
    errors: dict[str, Refusal] = {}
    texts = _names(errors, "texts", typed.texts, ANNOUNCEMENT_MAX_CHARS)
    if typed.starts_on is None:
        errors["starts_on"] = Refusal("date_format")
    if typed.ends_on_typed and typed.ends_on is None:
        errors["ends_on"] = Refusal("date_format")
    elif typed.starts_on and typed.ends_on and typed.ends_on < typed.starts_on:
        errors["ends_on"] = Refusal("closure_ends_before_start")
    row = None
    if announcement_id is not None:
        row = conn.execute(
            select(_announcement).where(_announcement.c.id == announcement_id)
        ).first()
        if row is None:
            raise CodeNotFound()
    _refuse_if(errors)
    after = {"texts": texts, "starts_on": typed.starts_on, "ends_on": typed.ends_on}
    stamp = aware_utc(now)
    if row is None:
        new_id = conn.execute(
            _announcement.insert().values(**after, created_at=stamp, updated_at=stamp)
        ).inserted_primary_key[0]  # type: ignore[index]
        _audit(conn, actor, now, "announcement", str(new_id), CODE_ADD, _diff({}, after))
        return int(new_id)
    before = {"texts": _as_dict(row.texts), "starts_on": row.starts_on, "ends_on": row.ends_on}
    changes = _diff(before, after)
    if changes:
        conn.execute(
            _announcement.update()
            .where(_announcement.c.id == row.id)
            .values(**after, updated_at=stamp)
        )
        _audit(conn, actor, now, "announcement", str(row.id), CODE_EDIT, changes)
    return int(row.id)


@writes
def end_announcement(
    conn: Connection, now: datetime, actor: StaffActor, announcement_id: int
) -> None:
    """Shown no more from today: its end becomes yesterday (an upcoming one: its start)."""
    row = conn.execute(select(_announcement).where(_announcement.c.id == announcement_id)).first()
    if row is None:
        raise CodeNotFound()
    today = library_today(now)
    if codes.announcement_state(today, row.starts_on, row.ends_on) == "ended":
        return
    yesterday = today - timedelta(days=1)
    starts, ends = min(row.starts_on, yesterday), yesterday
    conn.execute(
        _announcement.update()
        .where(_announcement.c.id == row.id)
        .values(starts_on=starts, ends_on=ends, updated_at=aware_utc(now))
    )
    _audit(
        conn,
        actor,
        now,
        "announcement",
        str(row.id),
        ANNOUNCEMENT_END,
        _diff(
            {"starts_on": row.starts_on, "ends_on": row.ends_on},
            {"starts_on": starts, "ends_on": ends},
        ),
    )
