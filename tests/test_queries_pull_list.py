"""The pull list at the query layer (db.pulling, db.queries.pull_list): a reservation a copy
on the shelf can serve puts that copy on its branch's list; scans; not on the shelf;
releases; the daily re-check; and races, on both engines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from db import engine, queries, rules
from tests.conftest import Database, in_words
from tests.test_queries_holds import (
    DAY,
    NOW,
    TODAY,
    Lib,
    at,
    hold_count,
    make_lib,
    off_the_shelf,
    outbox,
    status,
)


@pytest.fixture
def lib(fresh_db: Database) -> Iterator[Lib]:
    queries.set_clock(lambda: NOW)
    try:
        yield make_lib()
    finally:
        queries.set_clock(None)


def listed(branch: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(barcodes for the hold shelf here, (barcode, destination) to send on)."""
    pull = queries.list_pull_list(branch)
    return (
        [line.barcode for line in pull.hold_shelf],
        [(line.barcode, line.destination_code) for line in pull.transit],
    )


def promised() -> dict[str, str]:
    """barcode → hold state, for every copy promised to a reservation."""
    with engine.read() as conn:
        rows = conn.execute(
            text("SELECT i.barcode, h.state FROM hold h JOIN item i ON i.id = h.item_id")
        ).all()
    return {r.barcode: r.state for r in rows}


def test_a_reservation_on_a_copy_on_the_shelf_puts_it_on_the_pull_list(lib: Lib) -> None:
    # Before the pull list the reservation stayed "waiting, number 1" with the copy on the shelf.
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["neko"], "minami")
    assert (hold.state, hold.position) == ("pulling", None)
    # The copy at the pickup branch is chosen, though sogo's copy has the lower number.
    assert status("H002") == rules.TO_PULL and status("H001") == rules.AVAILABLE
    assert listed("minami") == (["H002"], [])
    assert listed("sogo") == ([], [])
    [line] = queries.list_pull_list("minami").hold_shelf
    assert (line.title, line.destination.get("ja")) == ("吾輩は猫である", "南市民図書館")
    assert outbox() == []  # nothing is ready yet

    # Staff find it: ready on the hold shelf, and the ready notice is queued.
    scan = queries.pull_copy("H002")
    assert (scan.route, scan.title) == ("ready", "吾輩は猫である")
    ready = queries.get_hold(a, hold.id)
    assert (ready.state, ready.ready_until) == ("ready", TODAY + 7 * DAY)
    assert status("H002") == rules.ON_HOLD_SHELF
    [(kind, to, _, body)] = outbox()
    assert (kind, to) == ("hold_ready", "p0@example.jp") and body and "南市民図書館" in body
    assert listed("minami") == ([], [])
    # Scanned again: no longer on the list, nothing changes.
    with pytest.raises(queries.PullRefused) as refused:
        queries.pull_copy("H002")
    assert "抜き取りリスト" in in_words(refused.value)
    assert len(outbox()) == 1


def test_a_copy_of_another_branch_goes_in_transit(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["kokoro"], "minami")  # its one copy is at sogo
    assert listed("sogo") == ([], [("H003", "minami")])
    assert listed("minami") == ([], [])
    scan = queries.pull_copy("H003")
    assert scan.route == "in_transit" and scan.branch is not None
    assert scan.branch.get("ja") == "南市民図書館"
    assert queries.get_hold(a, hold.id).state == "in_transit"
    assert status("H003") == rules.IN_TRANSIT and outbox() == []
    # Received at minami: on the hold shelf there, and now the notice is queued.
    assert queries.receive_item("H003").state == "ready"
    assert [(kind, to) for kind, to, *_ in outbox()] == [("hold_ready", "p0@example.jp")]


