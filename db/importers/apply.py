"""Rows of the system being replaced → copies, patrons, loans, reservations, withdrawals.

Each kind is read in two steps inside one writing transaction (db.queries.imports):
`check` looks at one row against the database and the rows before it and says what the row
would do — create, update, leave unchanged — or why it is refused; it writes nothing and
returns the write to make. The writes run only after every row has been checked, and only
when the file is to be committed: all of them if no row was refused, the valid ones with
`--partial`, none for a dry run. So a dry run reports exactly what the real run will do, and
a refused row never leaves half a file behind.

A row is identified by its natural key (barcode, card number, card + title), so importing a
file again finds every row unchanged. Refusals carry codes and parameters (db.errors); the
parameters are positions, column names, codes and identifiers of copies and works: never a
personal value (a patron is named by line and card number at most).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db import clock, codes, japanese_input, rules, search
from db.catalog_write import ndc_classes
from db.emails import is_email
from db.errors import Refusal
from db.importers import values
from db.importers.rows import SourceRow
from db.models import TABLES
from db.patrons import card_expiry, phone_digits

Write = Callable[[Connection], None]

_item, _patron, _loan, _hold = (TABLES[t] for t in ("item", "patron", "loan", "hold"))

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

# Item statuses a file may give (an on-loan copy is lent by the loans file; the other
# states belong to reservations, which are imported as waiting).
_STATUSES = {
    "": rules.AVAILABLE,
    rules.AVAILABLE: rules.AVAILABLE,
    rules.ON_LOAN: rules.AVAILABLE,
    rules.IN_PROCESS: rules.IN_PROCESS,
    rules.MISSING: rules.MISSING,
    "在架": rules.AVAILABLE,
    "貸出中": rules.AVAILABLE,
    "整理中": rules.IN_PROCESS,
    "不明": rules.MISSING,
    "所在不明": rules.MISSING,
}
# States of a copy that a reservation holds (assigned, in transit, on the hold shelf).
_PROMISED = (rules.TO_PULL, rules.IN_TRANSIT, rules.ON_HOLD_SHELF)
_LANGS = ("ja", "en")


@dataclass
class Outcome:
    """What a checked row does: its effect, the write that makes it, notes for the report."""

    effect: str  # CREATED, UPDATED, UNCHANGED
    write: Write | None = None
    notes: list[Refusal] = field(default_factory=list)
    order: tuple[Any, ...] = ()  # writes run sorted by (order, position)


class Refused(Exception):
    def __init__(self, reason: str, /, **params: object) -> None:
        super().__init__(reason)
        self.reason = Refusal.of(reason, **params)


class Checker:
    """The database as the rows see it, and what the earlier rows of the file claimed."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.today = clock.library_today(now)
        self.branches = {r.code: r.id for r in conn.execute(text("SELECT id, code FROM branch"))}
        self.material_types = set(conn.execute(text("SELECT code FROM material_type")).scalars())
        self.seen: dict[Any, int] = {}  # a key of this file → the position that claimed it
        self.notes: list[Refusal] = []
        self.withdrawn: dict[int, int] = {}  # work id → copies of it this file withdraws

    # --- the values of a row -----------------------------------------------------------

    def text(self, row: SourceRow, column: str, limit: int, required: bool = False) -> str:
        value = " ".join(row.get(column).split())
        if required and not value:
            raise Refused("import_row_required", column=column)
        if len(value) > limit:
            raise Refused("import_value_too_long", column=column, limit=limit)
        return value

    def noted(self, row: SourceRow, column: str) -> None:
        if values.has_wide_digits(row.get(column)):
            self.notes.append(Refusal.of("import_row_normalised", column=column))

    def barcode(self, row: SourceRow, column: str = "barcode") -> str:
        raw = row.get(column)
        if not raw:
            raise Refused("import_row_required", column=column)
        code = japanese_input.barcode(raw)
        if code is None:
            raise Refused("import_row_bad_barcode", column=column)
        self.noted(row, column)
        return code

    def card(self, row: SourceRow) -> str:
        raw = row.get("card_number")
        if not raw:
            raise Refused("import_row_required", column="card_number")
        card = japanese_input.card_number(raw)
        if card is None:
            raise Refused("import_row_bad_card_number")
        self.noted(row, "card_number")
        return card

    def day(self, row: SourceRow, column: str, required: bool = False) -> date | None:
        raw = row.get(column)
        if not raw:
            if required:
                raise Refused("import_row_required", column=column)
            return None
        day = japanese_input.calendar_date(raw)
        if day is None:
            raise Refused("import_row_bad_date", column=column)
        self.noted(row, column)
        return day

    def past_day(self, row: SourceRow, column: str, required: bool = False) -> date | None:
        day = self.day(row, column, required)
        if day is not None and day > self.today:
            raise Refused("import_row_future_date", column=column)
        return day

    def branch(self, row: SourceRow, column: str) -> int:
        code = self.text(row, column, 20, required=True)
        if code not in self.branches:
            raise Refused("import_row_unknown_branch", column=column, value=code)
        return int(self.branches[code])

    def once(self, key: Any, row: SourceRow, code: str, **params: object) -> None:
        """Refuse a key an earlier row of the file already used."""
        first = self.seen.get(key)
        if first is not None:
            raise Refused(code, first=first, **params)
        self.seen[key] = row.number

    # --- what the database holds --------------------------------------------------------

    def work(self, row: SourceRow) -> int:
        """The work a row names by source id, NDL number or ISBN (the first that is given
        and found); refused when none is found or an ISBN names several works."""
        given = [(c, row.get(c)) for c in ("source_id", "ndl_number", "isbn") if row.get(c)]
        if not given:
            raise Refused("import_row_required", column="isbn | ndl_number | source_id")
        for column, raw in given:
            found = self._works(column, raw)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise Refused("import_row_ambiguous_work", column=column, value=raw[:40])
        column, raw = given[0]
        raise Refused("import_row_unknown_work", column=column, value=raw[:40])

    def _works(self, column: str, raw: str) -> list[int]:
        if column == "isbn":
            isbns = search.isbns_in(raw)
            if not isbns:
                return []
            found = self.conn.execute(
                text("SELECT DISTINCT work_id FROM work_isbn WHERE isbn13 = :i"), {"i": isbns[0]}
            )
            return [int(r) for r in found.scalars()]
        value = values.identifier(raw)
        if column == "ndl_number":
            source, source_id = "ndl", value
        else:
            source, _, source_id = value.rpartition(":")
        if source:
            sql, params = "source = :s AND source_id = :i", {"s": source, "i": source_id}
        else:
            sql, params = "source_id = :i", {"i": source_id}
        return [
            int(r)
            for r in self.conn.execute(text(f"SELECT id FROM work WHERE {sql}"), params).scalars()
        ]

    # Rows through the tables (not raw SQL) so SQLite's dates come back as dates.
    def item(self, barcode: str) -> Any:
        return self.conn.execute(select(_item).where(_item.c.barcode == barcode)).first()

    def patron(self, card: str) -> Any:
        return self.conn.execute(select(_patron).where(_patron.c.card_number == card)).first()

    def known_patron(self, card: str) -> Any:
        found = self.patron(card)
        if found is None:
            raise Refused("import_row_unknown_card", card=card)
        return found

    def known_item(self, barcode: str) -> Any:
        found = self.item(barcode)
        if found is None:
            raise Refused("import_row_unknown_barcode", barcode=barcode)
        return found


