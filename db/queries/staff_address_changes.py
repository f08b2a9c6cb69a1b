"""Address changes a patron asked for online (db.queries.my_data), confirmed or rejected at
the counter once staff have seen an identification document showing the new address.

Every function takes the `StaffActor` first and checks the policy (db/data/staff_policy.json,
action `patron.edit`) itself as well as the web guard does. Every look writes a
`staff_audit` row in the same transaction: the queue (screen address_queue, one row per
patron listed, field groups card and name), each opened request (screen address_change,
name and contact), and the decision (action address_confirm / address_reject, naming the
patron and the field group changed). Audit rows never hold values (seed 002): the "before"
is what the request page showed and the patron's record no longer holds, the "after" is the
record itself; an audit row that kept both would outlive the patron's own deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from db.clock import aware_utc
from db.engine import writes
from db.errors import NotFound
from db.localized import Localized
from db.models import TABLES
from db.staff import ALLOWED, REFUSED, VIEW, StaffActor, StaffRefused, write_audit
from db.staff_policy import policy

__all__ = [
    "ADDRESS_CONFIRM",
    "ADDRESS_REJECT",
    "AddressChangeForStaff",
    "AddressChangeInQueue",
    "confirm_address_change",
    "get_address_change_for_staff",
    "list_address_changes",
    "reject_address_change",
]

ACTION = "patron.edit"
ADDRESS_CONFIRM, ADDRESS_REJECT = "address_confirm", "address_reject"
_QUEUE, _SCREEN = "address_queue", "address_change"
_CARD, _NAME, _CONTACT = "card", "name", "contact"

_patron_table = TABLES["patron"]
_patron = _patron_table.c
_branch = TABLES["branch"].c
_change_table = TABLES["address_change"]
_change = _change_table.c


@dataclass(frozen=True)
class AddressChangeInQueue:
    id: int
    card_number: str
    name: str
    requested_at: datetime  # aware UTC
    home_branch: Localized


@dataclass(frozen=True)
class AddressChangeForStaff:
    id: int
    patron_id: int
    card_number: str
    name: str
    name_kana: str
    current_address: str  # before
    postal_code: str  # after: seven digits
    new_address: str
    requested_at: datetime  # aware UTC


def _require(actor: StaffActor, screen: str) -> None:
    """Refuse when the actor may not handle address changes, the refusal audited (and
    committed) first."""
    if not policy().may(actor.role, actor.duties, ACTION):
        _record_refusal(actor, screen)
        raise StaffRefused()


@writes
def _record_refusal(conn: Connection, now: datetime, actor: StaffActor, screen: str) -> None:
    write_audit(conn, actor, None, [_CONTACT], screen, ACTION, REFUSED, now)


@writes
def _list_address_changes(
    conn: Connection, now: datetime, actor: StaffActor
) -> tuple[AddressChangeInQueue, ...]:
    """Waiting requests, oldest first (card numbers and names shown: one audit row per
    patron listed, as for patron search hits, so each patron's "staff looks" shows it)."""
    rows = conn.execute(
        select(
            _change.id,
            _change.patron_id,
            _change.requested_at,
            _patron.card_number,
            _patron.name,
            _branch.names,
        )
        .join_from(_change_table, _patron_table, _patron.id == _change.patron_id)
        .join(TABLES["branch"], _branch.id == _patron.home_branch_id)
        .order_by(_change.requested_at, _change.id)
        .limit(500)
    ).all()
    for patron_id in dict.fromkeys(r.patron_id for r in rows):
        write_audit(conn, actor, patron_id, [_CARD, _NAME], _QUEUE, VIEW, ALLOWED, now)
    return tuple(
        AddressChangeInQueue(
            r.id, r.card_number, r.name, aware_utc(r.requested_at), Localized.of(r.names)
        )
        for r in rows
    )


def _request(conn: Connection, change_id: int) -> AddressChangeForStaff:
    row = conn.execute(
        select(
            _change.id,
            _change.patron_id,
            _change.postal_code,
            _change.address,
            _change.requested_at,
            _patron.card_number,
            _patron.name,
            _patron.name_kana,
            _patron.address.label("current_address"),
        )
        .join_from(_change_table, _patron_table, _patron.id == _change.patron_id)
        .where(_change.id == change_id)
        .with_for_update(of=_change_table)
    ).first()
    if row is None:
        raise NotFound("address_change_not_found")
    return AddressChangeForStaff(
        id=row.id,
        patron_id=row.patron_id,
        card_number=row.card_number,
        name=row.name,
        name_kana=row.name_kana,
        current_address=row.current_address,
        postal_code=row.postal_code,
        new_address=row.address,
        requested_at=aware_utc(row.requested_at),
    )


@writes
def _get_address_change_for_staff(
    conn: Connection, now: datetime, actor: StaffActor, change_id: int
) -> AddressChangeForStaff:
    """One request with the address it would replace (audited: name and contact)."""
    found = _request(conn, change_id)
    write_audit(conn, actor, found.patron_id, [_NAME, _CONTACT], _SCREEN, VIEW, ALLOWED, now)
    return found


@writes
def _confirm_address_change(
    conn: Connection, now: datetime, actor: StaffActor, change_id: int
) -> None:
    """Staff saw the new address on an identification document: it replaces the old one
    and the request is deleted. Two counters at once: the second gets NotFound."""
    found = _request(conn, change_id)
    conn.execute(
        _patron_table.update()
        .where(_patron.id == found.patron_id)
        .values(address=found.new_address)
    )
    conn.execute(_change_table.delete().where(_change.id == change_id))
    write_audit(conn, actor, found.patron_id, [_CONTACT], _SCREEN, ADDRESS_CONFIRM, ALLOWED, now)


@writes
def _reject_address_change(
    conn: Connection, now: datetime, actor: StaffActor, change_id: int
) -> None:
    """The new address could not be confirmed: the request is deleted, the record unchanged."""
    found = _request(conn, change_id)
    conn.execute(_change_table.delete().where(_change.id == change_id))
    write_audit(conn, actor, found.patron_id, [_CONTACT], _SCREEN, ADDRESS_REJECT, ALLOWED, now)


def list_address_changes(actor: StaffActor) -> tuple[AddressChangeInQueue, ...]:
    """Waiting requests, oldest first (names shown: one audit row for the queue)."""
    _require(actor, _QUEUE)
    return _list_address_changes(actor)


def get_address_change_for_staff(actor: StaffActor, change_id: int) -> AddressChangeForStaff:
    """One request with the address it would replace (audited: name and contact)."""
    _require(actor, _SCREEN)
    return _get_address_change_for_staff(actor, change_id)


def confirm_address_change(actor: StaffActor, change_id: int) -> None:
    """Staff saw the new address on an identification document: it replaces the old one
    and the request is deleted. Two counters at once: the second gets NotFound."""
    _require(actor, _SCREEN)
    _confirm_address_change(actor, change_id)


def reject_address_change(actor: StaffActor, change_id: int) -> None:
    """The new address could not be confirmed: the request is deleted, the record unchanged."""
    _require(actor, _SCREEN)
    _reject_address_change(actor, change_id)
