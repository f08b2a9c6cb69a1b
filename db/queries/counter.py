"""The staff counter: checkout, return and renewal by scanning, with a scan list that
survives every refusal (kept in the staff session, so it ends with it).

The list is one counter transaction and keeps nothing that links a card to an item past it:
it never holds a card number (the web tier echoes the card of the form in its response), a
return ends the transaction (the list keeps that return's line only, which names no
patron), and so does a pause of the policy's `counter_idle_minutes` with no scan.

The circulation rules are db.circulation; a returned copy is routed from the counter's
branch (db.routing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db import circulation
from db.clock import naive_utc
from db.engine import writes
from db.errors import QueryError, Refusal
from db.localized import Localized
from db.models import TABLES
from db.sessions import digest
from db.staff import ALLOWED, StaffActor, write_audit
from db.staff_policy import policy

__all__ = ["CounterState", "Scan", "clear_counter", "counter_scan", "get_counter_state"]

_session = TABLES["staff_session"]

# staff_audit: a checkout lent despite a "warn" loan rule (db.queries.audit.SCREENS)
SCREEN, OVERRIDE = "counter", "checkout_override"


@dataclass(frozen=True)
class Scan:
    kind: str  # checkout, return, renew
    barcode: str
    ok: bool
    title: str
    due_on: str  # ISO date or ""
    refusal: Refusal | None  # why not, when not ok
    overdue: bool = False
    # A return: where the copy goes now (ReturnReceipt.route and branch). Never a patron.
    route: str = ""
    route_branch: Localized | None = None
    # A checkout refused by a "warn" loan rule (overdue items, a limit): staff may lend
    # anyway by scanning again with confirmation.
    confirmable: bool = False
    # A return scan of a copy nobody borrowed but staff found (ReturnReceipt.found):
    # "to_pull", "missing" or "in_transit".
    found: str = ""


@dataclass(frozen=True)
class CounterState:
    scans: tuple[Scan, ...]  # newest first

    @property
    def last(self) -> Scan | None:
        return self.scans[0] if self.scans else None


def _param_to(value: object) -> object:
    """A refusal parameter as JSON: dates and names tagged, so they come back as they were."""
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Localized):
        return {"names": value.as_dict()}
    return value


def _param_from(value: Any) -> object:
    if isinstance(value, dict) and "date" in value:
        return date.fromisoformat(value["date"])
    if isinstance(value, dict) and "names" in value:
        return Localized.of(value["names"])
    return value


def _scan_to(scan: Scan) -> dict[str, Any]:
    fields = dict(scan.__dict__)
    if scan.refusal is not None:
        params = {name: _param_to(value) for name, value in scan.refusal.values.items()}
        fields["refusal"] = {"code": scan.refusal.code, "params": params}
    if scan.route_branch is not None:
        fields["route_branch"] = scan.route_branch.as_dict()
    return fields


def _scan_from(fields: dict[str, Any]) -> Scan:
    refusal = fields.pop("refusal", None)
    if refusal is not None:
        params = {name: _param_from(value) for name, value in refusal["params"].items()}
        refusal = Refusal.of(refusal["code"], **params)
    branch = fields.pop("route_branch", None)
    return Scan(
        **fields, refusal=refusal, route_branch=None if branch is None else Localized.of(branch)
    )


def _idle() -> timedelta:
    return timedelta(minutes=policy().settings["counter_idle_minutes"])


def _load_state(conn: Connection, token_digest: str, now: datetime) -> tuple[CounterState, str]:
    """The live scan list (empty once idle) and the stored text it came from."""
    state, raw, _ = _load(conn, token_digest, now)
    return state, raw


def _load(conn: Connection, token_digest: str, now: datetime) -> tuple[CounterState, str, str]:
    """`_load_state` and the digest of the card the list's checkouts were for ("" if none)."""
    raw: str = (
        conn.execute(
            select(_session.c.counter_state).where(_session.c.id == token_digest)
        ).scalar_one_or_none()
        or ""
    )
    try:
        data: dict[str, Any] = json.loads(raw) if raw else {}
        if naive_utc(now) - datetime.fromisoformat(data["at"]) >= _idle():
            return CounterState(()), raw, ""
        scans = tuple(_scan_from(s) for s in data["scans"])
        return CounterState(scans), raw, str(data.get("card", ""))
    except (ValueError, TypeError, KeyError):
        return CounterState(()), raw, ""