def test_the_counter_does_not_lend_a_listed_copy_to_someone_else(lib: Lib) -> None:
    (a, card_a), (_, card_b) = lib.patrons[:2]
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    with pytest.raises(queries.QueryError) as refused:
        queries.checkout(card_b, "H003")
    assert "抜き取りリスト" in in_words(refused.value)
    assert status("H003") == rules.TO_PULL
    # The patron it is promised to found it first: lent, the reservation is fulfilled.
    queries.checkout(card_a, "H003")
    assert queries.list_holds(a) == () and listed("sogo") == ([], [])


def test_not_on_the_shelf_marks_it_missing_and_moves_to_the_next_copy(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    assert listed("sogo") == (["H001"], [])
    moved = queries.report_not_on_shelf("H001")
    assert moved.route == "pulling" and moved.branch is not None
    assert moved.branch.get("ja") == "南市民図書館"
    assert status("H001") == rules.MISSING
    assert listed("sogo") == ([], []) and listed("minami") == ([], [("H002", "sogo")])
    assert queries.get_hold(a, hold.id).state == "pulling"
    # The last copy is not there either: the reservation waits, first in line.
    assert queries.report_not_on_shelf("H002").route == "waiting"
    back = queries.get_hold(a, hold.id)
    assert (back.state, back.position) == ("waiting", 1)
    assert status("H002") == rules.MISSING
    # A title with no copy left that can serve a reservation cannot be reserved now.
    with pytest.raises(queries.HoldRefused):
        queries.place_hold(b, lib.works["neko"], "sogo")
    with pytest.raises(queries.PullRefused):
        queries.report_not_on_shelf("H002")
    with pytest.raises(queries.PullRefused):
        queries.pull_copy("NO-SUCH")


def test_a_listed_copy_released_goes_to_the_next_reservation_or_back(lib: Lib) -> None:
    (a, _), (b, _), (c, card_c) = lib.patrons[:3]
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "minami")
    assert queries.get_hold(b, hold_b.id).position == 1
    queries.cancel_hold(a, hold_a.id)
    # b takes the copy, still on sogo's shelf: now for transit to minami.
    assert queries.get_hold(b, hold_b.id).state == "pulling"
    assert listed("sogo") == ([], [("H003", "minami")])
    # Nobody else waits: the copy is simply back on the shelf.
    queries.cancel_hold(b, hold_b.id)
    assert status("H003") == rules.AVAILABLE and hold_count() == 0
    # A reservation collected with a different copy releases its listed one.
    queries.place_hold(c, lib.works["neko"], "sogo")
    assert promised() == {"H001": "pulling"}
    queries.checkout(card_c, "H002")
    assert hold_count() == 0 and status("H001") == rules.AVAILABLE


