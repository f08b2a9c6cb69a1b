"""What staff do with patrons: lookup, the record, corrections, the counter, and the
append-only audit of every look at personal data (seed 002).

Masking happens here, not in templates: a field group the actor's role may not see comes
back as None, so no page or htmx fragment can show it. Every answer that carries a personal
field group writes one `staff_audit` row (who, when, whose, which groups, which screen,
outcome) in the same transaction — never the values. Refusals are written too. The audit
table has no UPDATE or DELETE path in the code, and database triggers refuse both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from db import circulation, rules
from db.circulation import library_today
from db.clock import aware_utc
from db.errors import NotFound, QueryError
from db.models import TABLES
from db.patrons import phone_digits
from db.staff import StaffActor, StaffFormRefused
from db.staff_policy import policy

_patron = TABLES["patron"]
_branch = TABLES["branch"]
_audit = TABLES["staff_audit"]
_loan = TABLES["loan"]
_session = TABLES["staff_session"]

VIEW, EDIT, SEARCH = "view", "edit", "search"
ALLOWED, REFUSED = "allowed", "refused"
SCREENS = ("patron_lookup", "patron_record", "patron_edit", "counter")


class StaffRefused(QueryError):
    def __init__(self) -> None:
        super().__init__(
            "この操作は権限がないため行えません（記録されました）。 / "
            "Your role does not allow this (the attempt was recorded)."
        )


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
    home_branch_ja: str
    home_branch_en: str
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
    home_branch_ja: str
    home_branch_en: str
    category: str
    name: str | None
    name_kana: str | None
    address: str | None
    phone: str | None
    email: str | None
    birth_date: date | None
    loans: tuple[StaffLoan, ...] | None
    visible: frozenset[str]


@dataclass(frozen=True)
class PatronEdit:
    address: str
    phone: str
    email: str
    category: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    staff_code: str
    staff_name: str
    branch_code: str
    card_number: str | None
    field_groups: tuple[str, ...]
    screen: str
    action: str
    outcome: str


@dataclass(frozen=True)
class AuditQuery:
    staff_code: str = ""
    card_number: str = ""
    day_from: date | None = None
    day_to: date | None = None
    outcome: str = ""
    limit: int = 200


@dataclass(frozen=True)
class StaffLook:
    """For the patron: a day a staff member at a branch looked at their record."""

    day: date
    branch_ja: str
    branch_en: str


@dataclass(frozen=True)
class Scan:
    kind: str  # checkout, return, renew
    barcode: str
    ok: bool
    title: str
    due_on: str  # ISO date or ""
    message: str  # the refusal (JA / EN) when not ok
    overdue: bool = False
    # A return: where the copy goes now (ReturnReceipt.route and branch). Never a patron.
    route: str = ""
    route_branch_ja: str = ""
    route_branch_en: str = ""


@dataclass(frozen=True)
class CounterState:
    card: str
    scans: tuple[Scan, ...]  # newest first

    @property
    def last(self) -> Scan | None:
        return self.scans[0] if self.scans else None


# Audit ----------------------------------------------------------------------------------


def write_audit(
    conn: Connection,
    actor: StaffActor,
    patron_id: int | None,
    groups: list[str] | tuple[str, ...],
    screen: str,
    action: str,
    outcome: str,
    now: datetime,
) -> None:
    conn.execute(
        _audit.insert().values(
            at=aware_utc(now),
            staff_id=actor.staff_id,
            staff_code=actor.staff_code,
            branch_id=actor.branch_id,
            patron_id=patron_id,
            field_groups=",".join(groups)[:200],
            screen=screen[:40],
            action=action,
            outcome=outcome,
        )
    )


def _personal(groups: frozenset[str]) -> list[str]:
    known = policy().field_groups
    return sorted(g for g in groups if g in known and known[g].personal)


def refuse(
    conn: Connection,
    actor: StaffActor,
    patron_id: int | None,
    groups: tuple[str, ...],
    screen: str,
    action: str,
    now: datetime,
) -> None:
    """Record a refused attempt (the web tier refused the route for this role)."""
    exists = (
        patron_id is not None
        and conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id)).first()
    )
    write_audit(conn, actor, patron_id if exists else None, groups, screen, action, REFUSED, now)


def search_audit(conn: Connection, query: AuditQuery, now: datetime) -> tuple[AuditRow, ...]:
    account = TABLES["staff_account"]
    stmt = (
        select(
            _audit,
            account.c.name.label("staff_name"),
            _branch.c.code.label("branch_code"),
            _patron.c.card_number,
        )
        .select_from(
            _audit.outerjoin(account, account.c.id == _audit.c.staff_id)
            .outerjoin(_branch, _branch.c.id == _audit.c.branch_id)
            .outerjoin(_patron, _patron.c.id == _audit.c.patron_id)
        )
        .order_by(_audit.c.at.desc(), _audit.c.id.desc())
        .limit(max(1, min(query.limit, 1000)))
    )
    if query.staff_code:
        stmt = stmt.where(_audit.c.staff_code == query.staff_code.strip())
    if query.card_number:
        stmt = stmt.where(_patron.c.card_number == query.card_number.strip())
    if query.outcome in (ALLOWED, REFUSED):
        stmt = stmt.where(_audit.c.outcome == query.outcome)
    if query.day_from is not None:
        stmt = stmt.where(_audit.c.at >= _day_start(query.day_from))
    if query.day_to is not None:
        stmt = stmt.where(_audit.c.at < _day_start(query.day_to + timedelta(days=1)))
    return tuple(
        AuditRow(
            row.id,
            aware_utc(row.at),
            row.staff_code,
            row.staff_name or "",
            row.branch_code or "",
            row.card_number,
            tuple(g for g in row.field_groups.split(",") if g),
            row.screen,
            row.action,
            row.outcome,
        )
        for row in conn.execute(stmt)
    )


def _day_start(day: date) -> datetime:
    """Midnight of a library-local day, as stored (naive UTC)."""
    local = datetime(day.year, day.month, day.day, tzinfo=circulation.LIBRARY_TZ)
    return aware_utc(local)


def staff_looks_at_me(conn: Connection, patron_id: int) -> tuple[StaffLook, ...]:
    """The days and branches at which staff saw this patron's personal data (no names)."""
    rows = conn.execute(
        select(_audit.c.at, _branch.c.name_ja, _branch.c.name_en)
        .select_from(_audit.join(_branch, _branch.c.id == _audit.c.branch_id))
        .where(_audit.c.patron_id == patron_id, _audit.c.outcome == ALLOWED)
        .order_by(_audit.c.at.desc())
        .limit(2000)
    )
    seen: list[StaffLook] = []
    for row in rows:
        look = StaffLook(library_today(aware_utc(row.at)), row.name_ja, row.name_en)
        if look not in seen:
            seen.append(look)
    return tuple(seen[:200])


