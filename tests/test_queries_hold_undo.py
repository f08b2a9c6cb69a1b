"""Undoing a cancelled reservation (db.queries.holds.restore_hold): its place in the queue
comes back, nothing of it is kept in the database meanwhile, and only its patron may."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from db import engine, queries
from tests import test_queries_holds
from tests.test_queries_holds import NOW, TODAY, Lib, at, off_the_shelf

lib = test_queries_holds.lib


def _rows_of(patron_id: int) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM hold WHERE patron_id = :p"), {"p": patron_id}
            ).scalar_one()
        )


def test_undo_puts_it_back_in_its_place(lib: Lib) -> None:
    (a, _), (b, _), (c, _) = lib.patrons[:3]
    off_the_shelf("H001", "H002")
    for n, patron in enumerate((a, b, c)):
        at(NOW + timedelta(seconds=n))
        queries.place_hold(patron, lib.works["neko"], "sogo")
    first = queries.list_holds(a)[0]
    at(NOW + timedelta(minutes=1))
    cancelled = queries.cancel_hold_undoably(a, first.id)
    assert cancelled.undoable and cancelled.title == "吾輩は猫である"
    assert _rows_of(a) == 0  # nothing of it left in the database
    assert queries.list_holds(b)[0].position == 1
    at(NOW + timedelta(minutes=1 + queries.HOLD_UNDO_MINUTES))
    back = queries.restore_hold(a, cancelled)
    assert back.position == 1 and back.pickup_code == "sogo" and back.id != first.id
    assert [queries.list_holds(p)[0].position for p in (b, c)] == [2, 3]


def test_undo_is_only_for_its_patron_and_in_time(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    with pytest.raises(queries.NotFound):
        queries.restore_hold(b, cancelled)
    with pytest.raises(queries.NotFound):  # a note rewritten for someone else
        queries.restore_hold(b, dataclasses.replace(cancelled, patron_id=b, undoable=False))
    at(NOW + timedelta(minutes=queries.HOLD_UNDO_MINUTES, seconds=1))
    with pytest.raises(queries.UndoExpired):
        queries.restore_hold(a, cancelled)
    assert _rows_of(a) == 0 and _rows_of(b) == 0


def test_undo_keeps_the_rules_of_reserving(lib: Lib) -> None:
    (a, _), _ = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    queries.place_hold(a, lib.works["neko"], "minami")  # reserved again meanwhile
    with pytest.raises(queries.HoldRefused) as refused:
        queries.restore_hold(a, cancelled)
    assert refused.value.code == "already_reserved"


def test_a_suspension_comes_back_only_if_still_ahead(lib: Lib) -> None:
    (a, _), _ = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    queries.suspend_hold(a, hold.id, TODAY + timedelta(days=5))
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    assert queries.restore_hold(a, cancelled).suspended_until == TODAY + timedelta(days=5)
    again = queries.cancel_hold_undoably(a, queries.list_holds(a)[0].id)
    past = dataclasses.replace(again, suspended_until=TODAY)
    assert queries.restore_hold(a, past).suspended_until is None


def test_a_ready_copy_given_on_stays_with_the_next_reader(lib: Lib) -> None:
    (a, _), (b, _), (_, card_c) = lib.patrons[:3]
    queries.checkout(card_c, "H001")
    queries.checkout(card_c, "H002")
    hold_a = queries.place_hold(a, lib.works["neko"], "sogo")
    at(NOW + timedelta(seconds=1))
    queries.place_hold(b, lib.works["neko"], "sogo")
    queries.return_item("H001")  # at sogo: ready for a
    assert queries.get_hold(a, hold_a.id).state == "ready"
    cancelled = queries.cancel_hold_undoably(a, hold_a.id)
    assert queries.list_holds(b)[0].state == "ready"  # the copy went on to b
    back = queries.restore_hold(a, cancelled)
    assert back.state == "waiting" and back.position == 1  # first for the next copy
    assert queries.list_holds(b)[0].state == "ready"


def test_two_undos_at_once_make_one_reservation(lib: Lib) -> None:
    (a, _), _ = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def undo() -> None:
        start.wait(timeout=30)
        try:
            queries.restore_hold(a, cancelled)
            outcomes.append("restored")
        except queries.HoldRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=undo) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "refused", "refused", "restored"]
    assert _rows_of(a) == 1


def test_undo_keeps_every_rule_of_reserving(lib: Lib) -> None:
    """The same checks as place_hold: a title on loan to the patron is not reserved again."""
    (a, card_a), _ = lib.patrons[:2]
    off_the_shelf("H001")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    at(NOW + timedelta(minutes=1))
    queries.checkout(card_a, "H002")  # at the counter meanwhile
    with pytest.raises(queries.HoldRefused) as refused:
        queries.restore_hold(a, cancelled)
    assert refused.value.code == "on_loan_to_you" and _rows_of(a) == 0


def test_an_undo_works_once(lib: Lib) -> None:
    (a, _), _ = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    queries.restore_hold(a, cancelled)
    with pytest.raises(queries.HoldRefused) as refused:
        queries.restore_hold(a, cancelled)
    assert refused.value.code == "already_reserved" and _rows_of(a) == 1
