"""Staff and a patron's reservations at the query layer (db.queries.staff_holds): the
policy in front of every look and action, and the audit row each one leaves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from db import clock, engine, queries
from db.patrons import DEMO_PATRONS
from tests.conftest import Database

HANAKO, TARO = DEMO_PATRONS[0].patron, DEMO_PATRONS[1].patron


def _actor(role: str) -> queries.StaffActor:
    return queries.StaffActor(1, role[:3].upper() + "01", "試験", role, (), 1)


def _id(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def _audit() -> list[tuple[str, int | None, str, str, str, str]]:
    with engine.read() as conn:
        return [
            (r.staff_code, r.patron_id, r.field_groups, r.screen, r.action, r.outcome)
            for r in conn.execute(
                text(
                    "SELECT staff_code, patron_id, field_groups, screen, action, outcome "
                    "FROM staff_audit ORDER BY id"
                )
            )
        ]


def _reservable_work() -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT i.work_id FROM item i JOIN material_type m ON m.code = i.material_type "
                    "WHERE m.reservable AND m.loan_days > 0 AND i.status = 'available' "
                    "AND i.work_id NOT IN (SELECT it.work_id FROM loan l "
                    "JOIN item it ON it.id = l.item_id) ORDER BY i.id LIMIT 1"
                )
            ).scalar_one()
        )


def _home() -> str:
    return queries.list_branches()[0].code


def test_the_policy_decides_who_sees_and_who_acts(library_db: Database) -> None:
    policy = queries.staff_policy_data()
    for role, sees, acts in (
        ("manager", True, True),
        ("staff", True, True),
        ("temporary", True, False),
        ("intern", False, False),
    ):
        assert ("holds" in policy.visible_fields(role, ())) is sees, role
        assert policy.may(role, (), "patron.holds") is acts, role
    # No duty gives an intern anything, and the temporary staff's duty is not this one.
    assert not policy.may("temporary", ("patron_records",), "patron.holds")
    assert policy.field_groups["holds"].personal


def test_staff_place_change_and_cancel_with_an_audit_row_each(library_db: Database) -> None:
    staff, hanako, work = _actor("staff"), _id(HANAKO.card_number), _reservable_work()
    with engine.write() as conn:  # copies off the shelves: the reservation waits (db.pulling)
        conn.execute(text("UPDATE item SET status = 'in_process' WHERE work_id = :w"), {"w": work})
    branches = [b.code for b in queries.list_branches()]
    before = len(_audit())
    hold = queries.place_hold_for_staff(staff, hanako, work, branches[0])
    assert hold.work_id == work and hold.pickup_code == branches[0]
    # The same reservation as the patron's own: My Library shows it.
    assert [h.id for h in queries.list_holds(hanako)] == [hold.id]
    seen = queries.list_holds_for_staff(staff, hanako)
    assert seen is not None and [h.id for h in seen.holds] == [hold.id]
    assert seen.limit == queries.hold_limit() and seen.home_branch_code in branches
    changed = queries.change_hold_pickup_for_staff(staff, hanako, hold.id, branches[1])
    assert changed.pickup_code == branches[1]
    today = clock.library_today(clock.now())
    suspended = queries.suspend_hold_for_staff(staff, hanako, hold.id, today + timedelta(days=5))
    assert suspended.state == "suspended"
    assert queries.resume_hold_for_staff(staff, hanako, hold.id).state == "waiting"
    title = queries.cancel_hold_for_staff(staff, hanako, hold.id)
    assert title == hold.title and queries.list_holds(hanako) == ()
    rows = _audit()[before:]
    assert [r[4] for r in rows] == [
        "hold_place",
        "view",
        "hold_pickup",
        "hold_suspend",
        "hold_resume",
        "hold_cancel",
    ]
    assert all(r[:4] == ("STA01", hanako, "holds", "patron_holds") for r in rows)
    assert all(r[5] == "allowed" for r in rows)
    assert all(title not in str(r) for r in rows)  # never the values


def test_roles_without_the_permission_are_refused_and_recorded(library_db: Database) -> None:
    hanako, work = _id(HANAKO.card_number), _reservable_work()
    hold = queries.place_hold(hanako, work, _home())
    before = len(_audit())
    for role in ("temporary", "intern"):
        actor = _actor(role)
        with pytest.raises(queries.StaffRefused):
            queries.place_hold_for_staff(actor, hanako, work, _home())
        with pytest.raises(queries.StaffRefused):
            queries.cancel_hold_for_staff(actor, hanako, hold.id)
        with pytest.raises(queries.StaffRefused):
            queries.change_hold_pickup_for_staff(actor, hanako, hold.id, _home())
    assert [h.id for h in queries.list_holds(hanako)] == [hold.id]  # untouched
    refused = _audit()[before:]
    assert len(refused) == 6 and all(r[5] == "refused" and r[1] == hanako for r in refused)
    # An intern does not even see them (masked, nothing shown, nothing recorded); temporary
    # staff see them, and that look is recorded.
    assert queries.list_holds_for_staff(_actor("intern"), hanako) is None
    assert len(_audit()) == before + 6
    shown = queries.list_holds_for_staff(_actor("temporary"), hanako)
    assert shown is not None and len(shown.holds) == 1
    assert _audit()[-1] == ("TEM01", hanako, "holds", "patron_holds", "view", "allowed")


def test_another_patrons_reservation_is_not_found(library_db: Database) -> None:
    staff, hanako, taro = _actor("staff"), _id(HANAKO.card_number), _id(TARO.card_number)
    hold = queries.place_hold(hanako, _reservable_work(), _home())
    with pytest.raises(queries.NotFound):
        queries.cancel_hold_for_staff(staff, taro, hold.id)
    with pytest.raises(queries.NotFound):
        queries.list_holds_for_staff(staff, 10**9)
    assert [h.id for h in queries.list_holds(hanako)] == [hold.id]


def test_the_rules_are_the_patrons_and_a_refusal_is_still_recorded(library_db: Database) -> None:
    staff, hanako, work = _actor("staff"), _id(HANAKO.card_number), _reservable_work()
    queries.place_hold_for_staff(staff, hanako, work, _home())
    before = len(_audit())
    with pytest.raises(queries.HoldRefused) as refused:
        queries.place_hold_for_staff(staff, hanako, work, _home())
    assert refused.value.code == "already_reserved"
    assert _audit()[before:] == [
        ("STA01", hanako, "holds", "patron_holds", "hold_place", "allowed")
    ]


def test_a_title_is_found_by_a_copys_barcode(library_db: Database) -> None:
    with engine.read() as conn:
        barcode, work = conn.execute(text("SELECT barcode, work_id FROM item LIMIT 1")).one()
    found = queries.find_title_by_barcode(f" {barcode} ")
    assert found is not None and found.work_id == work and found.barcode == barcode
    assert queries.find_title_by_barcode("no-such-barcode") is None