# Patrons --------------------------------------------------------------------------------


def _compact(value: str) -> str:
    return re.sub(r"[\s\u3000]+", "", value)


def lookup_patrons(
    conn: Connection, actor: StaffActor, card: str, name: str, now: datetime
) -> tuple[PatronSummary, ...]:
    """By exact card number, or by part of the name or its reading (roles that may)."""
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
        _branch.c.name_ja,
        _branch.c.name_en,
        loans.label("loans"),
    ).select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
    if card.strip():
        stmt = stmt.where(_patron.c.card_number == card.strip()[:20])
    elif name.strip():
        if not policy().may(actor.role, actor.duties, "patron.search_name"):
            raise StaffRefused()  # the query layer records the refusal first
        needle = _compact(name)[:50].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{needle}%"
        compact_name = func.replace(func.replace(_patron.c.name, " ", ""), "\u3000", "")
        compact_kana = func.replace(func.replace(_patron.c.name_kana, " ", ""), "\u3000", "")
        stmt = stmt.where(
            compact_name.like(pattern, escape="\\") | compact_kana.like(pattern, escape="\\")
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
                row.name_ja,
                row.name_en,
                int(row.loans),
            )
        )
    return tuple(hits)


def get_patron_record(
    conn: Connection, actor: StaffActor, patron_id: int, screen: str, now: datetime
) -> PatronRecord:
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
            _patron.c.category,
            _patron.c.expires_on,
            _branch.c.name_ja,
            _branch.c.name_en,
        )
        .select_from(_patron.join(_branch, _branch.c.id == _patron.c.home_branch_id))
        .where(_patron.c.id == patron_id)
    ).first()
    if row is None:
        raise NotFound("利用者が見つかりません。 / No such patron.")
    loans: tuple[StaffLoan, ...] | None = None
    if "loans" in visible:
        loans = tuple(
            StaffLoan(v.title, v.barcode, v.due_on, v.overdue, v.renewals)
            for v in circulation.list_loans(conn, patron_id, now)
        )
    write_audit(conn, actor, patron_id, _personal(visible), screen, VIEW, ALLOWED, now)
    contact = "contact" in visible
    return PatronRecord(
        row.id,
        row.card_number,
        row.expires_on,
        row.expires_on < today,
        row.name_ja,
        row.name_en,
        row.category,
        row.name if "name" in visible else None,
        row.name_kana if "name" in visible else None,
        row.address if contact else None,
        row.phone if contact else None,
        row.email if contact else None,
        row.birth_date if "birth_date" in visible else None,
        loans,
        visible,
    )


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_CHARS = re.compile(r"[0-9０-９\-－ー‐()（） +＋]+")


def validate_edit(data: PatronEdit) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.address.strip():
        errors["address"] = "住所を入力してください。 / Enter the address."
    elif len(data.address) > 200:
        errors["address"] = "住所は200文字以内です。 / The address is too long (200 characters)."
    digits = phone_digits(data.phone)
    if not _PHONE_CHARS.fullmatch(data.phone.strip() or "x") or not 10 <= len(digits) <= 11:
        errors["phone"] = (
            "電話番号は市外局番から10〜11桁の数字で入力してください（例 0466-25-1111）。 / "
            "Enter the phone number with its area code: 10 or 11 digits (e.g. 0466-25-1111)."
        )
    email = data.email.strip()
    if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
        errors["email"] = (
            "メールアドレスの形式が正しくありません（例 name@example.jp）。空欄にもできます。 / "
            "This is not an email address (e.g. name@example.jp). It may be left empty."
        )
    if data.category not in {c.code for c in rules.CATEGORIES}:
        errors["category"] = "利用者区分を選んでください。 / Choose a category."
    return errors