def _changed(old: Any, new: dict[str, Any]) -> bool:
    return any(_same_type(getattr(old, k), v) != v for k, v in new.items())


def _same_type(stored: Any, wanted: Any) -> Any:
    """A stored value as the type the row gives (SQLite returns dates as dates, datetimes
    naive; PostgreSQL the same) for comparison."""
    if isinstance(wanted, datetime) and isinstance(stored, datetime):
        return clock.naive_utc(stored)
    return stored


def _update(table: str, row_id: int, new: dict[str, Any]) -> Write:
    sets = ", ".join(f"{k} = :{k}" for k in new)

    def write(conn: Connection) -> None:
        conn.execute(text(f"UPDATE {table} SET {sets} WHERE id = :id"), {**new, "id": row_id})

    return write


def _insert(table: str, new: dict[str, Any]) -> Write:
    cols = ", ".join(new)
    params = ", ".join(f":{k}" for k in new)

    def write(conn: Connection) -> None:
        conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({params})"), new)

    return write


# --- copies --------------------------------------------------------------------------


def check_item(c: Checker, row: SourceRow) -> Outcome:
    if "_unreadable" in row.values:
        raise Refused("import_unreadable_record", error="MARC", detail=row.values["_unreadable"])
    barcode = c.barcode(row)
    twice = "import_row_duplicate_barcode" + ("_record" if row.kind == "record" else "")
    c.once(("item", barcode), row, twice, barcode=barcode)
    work_id = c.work(row)
    branch_id = c.branch(row, "branch")
    material = c.text(row, "material_type", 20)
    if not material:
        ndc = c.conn.execute(text("SELECT ndc FROM work WHERE id = :w"), {"w": work_id})
        children = any(k == "K" for _, k in ndc_classes((ndc.scalar_one() or "").split(" | ")))
        material = "children" if children else "book"
    elif material not in c.material_types:
        raise Refused("import_row_unknown_material_type", value=material)
    status_word = c.text(row, "status", 20).lower()
    if status_word not in _STATUSES:
        raise Refused("import_row_bad_status", value=status_word)
    new: dict[str, Any] = {
        "work_id": work_id,
        "branch_id": branch_id,
        "material_type": material,
        "call_number": c.text(row, "call_number", 100),
        "shelf_location": c.text(row, "shelf_location", 100),
        "acquired_on": c.past_day(row, "acquired_on"),
    }
    old = c.item(barcode)
    if old is None:
        return Outcome(
            CREATED, _insert("item", {**new, "barcode": barcode, "status": _STATUSES[status_word]})
        )
    # A copy lent or promised since keeps its state: the file describes the shelf copy.
    if old.status in (rules.AVAILABLE, rules.IN_PROCESS, rules.MISSING):
        new["status"] = _STATUSES[status_word]
    if not _changed(old, new):
        return Outcome(UNCHANGED)
    return Outcome(UPDATED, _update("item", old.id, new))


