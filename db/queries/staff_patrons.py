"""What staff do with a patron's record: lookup, the record, corrections.

Masking happens here, not in templates: a field group the actor's role may not see comes
back as None, so no page or htmx fragment can show it. Every answer that carries a personal
field group writes one `staff_audit` row (who, when, whose, which groups, which screen,
outcome) in the same transaction — never the values (db.staff.write_audit; the audit
itself is db.queries.audit).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, func, literal, or_, select
from sqlalchemy.engine import Connection, Row

from db import circulation, codes, japanese_input, search
from db.clock import library_today, naive_utc
from db.emails import is_email
from db.engine import writes
from db.errors import NotFound, Refusal
from db.localized import Localized
from db.models import TABLES
from db.patrons import (
    EMAIL_RECORDED,
    EMAIL_REMOVED,
    notify_email_change,
    phone_digits,
)
from db.staff import (
    ALLOWED,
    EDIT,
    REFUSED,
    VIEW,
    StaffActor,
    StaffFormRefused,
    StaffRefused,
    write_audit,
)
from db.staff_policy import policy

__all__ = [
    "PatronEdit",
    "PatronRecord",
    "PatronSummary",
    "StaffRefused",
    "get_patron_for_staff",
    "lookup_patrons",
    "update_patron_for_staff",
]

_patron = TABLES["patron"]
_branch = TABLES["branch"]
_loan = TABLES["loan"]


@dataclass(frozen=True)
class PatronSummary:
    """One lookup hit. None = masked for this role."""

    id: int
    card_number: str
    name: str | None
    name_kana: str | None
    category: str
    expires_on: date
    expired: bool
    home_branch: Localized
    loans: int


@dataclass(frozen=True)
class StaffLoan:
    title: str
    barcode: str
    due_on: date
    overdue: bool
    renewals: int


@dataclass(frozen=True)
class PatronRecord:
    """A patron as one staff member may see them; None = masked. Never a password hash, a
    booklist or anything about returned items."""

    id: int
    card_number: str
    expires_on: date
    expired: bool
    home_branch: Localized
    category: str
    name: str | None
    name_kana: str | None
    address: str | None
    phone: str | None
    email: str | None
    email_pending: str | None  # recorded by staff, not yet confirmed by the patron
    birth_date: date | None
    loans: tuple[StaffLoan, ...] | None
    visible: frozenset[str]


@dataclass(frozen=True)
class PatronEdit:
    address: str
    phone: str
    email: str
    category: str


_RECORD = frozenset({"card", "category", "loans", "name", "contact", "birth_date"})


def _personal(groups: frozenset[str]) -> list[str]:
    known = policy().field_groups
    return sorted(g for g in groups if g in known and known[g].personal)


def _compact(value: str) -> str:
    return re.sub(r"[\s\u3000]+", "", value)


def _like(needle: str) -> str:
    """A LIKE pattern that finds `needle` anywhere, its wildcards escaped."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def lookup_patrons(actor: StaffActor, card: str, name: str) -> tuple[PatronSummary, ...]:
    """By exact card number, or by part of the name or its reading (roles that may).

    Audited: every hit whose name is shown writes an audit row; refusals too (committed
    before `StaffRefused` is raised)."""
    by_name = not card.strip() and bool(name.strip())
    if by_name and not policy().may(actor.role, actor.duties, "patron.search_name"):
        _refuse_name_search(actor)
        raise StaffRefused()
    return _lookup(actor, card, name)


@writes
def _refuse_name_search(conn: Connection, now: datetime, actor: StaffActor) -> None:
    write_audit(conn, actor, None, ("name",), "patron_lookup", "search", REFUSED, now)


@writes
def _lookup(
    conn: Connection, now: datetime, actor: StaffActor, card: str, name: str
) -> tuple[PatronSummary, ...]:
    today = library_today(now)
    visible = policy().visible_fields(actor.role, actor.duties)
    loans = (
        select(func.count())
        .select_from(_loan)
        .where(_loan.c.patron_id == _patron.c.id)
        .scalar_subquery()
    )
    stmt = select(
        _patron.c.id,
        _patron.c.card_number,
        _patron.c.name,
        _patron.c.name_kana,
        _patron.c.category,
        _patron.c.expires_on,
        _branch.c.names,
        loans.label("loans"),
    ).select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
    if card.strip():
        stmt = stmt.where(_patron.c.card_number == card.strip()[:20])
    elif name.strip():
        if not policy().may(actor.role, actor.duties, "patron.search_name"):
            raise StaffRefused()  # lookup_patrons recorded the refusal first
        # The name as typed in each of its 異体字 spellings (a name keeps the kanji it was
        # written with: 高橋 finds 髙橋 and back), and folded as furigana are stored
        # (katakana): やまだ, ヤマダ and ﾔﾏﾀﾞ find the same patron.
        spellings = search.variant_spellings(_compact(name)[:50])
        folded = _like(japanese_input.kana_folded(name)[:50])
        compact_name = func.replace(func.replace(_patron.c.name, " ", ""), "\u3000", "")
        compact_kana = func.replace(func.replace(_patron.c.name_kana, " ", ""), "\u3000", "")
        stmt = stmt.where(
            or_(
                *(compact_name.like(_like(s), escape="\\") for s in spellings),
                compact_name.like(folded, escape="\\"),
                compact_kana.like(folded, escape="\\"),
            )
        )
    else:
        return ()
    rows = list(conn.execute(stmt.order_by(_patron.c.card_number).limit(50)))
    show_name = "name" in visible
    # Every hit shows the loan count (personal) and, to roles that may, the name: one
    # audit row each, naming the groups actually shown.
    shown: list[str] = [g for g in ("name", "loans") if g in visible]
    hits = []
    for row in rows:
        if shown:
            write_audit(conn, actor, row.id, shown, "patron_lookup", VIEW, ALLOWED, now)
        hits.append(
            PatronSummary(
                row.id,
                row.card_number,
                row.name if show_name else None,
                row.name_kana if show_name else None,
                row.category,
                row.expires_on,
                row.expires_on < today,
                Localized.of(row.names),
                int(row.loans),
            )
        )
    return tuple(hits)