def update_patron(
    conn: Connection, actor: StaffActor, patron_id: int, data: PatronEdit, now: datetime
) -> None:
    """Correct address, phone, email and category: all or nothing, with the audit row."""
    errors = validate_edit(data)
    if errors:
        raise StaffFormRefused(errors)
    email = data.email.strip() or None
    done = conn.execute(
        _patron.update()
        .where(_patron.c.id == patron_id)
        .values(
            address=data.address.strip(),
            phone=data.phone.strip(),
            phone_digits=phone_digits(data.phone),
            email=email,
            category=data.category,
        )
    ).rowcount
    if done != 1:
        raise NotFound("利用者が見つかりません。 / No such patron.")
    write_audit(conn, actor, patron_id, ["category", "contact"], "patron_edit", EDIT, ALLOWED, now)


# Counter --------------------------------------------------------------------------------


def _load_state(conn: Connection, token_digest: str) -> CounterState:
    raw = conn.execute(
        select(_session.c.counter_state).where(_session.c.id == token_digest)
    ).scalar_one_or_none()
    try:
        data: dict[str, Any] = json.loads(raw) if raw else {}
        scans = tuple(Scan(**s) for s in data.get("scans", []))
        return CounterState(str(data.get("card", "")), scans)
    except (ValueError, TypeError):
        return CounterState("", ())


def _save_state(conn: Connection, token_digest: str, state: CounterState) -> None:
    keep = policy().settings["scan_list_length"]
    payload = {
        "card": state.card,
        "scans": [s.__dict__ for s in state.scans[:keep]],
    }
    conn.execute(
        _session.update()
        .where(_session.c.id == token_digest)
        .values(counter_state=json.dumps(payload, ensure_ascii=False))
    )


def counter_state(conn: Connection, token_digest: str) -> CounterState:
    return _load_state(conn, token_digest)


def counter_scan(
    conn: Connection, token_digest: str, kind: str, card: str, barcode: str, now: datetime
) -> CounterState:
    """One scan at the counter. A refusal is a line in the list, never a lost list: the
    circulation change runs in a savepoint, the list is saved whatever happens."""
    state = _load_state(conn, token_digest)
    card, barcode = card.strip()[:20], barcode.strip()[:32]
    if kind == "checkout":
        state = CounterState(card, state.scans)
    scan: Scan
    if not barcode or (kind == "checkout" and not card):
        missing = (
            "利用者カード番号を入力してください。 / Scan or type the library card number."
            if kind == "checkout" and not card
            else "資料番号を入力してください。 / Scan or type the item barcode."
        )
        scan = Scan(kind, barcode, False, "", "", missing)
    else:
        try:
            with conn.begin_nested():
                scan = _apply(conn, kind, card, barcode, now, token_digest)
        except QueryError as refused:
            scan = Scan(kind, barcode, False, "", "", str(refused))
    state = CounterState(state.card, (scan, *state.scans))
    _save_state(conn, token_digest, state)
    return state


def _counter_branch(conn: Connection, token_digest: str) -> int | None:
    """The branch of the staff member at this counter: where a returned copy now is."""
    branch: int | None = conn.execute(
        text(
            "SELECT a.branch_id FROM staff_session s JOIN staff_account a ON a.id = s.staff_id "
            "WHERE s.id = :d"
        ),
        {"d": token_digest},
    ).scalar_one_or_none()
    return branch


def _apply(
    conn: Connection, kind: str, card: str, barcode: str, now: datetime, token_digest: str
) -> Scan:
    if kind == "checkout":
        receipt = circulation.checkout(conn, card, barcode, now)
        return Scan(kind, barcode, True, receipt.title, receipt.due_on.isoformat(), "")
    if kind == "return":
        back = circulation.return_item(conn, barcode, now, _counter_branch(conn, token_digest))
        return Scan(
            kind,
            barcode,
            True,
            back.title,
            "",
            "",
            back.was_overdue,
            back.route,
            back.route_branch_ja,
            back.route_branch_en,
        )
    if kind == "renew":
        found = conn.execute(
            text(
                "SELECT l.id, l.patron_id FROM loan l JOIN item i ON i.id = l.item_id "
                "WHERE i.barcode = :b"
            ),
            {"b": barcode},
        ).first()
        if found is None:
            exists = conn.execute(
                text("SELECT 1 FROM item WHERE barcode = :b"), {"b": barcode}
            ).first()
            raise circulation.NotOnLoan() if exists else circulation.UnknownBarcode()
        loan = circulation.renew(conn, found.patron_id, found.id, now)
        return Scan(kind, barcode, True, loan.title, loan.due_on.isoformat(), "")
    raise QueryError("不明な操作です。 / Unknown counter action.")


def clear_counter(conn: Connection, token_digest: str) -> None:
    _save_state(conn, token_digest, CounterState("", ()))
