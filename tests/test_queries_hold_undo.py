"""Undoing a cancelled reservation (db.queries.holds.restore_hold): its place in the queue
comes back, nothing of it is kept in the database meanwhile, and only its patron may."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from db import engine, queries, rules
from tests import test_queries_holds
from tests.test_queries_holds import (
    NOW,
    TODAY,
    Lib,
    at,
    branch_id,
    off_the_shelf,
    outbox,
    ready_at,
    status,
)

lib = test_queries_holds.lib
STAFF = queries.StaffActor(1, "STA01", "試験", "staff", (), 1)


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
    with pytest.raises(queries.UndoUsed):
        queries.restore_hold(a, cancelled)
    assert _rows_of(a) == 1


def _undone_once(lib: Lib) -> tuple[int, int, queries.CancelledHold, queries.HoldView]:
    """Patron a first and b second in line; a cancels and undoes a minute later.
    → (a, b, a's note, the reservation it put back)."""
    (a, _), (b, _) = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    at(NOW + timedelta(seconds=1))
    queries.place_hold(b, lib.works["neko"], "sogo")
    at(NOW + timedelta(minutes=1))
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    return a, b, cancelled, queries.restore_hold(a, cancelled)


def test_a_used_note_cannot_undo_staff_s_cancellation(lib: Lib) -> None:
    """The note put the reservation back; staff then cancelled it at the counter: the same
    note, still within its minutes, does not bring it back against them."""
    a, b, cancelled, back = _undone_once(lib)
    at(NOW + timedelta(minutes=2))
    queries.cancel_hold_for_staff(STAFF, a, back.id)
    at(NOW + timedelta(minutes=3))
    with pytest.raises(queries.UndoUsed):
        queries.restore_hold(a, cancelled)
    assert _rows_of(a) == 0 and queries.list_holds(b)[0].position == 1


def test_a_used_note_cannot_undo_a_cancellation_from_another_tab(lib: Lib) -> None:
    (a, _), _ = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    first = queries.cancel_hold_undoably(a, hold.id)
    back = queries.restore_hold(a, first)
    queries.cancel_hold_undoably(a, back.id)  # the other tab: a note of its own
    with pytest.raises(queries.UndoUsed):
        queries.restore_hold(a, first)
    assert _rows_of(a) == 0


def test_cancelling_the_restored_reservation_gives_a_new_note_that_works_once(lib: Lib) -> None:
    a, b, first, back = _undone_once(lib)
    at(NOW + timedelta(minutes=2))
    second = queries.cancel_hold_undoably(a, back.id)
    assert second.hold_id == back.id != first.hold_id
    again = queries.restore_hold(a, second)
    assert again.position == 1 and queries.list_holds(b)[0].position == 2
    queries.cancel_hold(a, again.id)
    for note in (first, second):
        with pytest.raises(queries.UndoUsed):
            queries.restore_hold(a, note)
    assert _rows_of(a) == 0


def test_a_refused_undo_leaves_its_note_usable(lib: Lib) -> None:
    """The note is marked used in the restore's transaction: refused by the rules of
    reserving, it is not used up."""
    (a, _), _ = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    cancelled = queries.cancel_hold_undoably(a, hold.id)
    other = queries.place_hold(a, lib.works["neko"], "minami")
    with pytest.raises(queries.HoldRefused) as refused:
        queries.restore_hold(a, cancelled)
    assert refused.value.code == "already_reserved" and _used() == []
    queries.cancel_hold(a, other.id)
    assert queries.restore_hold(a, cancelled).pickup_code == "sogo"
    assert _used() == [cancelled.hold_id]


def test_used_notes_keep_ids_and_times_only_and_go_when_out_of_time(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    old = queries.cancel_hold_undoably(a, queries.place_hold(a, lib.works["neko"], "sogo").id)
    queries.restore_hold(a, old)
    at(NOW + timedelta(minutes=2))
    new = queries.cancel_hold_undoably(b, queries.place_hold(b, lib.works["neko"], "sogo").id)
    queries.restore_hold(b, new)
    with engine.read() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("hold_undo_used")}
    assert columns == {"hold_id", "cancelled_at", "library_id"}  # no patron, no title
    assert _used() == sorted([old.hold_id, new.hold_id])
    # At the end of the old note's minutes it is kept: the note could still be posted.
    at(NOW + timedelta(minutes=queries.HOLD_UNDO_MINUTES))
    assert _retention().undo_notes == 0 and len(_used()) == 2
    at(NOW + timedelta(minutes=queries.HOLD_UNDO_MINUTES, seconds=1))
    assert _retention().undo_notes == 1 and _used() == [new.hold_id]
    with pytest.raises(queries.UndoExpired):  # the clock refuses the old note from now on
        queries.restore_hold(a, old)
    with pytest.raises(queries.UndoUsed):  # its row is kept while the note is in time
        queries.restore_hold(b, new)


def _used() -> list[int]:
    with engine.read() as conn:
        return [
            int(i)
            for i in conn.execute(text("SELECT hold_id FROM hold_undo_used ORDER BY 1")).scalars()
        ]


def _retention() -> queries.RetentionReport:
    return queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)


# --- a reservation cancelled while ready ----------------------------------------------