def finish_items(conn: Connection) -> None:
    """Shelf locations the copies use become rows of the code table (db.codes)."""
    codes.add_missing_shelf_locations(conn)


# --- patrons -------------------------------------------------------------------------


def check_patron(c: Checker, row: SourceRow) -> Outcome:
    card = c.card(row)
    c.once(("card", card), row, "import_row_duplicate_card", card=card)
    name = japanese_input.name(c.text(row, "name", 100, required=True))
    kana = japanese_input.katakana(c.text(row, "name_kana", 100, required=True))
    if kana is None:
        raise Refused("import_row_bad_kana", column="name_kana")
    birth = c.past_day(row, "birth_date", required=True)
    address = japanese_input.address(c.text(row, "address", 500))
    postal_raw = row.get("postal_code")
    if postal_raw:
        postal = japanese_input.postal_code(postal_raw)
        if postal is None:
            raise Refused("import_row_bad_postal_code", column="postal_code")
        c.noted(row, "postal_code")
        address = f"〒{japanese_input.format_postal_code(postal)} {address}".strip()
    phone = ""
    if row.get("phone"):
        if japanese_input.phone(row.get("phone")) is None:
            raise Refused("import_row_bad_phone", column="phone")
        c.noted(row, "phone")
        phone = japanese_input.phone_text(row.get("phone"))[:30]
    email = japanese_input.email(c.text(row, "email", 254)) or None
    if email is not None and not is_email(email):
        raise Refused("import_row_bad_email", column="email")
    category = c.text(row, "category", 20, required=True)
    if not codes.is_category(c.conn, category):
        raise Refused("import_row_unknown_category", value=category)
    home = c.branch(row, "home_branch")
    registered = c.past_day(row, "registered_on")
    last_used = c.past_day(row, "last_used_on")
    lang = c.text(row, "lang", 2).lower() or "ja"
    if lang not in _LANGS:
        raise Refused("import_row_bad_lang", column="lang")
    new: dict[str, Any] = {
        "name": name,
        "name_kana": kana,
        "birth_date": birth,
        "address": address,
        "phone": phone,
        "phone_digits": phone_digits(phone),
        "email": email,
        "category": category,
        "home_branch_id": home,
        "lang": lang,
    }
    # Dates that Shiori moves on once the patron uses it (a login, a loan, a renewal at the
    # counter) only ever move forward: importing the file again never takes them back.
    forward: dict[str, Any] = {
        "last_used_at": (
            clock.naive_utc(datetime.combine(last_used, time(12), clock.LIBRARY_TZ))
            if last_used
            else None
        ),
        "last_loan_on": c.past_day(row, "last_loan_on"),
        "expires_on": c.day(row, "expires_on"),
    }
    old = c.patron(card)
    if old is None:
        on = registered or c.today
        forward["expires_on"] = forward["expires_on"] or _rolled_expiry(on, c.today)
        # No password: the patron sets one (first password with birth date and phone, or a
        # counter activation code), as patrons registered at a counter do.
        row_values = {**new, **forward, "registered_on": on, "card_number": card}
        return Outcome(CREATED, _insert("patron", row_values))
    if registered is not None:
        new["registered_on"] = registered
    for column, value in forward.items():
        stored = _same_type(getattr(old, column), value)
        if value is not None and (stored is None or value > stored):
            new[column] = value
    if not _changed(old, new):
        return Outcome(UNCHANGED)
    return Outcome(UPDATED, _update("patron", old.id, new))


