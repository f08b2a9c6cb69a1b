"""The staff counter: checkout, return and renewal by scanning, with a scan list that
survives every refusal (kept in the staff session, so it ends with it).

The circulation rules are db.circulation; a returned copy is routed from the counter's
branch (db.routing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db import circulation
from db.engine import reads, writes
from db.errors import QueryError, Refusal
from db.localized import Localized
from db.models import TABLES
from db.sessions import digest
from db.staff_policy import policy

__all__ = ["CounterState", "Scan", "clear_counter", "counter_scan", "get_counter_state"]

_session = TABLES["staff_session"]


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


@dataclass(frozen=True)
class CounterState:
    card: str
    scans: tuple[Scan, ...]  # newest first

    @property
    def last(self) -> Scan | None:
        return self.scans[0] if self.scans else None


def _scan_to(scan: Scan) -> dict[str, Any]:
    fields = dict(scan.__dict__)
    if scan.refusal is not None:
        fields["refusal"] = {"code": scan.refusal.code, "params": scan.refusal.values}
    if scan.route_branch is not None:
        fields["route_branch"] = scan.route_branch.as_dict()
    return fields


def _scan_from(fields: dict[str, Any]) -> Scan:
    refusal = fields.pop("refusal", None)
    if refusal is not None:
        refusal = Refusal.of(refusal["code"], **refusal["params"])
    branch = fields.pop("route_branch", None)
    return Scan(
        **fields, refusal=refusal, route_branch=None if branch is None else Localized.of(branch)
    )


def _load_state(conn: Connection, token_digest: str) -> CounterState:
    raw = conn.execute(
        select(_session.c.counter_state).where(_session.c.id == token_digest)
    ).scalar_one_or_none()
    try:
        data: dict[str, Any] = json.loads(raw) if raw else {}
        scans = tuple(_scan_from(s) for s in data.get("scans", []))
        return CounterState(str(data.get("card", "")), scans)
    except (ValueError, TypeError, KeyError):
        return CounterState("", ())


def _save_state(conn: Connection, token_digest: str, state: CounterState) -> None:
    keep = policy().settings["scan_list_length"]
    payload = {
        "card": state.card,
        "scans": [_scan_to(s) for s in state.scans[:keep]],
    }
    conn.execute(
        _session.update()
        .where(_session.c.id == token_digest)
        .values(counter_state=json.dumps(payload, ensure_ascii=False))
    )


@reads
def get_counter_state(conn: Connection, now: datetime, token: str) -> CounterState:
    return _load_state(conn, digest(token))


@writes
def counter_scan(
    conn: Connection, now: datetime, token: str, kind: str, card: str, barcode: str
) -> CounterState:
    """Checkout, return or renew one item. A refusal is a line in the list, never a lost
    list: the circulation change runs in a savepoint, the list is saved whatever happens."""
    token_digest = digest(token)
    state = _load_state(conn, token_digest)
    card, barcode = card.strip()[:20], barcode.strip()[:32]
    if kind == "checkout":
        state = CounterState(card, state.scans)
    scan: Scan
    if not barcode or (kind == "checkout" and not card):
        missing = Refusal(
            "counter_no_card" if kind == "checkout" and not card else "counter_no_barcode"
        )
        scan = Scan(kind, barcode, False, "", "", missing)
    else:
        try:
            with conn.begin_nested():
                scan = _apply(conn, kind, card, barcode, now, token_digest)
        except QueryError as refused:
            scan = Scan(kind, barcode, False, "", "", refused.refusal)
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
    _save_state(conn, digest(token), CounterState("", ()))