@writes
def get_patron_for_staff(
    conn: Connection, now: datetime, actor: StaffActor, patron_id: int, screen: str
) -> PatronRecord:
    """The patron as this role may see them (masked fields are None), with the audit row."""
    today = library_today(now)
    visible = policy().visible_fields(actor.role, actor.duties)
    row = conn.execute(
        select(
            _patron.c.id,
            _patron.c.card_number,
            _patron.c.name,
            _patron.c.name_kana,
            _patron.c.birth_date,
            _patron.c.address,
            _patron.c.phone,
            _patron.c.email,
            _patron.c.email_pending,
            _patron.c.category,
            _patron.c.expires_on,
            _branch.c.names,
        )
        .select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
        .where(_patron.c.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    loans: tuple[StaffLoan, ...] | None = None
    if "loans" in visible:
        loans = tuple(
            StaffLoan(v.title, v.barcode, v.due_on, v.overdue, v.renewals)
            for v in circulation.list_loans(conn, patron_id, now)
        )
    # Only the groups this record carries (reservations are db.queries.staff_holds's own look).
    write_audit(conn, actor, patron_id, _personal(visible & _RECORD), screen, VIEW, ALLOWED, now)
    contact = "contact" in visible
    return PatronRecord(
        row.id,
        row.card_number,
        row.expires_on,
        row.expires_on < today,
        Localized.of(row.names),
        row.category,
        row.name if "name" in visible else None,
        row.name_kana if "name" in visible else None,
        row.address if contact else None,
        row.phone if contact else None,
        row.email if contact else None,
        row.email_pending if contact else None,
        row.birth_date if "birth_date" in visible else None,
        loans,
        visible,
    )


def validate_edit(data: PatronEdit, categories: Collection[str]) -> dict[str, Refusal]:
    errors: dict[str, Refusal] = {}
    if not data.address.strip():
        errors["address"] = Refusal("address_required")
    elif len(data.address) > 200:
        errors["address"] = Refusal("address_too_long")
    if japanese_input.phone(data.phone) is None:
        errors["phone"] = Refusal("phone_format")
    email = japanese_input.email(data.email)
    if email and not is_email(email):
        errors["email"] = Refusal("email_format")
    if data.category not in categories:
        errors["category"] = Refusal("choose_category")
    return errors


@writes
def update_patron_for_staff(
    conn: Connection, now: datetime, actor: StaffActor, patron_id: int, data: PatronEdit
) -> None:
    """Correct address, phone, email and category: all or nothing, with the audit row."""
    errors = validate_edit(data, codes.category_codes(conn))
    if not errors and not codes.hold_category(conn, data.category):
        errors["category"] = Refusal("choose_category")
    if errors:
        raise StaffFormRefused(errors)
    current = conn.execute(
        select(_patron.c.email, _patron.c.email_pending, _patron.c.lang).where(
            _patron.c.id == patron_id
        )
    ).first()
    if current is None:
        raise NotFound("patron_not_found")
    conn.execute(
        _patron.update()
        .where(_patron.c.id == patron_id)
        .values(
            address=japanese_input.address(data.address),
            phone=japanese_input.phone_text(data.phone)[:30],
            phone_digits=phone_digits(data.phone),
            category=data.category,
            **_email_values(
                conn, now, patron_id, current, japanese_input.email(data.email) or None
            ),
        )
    )
    write_audit(conn, actor, patron_id, ["category", "contact"], "patron_edit", EDIT, ALLOWED, now)


def _email_values(
    conn: Connection,
    now: datetime,
    patron_id: int,
    current: Row[Any, Any, Any],
    entered: str | None,
) -> dict[str, object]:
    """The email columns after staff entered `entered` (None: the field left empty).

    A new address is only recorded as pending: it is used for no mail, password resets
    included, until the patron confirms it while logged in, so staff alone cannot take
    over a web account. Removing the address takes effect at once (it gives nobody a way
    in). Either way the address in use hears of it."""
    # A plain DateTime bind: the model's type wants aware values, the column is naive UTC.
    stamp = literal(naive_utc(now), DateTime())
    if entered is None:
        if current.email:
            notify_email_change(conn, patron_id, current.email, current.lang, EMAIL_REMOVED, now)
            return {
                "email": None,
                "email_pending": None,
                "email_pending_at": None,
                "email_changed_at": stamp,
            }
        return {"email_pending": None, "email_pending_at": None}
    if entered == current.email:  # the address in use: any pending one is withdrawn
        return {"email_pending": None, "email_pending_at": None}
    if entered == current.email_pending:
        return {}
    notify_email_change(conn, patron_id, current.email, current.lang, EMAIL_RECORDED, now)
    return {"email_pending": entered, "email_pending_at": stamp}