def _rolled_expiry(registered: date, today: date) -> date:
    """The card's expiry under the library's rule, renewed period by period to today (the
    old system kept the card valid; the next renewal at a counter follows the rule)."""
    expiry = card_expiry(registered)
    while expiry < today:
        expiry = card_expiry(expiry)
    return expiry


# --- loans ---------------------------------------------------------------------------


def check_loan(c: Checker, row: SourceRow) -> Outcome:
    card = c.card(row)
    barcode = c.barcode(row)
    c.once(("loan", barcode), row, "import_row_duplicate_barcode", barcode=barcode)
    due = c.day(row, "due_on", required=True)
    out = c.past_day(row, "checked_out_on") or c.today
    renewals_raw = values.digits_only(row.get("renewals")) if row.get("renewals") else "0"
    if renewals_raw is None:
        raise Refused("import_row_bad_number", column="renewals")
    renewals = int(renewals_raw)
    if due is None or due < out:
        raise Refused("import_row_due_before_checkout")
    patron = c.known_patron(card)
    item = c.known_item(barcode)
    checked_out_at = clock.naive_utc(datetime.combine(out, time(12), clock.LIBRARY_TZ))
    new = {"due_on": due, "renewals": renewals, "checked_out_at": checked_out_at}
    loan = c.conn.execute(select(_loan).where(_loan.c.item_id == item.id)).first()
    if loan is not None:
        if loan.patron_id != patron.id:
            raise Refused("import_row_lent_to_another", barcode=barcode)
        if not _changed(loan, new):
            return Outcome(UNCHANGED)
        return Outcome(UPDATED, _update("loan", loan.id, new))
    if item.status in _PROMISED:
        raise Refused("import_row_promised", barcode=barcode)

    def write(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO loan (patron_id, item_id, checked_out_at, due_on, renewals) "
                "VALUES (:p, :i, :at, :due, :n)"
            ),
            {"p": patron.id, "i": item.id, "at": checked_out_at, "due": due, "n": renewals},
        )
        conn.execute(
            text("UPDATE item SET status = :s WHERE id = :i"), {"s": rules.ON_LOAN, "i": item.id}
        )
        conn.execute(
            text(
                "UPDATE patron SET last_loan_on = :d WHERE id = :p "
                "AND (last_loan_on IS NULL OR last_loan_on < :d)"
            ),
            {"d": out, "p": patron.id},
        )

    return Outcome(CREATED, write)


# --- reservations --------------------------------------------------------------------