def _save_state(
    conn: Connection, token_digest: str, state: CounterState, now: datetime, card: str = ""
) -> None:
    keep = policy().settings["scan_list_length"]
    payload = {
        "at": naive_utc(now).isoformat(),
        "scans": [_scan_to(s) for s in state.scans[:keep]],
        "card": card,  # a digest: the list knows whose it is, never the number
    }
    stored = json.dumps(payload, ensure_ascii=False) if state.scans else ""
    conn.execute(
        _session.update().where(_session.c.id == token_digest).values(counter_state=stored)
    )


@writes
def get_counter_state(conn: Connection, now: datetime, token: str) -> CounterState:
    """The scan list; one left idle is erased from the session row as well."""
    token_digest = digest(token)
    state, raw = _load_state(conn, token_digest, now)
    if raw and not state.scans:
        _save_state(conn, token_digest, state, now)
    return state


@writes
def counter_scan(
    conn: Connection,
    now: datetime,
    token: str,
    kind: str,
    card: str,
    barcode: str,
    confirm: bool = False,
    actor: StaffActor | None = None,
) -> CounterState:
    """Checkout, return or renew one item. A refusal is a line in the list, never a lost
    list: the circulation change runs in a savepoint, the list is saved whatever happens.
    A return done ends the counter transaction: the list starts again from its line; so does
    a checkout for another card than the list's checkouts (the next patron at the counter).
    `confirm`: staff confirmed a checkout a "warn" loan rule only warned about; honoured
    only with the `actor`, since the override is written to the staff audit log."""
    token_digest = digest(token)
    state, _, list_card = _load(conn, token_digest, now)
    card, barcode = card.strip()[:20], barcode.strip()[:32]
    scan: Scan
    if not barcode or (kind == "checkout" and not card):
        missing = Refusal(
            "counter_no_card" if kind == "checkout" and not card else "counter_no_barcode"
        )
        scan = Scan(kind, barcode, False, "", "", missing)
    else:
        try:
            with conn.begin_nested():
                scan = _apply(conn, kind, card, barcode, now, token_digest, confirm, actor)
        except circulation.PatronBlocked as blocked:
            scan = Scan(
                kind, barcode, False, "", "", blocked.refusal, confirmable=blocked.confirmable
            )
        except QueryError as refused:
            scan = Scan(kind, barcode, False, "", "", refused.refusal)
    # A refusal (a mistyped card …) keeps the list; a checkout done for another card starts it.
    this_card = digest(card) if scan.ok and kind == "checkout" else list_card
    next_patron = bool(list_card) and this_card != list_card
    ends = scan.ok and kind == "return"
    earlier: tuple[Scan, ...] = () if ends or next_patron else state.scans
    this_card = "" if ends else this_card
    state = CounterState((scan, *earlier))
    _save_state(conn, token_digest, state, now, this_card)
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
    conn: Connection,
    kind: str,
    card: str,
    barcode: str,
    now: datetime,
    token_digest: str,
    confirm: bool,
    actor: StaffActor | None,
) -> Scan:
    if kind == "checkout":
        receipt = circulation.checkout(
            conn,
            card,
            barcode,
            now,
            confirm and actor is not None,
            _counter_branch(conn, token_digest),
        )
        if receipt.overridden and actor is not None:
            # Lending despite a warning is a staff decision about the patron: audited,
            # without the reason's values.
            write_audit(conn, actor, receipt.patron_id, ("loans",), SCREEN, OVERRIDE, ALLOWED, now)
        return Scan(kind, barcode, True, receipt.title, receipt.due_on.isoformat(), None)
    if kind == "return":
        back = circulation.return_item(conn, barcode, now, _counter_branch(conn, token_digest))
        return Scan(
            kind,
            barcode,
            True,
            back.title,
            "",
            None,
            back.was_overdue,
            back.route,
            back.route_branch,
            found=back.found,
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
        return Scan(kind, barcode, True, loan.title, loan.due_on.isoformat(), None)
    raise QueryError("counter_unknown_action")


@writes
def clear_counter(conn: Connection, now: datetime, token: str) -> None:
    _save_state(conn, digest(token), CounterState(()), now)