def test_a_new_pickup_branch_takes_the_copy_on_its_shelf(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    assert listed("sogo") == (["H001"], [])
    assert queries.change_hold_pickup(a, hold.id, "minami").state == "pulling"
    assert listed("sogo") == ([], []) and listed("minami") == (["H002"], [])
    assert status("H001") == rules.AVAILABLE
    # A branch with no copy: the copy stays where it is listed, for transit.
    queries.change_hold_pickup(a, hold.id, "tsujido")
    assert listed("minami") == ([], [("H002", "tsujido")]) and promised() == {"H002": "pulling"}


def test_resume_and_the_daily_job_list_copies_that_became_available(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    off_the_shelf("H003")
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.suspend_hold(a, hold_a.id, TODAY + 3 * DAY)
    hold_b = queries.place_hold(b, lib.works["neko"], "sogo")
    assert queries.get_hold(b, hold_b.id).state == "pulling"
    with engine.write() as conn:  # the copy is back from processing
        conn.execute(text("UPDATE item SET status = 'available' WHERE barcode = 'H003'"))
    # Suspended: the daily job leaves it; resumed, it goes on the list at once.
    assert queries.refill_pull_lists() == 0
    assert queries.resume_hold(a, hold_a.id).state == "pulling"
    assert listed("sogo") == (["H001", "H003"], [])
    # A suspension that simply ends is picked up by the daily job.
    queries.cancel_hold(a, hold_a.id)
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.cancel_hold(a, hold_a.id)
    off_the_shelf("H003")
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.suspend_hold(a, hold_a.id, TODAY + 2 * DAY)
    with engine.write() as conn:
        conn.execute(text("UPDATE item SET status = 'available' WHERE barcode = 'H003'"))
    at(NOW + 2 * DAY)
    assert queries.refill_pull_lists() == 1
    assert queries.get_hold(a, hold_a.id).state == "pulling"
    assert queries.refill_pull_lists() == 0


def test_a_listed_copy_left_without_its_reservation_goes_back_on_the_shelf(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.place_hold(b, lib.works["neko"], "sogo")
    with engine.write() as conn:  # a's row deleted underneath (no release)
        conn.execute(text("DELETE FROM hold WHERE patron_id = :p"), {"p": a})
    assert listed("sogo") == (["H001"], [])
    assert queries.refill_pull_lists() == 0
    assert status("H003") == rules.AVAILABLE and status("H001") == rules.TO_PULL


def test_a_copy_received_with_no_reservation_serves_a_waiting_one(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    hold_a = queries.place_hold(a, lib.works["kokoro"], "minami")
    queries.pull_copy("H003")  # in transit to minami
    queries.cancel_hold(a, hold_a.id)  # still travelling, nobody waiting
    hold_b = queries.place_hold(b, lib.works["kokoro"], "minami")
    assert queries.get_hold(b, hold_b.id).state == "waiting"
    # It arrives at minami's counter: ready for b at once, not reshelved.
    with engine.read() as conn:
        minami = conn.execute(text("SELECT id FROM branch WHERE code = 'minami'")).scalar_one()
    assert queries.receive_item("H003", minami).state == "ready"
    assert queries.get_hold(b, hold_b.id).state == "ready"


def test_reference_copies_are_neither_listed_lent_nor_reservable(lib: Lib) -> None:
    (a, card_a) = lib.patrons[0]
    with pytest.raises(queries.HoldRefused) as refused:
        queries.place_hold(a, lib.works["jiten"], "sogo")
    assert "予約できる所蔵がありません" in in_words(refused.value)
    with pytest.raises(queries.QueryError) as refused:
        queries.checkout(card_a, "H004")
    assert "館内" in in_words(refused.value)
    assert queries.refill_pull_lists() == 0 and status("H004") == rules.AVAILABLE


# --- races: threads on both engines --------------------------------------------------------


def race(*actions: Callable[[], object]) -> list[str]:
    """Run the actions at once; → "ok" or the refusal code of each, in order."""
    start = threading.Barrier(len(actions))
    outcomes: list[str] = ["" for _ in actions]

    def run(n: int, action: Callable[[], object]) -> None:
        start.wait(timeout=10)
        try:
            action()
            outcomes[n] = "ok"
        except queries.QueryError as refused:
            outcomes[n] = refused.refusal.code
        except BaseException as exc:  # surfaced by the assertion
            outcomes[n] = repr(exc)

    threads = [threading.Thread(target=run, args=(n, a)) for n, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_staff_scanning_one_copy_make_it_ready_once(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["kokoro"], "sogo")
    outcomes = race(lambda: queries.pull_copy("H003"), lambda: queries.pull_copy("H003"))
    assert sorted(outcomes) == ["ok", "pull_not_listed"]
    assert queries.get_hold(a, hold.id).state == "ready"
    assert [kind for kind, *_ in outbox()] == ["hold_ready"]


def test_found_and_not_on_shelf_at_once_end_in_one_state(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["kokoro"], "sogo")
    outcomes = race(lambda: queries.pull_copy("H003"), lambda: queries.report_not_on_shelf("H003"))
    assert sorted(outcomes) == ["ok", "pull_not_listed"]
    state = queries.get_hold(a, hold.id).state
    assert (state, status("H003")) in {("ready", rules.ON_HOLD_SHELF), ("waiting", rules.MISSING)}


def test_two_reservations_competing_for_one_copy_never_share_it(lib: Lib) -> None:
    (a, _), (b, _), (c, _), (d, _) = lib.patrons
    outcomes = race(
        *((lambda p=p: queries.place_hold(p, lib.works["kokoro"], "sogo")) for p in (a, b, c, d))
    )
    assert outcomes == ["ok"] * 4
    assert promised() == {"H003": "pulling"}
    states = sorted(queries.list_holds(p)[0].state for p in (a, b, c, d))
    assert states == ["pulling", "waiting", "waiting", "waiting"]
    assert sorted(queries.list_holds(p)[0].position or 0 for p in (a, b, c, d)) == [0, 1, 2, 3]


def test_a_scan_racing_a_cancellation_leaves_no_promise_and_no_notice(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["kokoro"], "sogo")
    outcomes = race(lambda: queries.pull_copy("H003"), lambda: queries.cancel_hold(a, hold.id))
    assert outcomes[1] == "ok" and outcomes[0] in {"ok", "pull_not_listed"}
    assert hold_count() == 0 and status("H003") == rules.AVAILABLE
    assert outbox() == []  # a notice queued by the scan is withdrawn with the reservation


def test_a_return_scan_of_a_listed_copy_checks_it_in_for_its_reservation(lib: Lib) -> None:
    # Before: a copy on the pull list handed in at the counter was "not on loan", and stayed
    # on the list.
    (a, _), (b, _) = lib.patrons[:2]
    ready = queries.place_hold(a, lib.works["neko"], "minami")
    travels = queries.place_hold(b, lib.works["kokoro"], "minami")  # its copy is at sogo
    back = queries.return_item("H002")
    assert (back.found, back.route, back.was_overdue) == ("to_pull", "ready", False)
    assert queries.get_hold(a, ready.id).state == "ready" and status("H002") == "on_hold_shelf"
    assert [(kind, to) for kind, to, *_ in outbox()] == [("hold_ready", "p0@example.jp")]
    sent = queries.return_item("H003")
    assert (sent.found, sent.route) == ("to_pull", "in_transit") and sent.route_branch
    assert sent.route_branch.get("ja") == "南市民図書館"
    assert queries.get_hold(b, travels.id).state == "in_transit"
    assert listed("sogo") == ([], []) and listed("minami") == ([], [])
    with engine.read() as conn:  # nothing was lent: no return is counted
        assert (
            conn.execute(text("SELECT count(*) FROM daily_count WHERE event = 'return'")).scalar()
            == 0
        )


def test_a_return_scan_brings_a_missing_copy_back_into_circulation(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.report_not_on_shelf("H003")  # its only copy: the reservation waits
    assert status("H003") == rules.MISSING
    found = queries.return_item("H003")  # found after all: to the waiting reservation
    assert (found.found, found.route) == ("missing", "ready")
    assert status("H003") == rules.ON_HOLD_SHELF
    off_the_shelf("H002")
    queries.place_hold(b, lib.works["neko"], "sogo")
    queries.report_not_on_shelf("H001")
    assert status("H001") == rules.MISSING
    queries.cancel_hold(b, queries.list_holds(b)[0].id)
    shelved = queries.return_item("H001")  # nobody waits now: back on the shelf
    assert (shelved.found, shelved.route) == ("missing", "available")
    assert status("H001") == rules.AVAILABLE


def test_a_return_scan_racing_the_pull_list_scan_makes_it_ready_once(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    hold = queries.place_hold(a, lib.works["kokoro"], "sogo")
    outcomes = race(lambda: queries.return_item("H003"), lambda: queries.pull_copy("H003"))
    # Whichever scan is second finds the copy on the hold shelf already.
    assert sorted(outcomes) in (["not_on_loan", "ok"], ["ok", "pull_not_listed"])
    assert queries.get_hold(a, hold.id).state == "ready" and status("H003") == "on_hold_shelf"
    assert [kind for kind, *_ in outbox()] == ["hold_ready"]