def check_hold(c: Checker, row: SourceRow) -> Outcome:
    card = c.card(row)
    placed = values.moment(row.get("placed_at"))
    if not row.get("placed_at"):
        raise Refused("import_row_required", column="placed_at")
    if placed is None:
        raise Refused("import_row_bad_date", column="placed_at")
    c.noted(row, "placed_at")
    if clock.library_today(placed) > c.today:
        raise Refused("import_row_future_date", column="placed_at")
    pickup = c.branch(row, "pickup_branch")
    # A reservation is of a title: a barcode names its copy's work.
    work_id = int(c.known_item(c.barcode(row)).work_id) if row.get("barcode") else c.work(row)
    patron = c.known_patron(card)
    c.once(("hold", patron.id, work_id), row, "import_row_duplicate_hold", card=card)
    placed_at = clock.naive_utc(placed)
    hold = c.conn.execute(
        select(_hold).where(_hold.c.patron_id == patron.id, _hold.c.work_id == work_id)
    ).first()
    if hold is not None:
        new = {"pickup_branch_id": pickup, "placed_at": placed_at}
        if not _changed(hold, new):
            return Outcome(UNCHANGED)
        if hold.state != "waiting":
            raise Refused("import_row_hold_under_way", card=card)
        return Outcome(UPDATED, _update("hold", hold.id, new))
    # Inserted in queue order (placed_at, then the file's order), so the derived queue
    # position (ORDER BY placed_at, id) is the old system's.
    values_ = {
        "patron_id": patron.id,
        "work_id": work_id,
        "pickup_branch_id": pickup,
        "placed_at": placed_at,
        "state": "waiting",
        "step_back_passes": 0,
    }
    return Outcome(CREATED, _insert("hold", values_), order=(placed_at,))


# --- withdrawals (除籍) ----------------------------------------------------------------


def check_withdrawal(c: Checker, row: SourceRow) -> Outcome:
    """A copy leaves the collection: its row is deleted. A copy on loan or set aside for a
    reservation is refused (check it in, or let the reservation move on, first); a copy that
    was the last of a title with waiting reservations is withdrawn with a note."""
    barcode = c.barcode(row)
    c.once(("withdrawal", barcode), row, "import_row_duplicate_barcode", barcode=barcode)
    item = c.item(barcode)
    if item is None:
        return Outcome(UNCHANGED, notes=[Refusal.of("import_row_not_held", barcode=barcode)])
    if (
        item.status == rules.ON_LOAN
        or c.conn.execute(text("SELECT 1 FROM loan WHERE item_id = :i"), {"i": item.id}).first()
    ):
        raise Refused("import_row_withdraw_on_loan", barcode=barcode)
    if (
        item.status in _PROMISED
        or c.conn.execute(text("SELECT 1 FROM hold WHERE item_id = :i"), {"i": item.id}).first()
    ):
        raise Refused("import_row_promised", barcode=barcode)
    notes = []
    others = c.conn.execute(
        text("SELECT count(*) FROM item WHERE work_id = :w AND id <> :i"),
        {"w": item.work_id, "i": item.id},
    ).scalar_one()
    withdrawn_before = c.withdrawn.get(item.work_id, 0)
    c.withdrawn[item.work_id] = withdrawn_before + 1
    if others - withdrawn_before <= 0:
        waiting = c.conn.execute(
            text("SELECT count(*) FROM hold WHERE work_id = :w"), {"w": item.work_id}
        ).scalar_one()
        if waiting:
            notes.append(Refusal.of("import_row_last_copy", barcode=barcode, count=waiting))

    def write(conn: Connection) -> None:
        conn.execute(text("DELETE FROM item WHERE id = :i"), {"i": item.id})

    return Outcome(CREATED, write, notes=notes)


CHECKS: dict[str, Callable[[Checker, SourceRow], Outcome]] = {
    "items": check_item,
    "patrons": check_patron,
    "loans": check_loan,
    "holds": check_hold,
    "withdrawals": check_withdrawal,
}
FINISH: dict[str, Callable[[Connection], None]] = {"items": finish_items}