def _copy_of(hold_id: int) -> str | None:
    with engine.read() as conn:
        return conn.execute(
            text("SELECT i.barcode FROM hold h JOIN item i ON i.id = h.item_id WHERE h.id = :h"),
            {"h": hold_id},
        ).scalar()


def _pull_lists() -> list[str]:
    """Every copy on any branch's pull list."""
    with engine.read() as conn:
        return list(
            conn.execute(text("SELECT barcode FROM item WHERE status = :s"), {"s": rules.TO_PULL})
            .scalars()
            .all()
        )


@pytest.mark.parametrize("pickup", ["minami", "sogo"])
def test_undo_of_a_ready_reservation_puts_it_back_ready_with_its_copy(
    lib: Lib, pickup: str
) -> None:
    """Before: back as waiting, its copy on sogo's pull list — staff sent to a shelf it was
    not on (書架になし) — and its ready state and last pickup day lost."""
    (a, _) = lib.patrons[0]
    ready = ready_at(a, lib.works["kokoro"], pickup)  # sogo's copy H003, ready at `pickup`
    assert [kind for kind, *_ in outbox()] == ["hold_ready"]  # a has an address
    at(NOW + timedelta(minutes=3))
    cancelled = queries.cancel_hold_undoably(a, ready.id)
    assert cancelled.ready_until == ready.ready_until
    at(NOW + timedelta(minutes=3 + queries.HOLD_UNDO_MINUTES))
    back = queries.restore_hold(a, cancelled)
    assert (back.state, back.ready_until, back.position) == ("ready", ready.ready_until, None)
    assert _copy_of(back.id) == "H003" and status("H003") == rules.ON_HOLD_SHELF
    assert _pull_lists() == []
    # Its unsent notice went with the cancellation; the patron who put it back is not
    # told again what their own page shows.
    assert outbox() == []
    # It is a ready reservation again in every way: collected at the counter, it ends.
    queries.checkout(lib.patrons[0][1], "H003")
    assert queries.list_holds(a) == ()


def test_undo_of_a_ready_reservation_keeps_its_deadline(lib: Lib) -> None:
    """Put back ready, it expires on the day it would have: the undo gives no extra days."""
    (a, _), (b, _) = lib.patrons[:2]
    ready = ready_at(a, lib.works["kokoro"], "minami")
    assert ready.ready_until == TODAY + timedelta(days=7)
    at(NOW + timedelta(days=7))  # its last day
    back = queries.restore_hold(a, queries.cancel_hold_undoably(a, ready.id))
    assert (back.state, back.ready_until) == ("ready", ready.ready_until)
    nxt = queries.place_hold(b, lib.works["kokoro"], "minami")
    at(NOW + timedelta(days=8))
    assert queries.run_daily_holds().expired == 1
    assert queries.get_hold(b, nxt.id).state == "ready"  # the copy was on minami's shelf


def test_undo_after_the_ready_copy_went_to_the_next_reader_is_waiting(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    ready = ready_at(a, lib.works["kokoro"], "minami")
    cancelled = queries.cancel_hold_undoably(a, ready.id)
    assert status("H003") == rules.IN_TRANSIT  # going home to sogo
    at(NOW + timedelta(minutes=1))
    theirs = queries.place_hold(b, lib.works["kokoro"], "sogo")
    assert queries.receive_item("H003", branch_id("sogo")).state == "ready"  # b's now
    at(NOW + timedelta(minutes=2))
    back = queries.restore_hold(a, cancelled)
    assert (back.state, back.position, back.ready_until) == ("waiting", 1, None)
    assert _copy_of(back.id) is None and _copy_of(theirs.id) == "H003"
    assert queries.get_hold(b, theirs.id).state == "ready"


def test_undo_after_the_ready_copy_got_home_pulls_it_from_there(lib: Lib) -> None:
    """Received at sogo meanwhile, the copy is on sogo's shelf now: the reservation waits
    again and that copy, really on that shelf, goes on sogo's pull list for minami."""
    (a, _) = lib.patrons[0]
    ready = ready_at(a, lib.works["kokoro"], "minami")
    cancelled = queries.cancel_hold_undoably(a, ready.id)
    assert queries.receive_item("H003", branch_id("sogo")).state == rules.AVAILABLE
    back = queries.restore_hold(a, cancelled)
    assert back.state == "pulling" and _copy_of(back.id) == "H003"
    assert [line.barcode for line in queries.list_pull_list("sogo").transit] == ["H003"]


def test_undo_after_the_ready_copy_was_scanned_for_home_leaves_it_in_transit(lib: Lib) -> None:
    """Scanned at minami's counter after the cancellation, the copy is in the transit box,
    not on the hold shelf: the undo does not say it is ready there."""
    (a, _) = lib.patrons[0]
    ready = ready_at(a, lib.works["kokoro"], "minami")
    cancelled = queries.cancel_hold_undoably(a, ready.id)
    assert [line.barcode for line in queries.list_pull_list("minami").going_home] == ["H003"]
    assert queries.receive_item("H003", branch_id("minami")).state == "going_home"
    back = queries.restore_hold(a, cancelled)
    assert back.state != "ready" and status("H003") == rules.IN_TRANSIT
    assert queries.list_pull_list("minami").going_home == ()
