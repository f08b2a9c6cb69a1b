"""Code tables (コード), in the caller's transaction: what managers keep in the console
(db.queries.code_tables) and what the rest of db reads from them.

The database is the source of branches, material types, shelf locations, patron
categories, the card numbering rule (db.card_numbers) and the library's identity (migration
0029). `ensure_code_tables` only seeds what is empty: SHIORI_BRANCHES and the demo's
material types and categories (db.rules) fill a new database and never overwrite what a
manager changed.

Shelf locations belong to a branch (each building has its own shelves); a copy's
`item.shelf_location` holds the location's code, and `add_missing_shelf_locations` makes a
row for each code copies use that has none (after the demo's copies, after an import).

A code in use cannot be deleted: `uses_of_*` say where it is used (how many rows of which
kind), so the console can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.engine import Connection

from db import loan_rules, rules, search_cache
from db.clock import aware_utc_or_none
from db.engine import reads
from db.localized import Localized
from db.models import TABLES

_branch = TABLES["branch"]
_mtype = TABLES["material_type"]
_category = TABLES["patron_category"]
_shelf = TABLES["shelf_location"]
_identity = TABLES["library_identity"]
_card_rule = TABLES["card_number_rule"]
_item = TABLES["item"]
_patron = TABLES["patron"]
_application = TABLES["application"]
_question = TABLES["reference_question"]
_loan_rule = TABLES["loan_rule"]
_announcement = TABLES["announcement"]

# The demo library's categories (db.rules.CATEGORIES) and their names, seeded by 0029.
CATEGORY_NAMES = {
    "general": ("一般", "General"),
    "university": ("大学生", "University student"),
    "high_school": ("高校生", "High school student"),
    "junior_high": ("中学生", "Junior high school student"),
    "elementary": ("小学生以下", "Elementary school or younger"),
    "other": ("その他", "Other"),
}
LIBRARY_NAMES = {"ja": "藤沢市図書館", "en": "Fujisawa City Libraries"}
LIBRARY_SHORT_NAMES = {"ja": "藤沢市図書館", "en": "Fujisawa Libraries"}


@dataclass(frozen=True)
class Use:
    """Rows of one kind that use a code (db.queries.code_tables says it in words)."""

    kind: str  # items, patrons, applications, reference_questions, staff, holds, terminals
    count: int


def category_codes(conn: Connection) -> tuple[str, ...]:
    """The library's patron categories, in the order forms offer them."""
    return tuple(
        conn.execute(
            select(_category.c.code).order_by(_category.c.sort_order, _category.c.code)
        ).scalars()
    )


def cached_category_codes() -> tuple[str, ...]:
    """`category_codes` kept per process (db.search_cache's code tables): for the forms and
    the checks that run outside a transaction. A change in the console clears it."""
    return search_cache.code_table("patron_category", _read_category_codes)


@reads
def _read_category_codes(conn: Connection, now: datetime) -> tuple[str, ...]:
    return category_codes(conn)


def cached_category_names() -> tuple[tuple[str, Localized], ...]:
    """Each category's code and names, kept per process like `cached_category_codes`."""
    return search_cache.code_table("patron_category_names", _read_category_names)


@reads
def _read_category_names(conn: Connection, now: datetime) -> tuple[tuple[str, Localized], ...]:
    return tuple(
        (r.code, Localized.of(r.names))
        for r in conn.execute(
            select(_category.c.code, _category.c.names).order_by(
                _category.c.sort_order, _category.c.code
            )
        )
    )


def is_category(conn: Connection, code: str) -> bool:
    found = conn.execute(select(_category.c.code).where(_category.c.code == code)).first()
    return found is not None


def hold_category(conn: Connection, code: str) -> bool:
    """Whether the category exists, its row held (PostgreSQL FOR KEY SHARE; SQLite's writer
    lock does the same) until the caller's transaction ends: a patron or application stored
    with it cannot race `lock_category` in a delete that counted no uses."""
    query = select(_category.c.code).where(_category.c.code == code)
    found = conn.execute(query.with_for_update(read=True, key_share=True)).first()
    return found is not None


def lock_category(conn: Connection, code: str) -> bool:
    """Whether the category exists, its row locked FOR UPDATE (waits for `hold_category`)."""
    query = select(_category.c.code).where(_category.c.code == code)
    return conn.execute(query.with_for_update()).first() is not None


def ensure_code_tables(conn: Connection, branches: tuple[rules.BranchSpec, ...]) -> None:
    """Seed the empty tables: branches (SHIORI_BRANCHES), material types and categories
    (db.rules), the card rule and the identity rows; then the loan rules of every
    category × type (db.loan_rules) and the shelf locations copies use."""
    if conn.execute(select(func.count()).select_from(_branch)).scalar_one() == 0:
        for position, spec in enumerate(branches):
            conn.execute(
                _branch.insert().values(
                    code=spec.code, names=spec.names.as_dict(), sort_order=position
                )
            )
    if conn.execute(select(func.count()).select_from(_mtype)).scalar_one() == 0:
        for mt in rules.MATERIAL_TYPES:
            conn.execute(
                _mtype.insert().values(
                    code=mt.code,
                    names=mt.names.as_dict(),
                    loan_days=mt.loan_days,
                    reservable=mt.reservable,
                )
            )
    if conn.execute(select(func.count()).select_from(_category)).scalar_one() == 0:
        for position, code in enumerate(rules.CATEGORIES):
            ja, en = CATEGORY_NAMES.get(code, (code, code))
            conn.execute(
                _category.insert().values(
                    code=code, names={"ja": ja, "en": en}, sort_order=position
                )
            )
    if conn.execute(select(_card_rule.c.id)).first() is None:
        conn.execute(
            _card_rule.insert().values(id=1, prefix="21", serial_digits=7, check_digit="luhn")
        )
    if conn.execute(select(_identity.c.id)).first() is None:
        conn.execute(
            _identity.insert().values(
                id=1,
                names=LIBRARY_NAMES,
                short_names=LIBRARY_SHORT_NAMES,
                address="",
                phone="",
                email="",
                logo_type="",
            )
        )
    loan_rules.ensure_rules(conn)
    add_missing_shelf_locations(conn)


def add_missing_shelf_locations(conn: Connection) -> int:
    """A shelf-location row for every (branch, location) copies use that has none."""
    result = conn.execute(
        text(
            "INSERT INTO shelf_location (branch_id, code, sort_order) "
            "SELECT DISTINCT i.branch_id, i.shelf_location, 0 FROM item i "
            "WHERE i.shelf_location <> '' AND NOT EXISTS (SELECT 1 FROM shelf_location s "
            "WHERE s.branch_id = i.branch_id AND s.code = i.shelf_location)"
        )
    )
    return result.rowcount or 0


def add_shelf_location_names(conn: Connection, lang: str, names: dict[str, str]) -> None:
    """Name shelf locations (by code) in `lang` where they have no name in it yet."""
    rows = conn.execute(
        select(_shelf.c.id, _shelf.c.code, _shelf.c.names).where(_shelf.c.code.in_(names))
    ).all()
    for row in rows:
        have = dict(row.names or {})
        if not have.get(lang):
            have.setdefault("ja", row.code)
            have[lang] = names[row.code]
            conn.execute(update(_shelf).where(_shelf.c.id == row.id).values(names=have))


def shelf_location_names(conn: Connection, branch_id: int, code: str) -> Localized:
    """The words for a shelf location (its code where no name was given)."""
    names = conn.execute(
        select(_shelf.c.names).where(_shelf.c.branch_id == branch_id, _shelf.c.code == code)
    ).scalar_one_or_none()
    found = Localized.of(names)
    return found if found.texts else Localized.of({"ja": code})


def _count(conn: Connection, stmt: Select[Any]) -> int:
    return int(conn.execute(stmt).scalar_one())


def uses_of_category(conn: Connection, code: str) -> tuple[Use, ...]:
    """Where a patron category is used (its loan rules go with it and do not count)."""
    uses = (
        Use("patrons", _count(conn, select(func.count()).where(_patron.c.category == code))),
        Use(
            "applications",
            _count(conn, select(func.count()).where(_application.c.category == code)),
        ),
        Use(
            "reference_questions",
            _count(conn, select(func.count()).where(_question.c.category == code)),
        ),
    )
    return tuple(u for u in uses if u.count)


def uses_of_material_type(conn: Connection, code: str) -> tuple[Use, ...]:
    """Where a material type is used (its loan rules go with it and do not count)."""
    n = _count(conn, select(func.count()).where(_item.c.material_type == code))
    return (Use("items", n),) if n else ()


def uses_of_shelf_location(conn: Connection, branch_id: int, code: str) -> tuple[Use, ...]:
    n = _count(
        conn,
        select(func.count()).where(_item.c.branch_id == branch_id, _item.c.shelf_location == code),
    )
    return (Use("items", n),) if n else ()


def delete_category_rules(conn: Connection, code: str) -> None:
    """A deleted category's loan rules go with it."""
    conn.execute(_loan_rule.delete().where(_loan_rule.c.category == code))


@dataclass(frozen=True)
class LibraryIdentityView:
    names: Localized
    short_names: Localized
    address: str
    phone: str
    email: str
    logo_type: str  # "" without a logo
    logo_version: int  # changes with the logo (a cache-busting query string)


def identity_view(conn: Connection) -> LibraryIdentityView:
    """The library's identity (the defaults where the row is missing); never the logo."""
    row = conn.execute(
        select(
            _identity.c.names,
            _identity.c.short_names,
            _identity.c.address,
            _identity.c.phone,
            _identity.c.email,
            _identity.c.logo_type,
            _identity.c.updated_at,
        ).where(_identity.c.id == 1)
    ).first()
    if row is None:
        return LibraryIdentityView(
            Localized.of(LIBRARY_NAMES), Localized.of(LIBRARY_SHORT_NAMES), "", "", "", "", 0
        )
    updated = aware_utc_or_none(row.updated_at)
    return LibraryIdentityView(
        Localized.of(row.names),
        Localized.of(row.short_names),
        row.address,
        row.phone,
        row.email,
        row.logo_type,
        int(updated.timestamp()) if updated else 0,
    )


@dataclass(frozen=True)
class AnnouncementView:
    id: int
    texts: Localized
    starts_on: date
    ends_on: date | None
    state: str  # upcoming, current, ended (on the library's today)


def announcement_state(today: date, starts_on: date, ends_on: date | None) -> str:
    if ends_on is not None and ends_on < today:
        return "ended"
    return "upcoming" if starts_on > today else "current"


def announcement_view(row: Any, today: date) -> AnnouncementView:
    return AnnouncementView(
        row.id,
        Localized.of(row.texts),
        row.starts_on,
        row.ends_on,
        announcement_state(today, row.starts_on, row.ends_on),
    )


def current_announcements(conn: Connection, today: date) -> tuple[AnnouncementView, ...]:
    """The announcements shown today, the latest start first."""
    rows = conn.execute(
        select(_announcement)
        .where(
            _announcement.c.starts_on <= today,
            (_announcement.c.ends_on.is_(None)) | (_announcement.c.ends_on >= today),
        )
        .order_by(_announcement.c.starts_on.desc(), _announcement.c.id.desc())
        .limit(10)
    )
    return tuple(announcement_view(r, today) for r in rows)
