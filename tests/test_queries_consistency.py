"""Issue 11, "data stays consistent": a purge ends reservations as a cancellation does, and
the queue position told right after reserving is the real one under concurrency."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from db import engine, queries, rules
from tests import mailbox
from tests.conftest import Database
from tests.test_queries_holds import NOW, Lib, make_lib, status


@pytest.fixture
def lib(fresh_db: Database) -> Iterator[Lib]:
    queries.set_clock(lambda: NOW)
    try:
        yield make_lib()
    finally:
        queries.set_clock(None)


def purge(patron_id: int) -> queries.RetentionReport:
    """Make the patron three years idle and run retention."""
    with engine.write() as conn:
        conn.execute(
            text(
                "UPDATE patron SET registered_on = '2020-01-01', last_loan_on = NULL WHERE id = :p"
            ),
            {"p": patron_id},
        )
    return queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)


def mail_kinds() -> list[tuple[str, str]]:
    return [(kind, to) for kind, to, _, _ in mailbox.composed()]


def test_purging_a_patron_passes_their_ready_copy_to_the_next_in_line(lib: Lib) -> None:
    (a, _), (_, card_c), (b, _), _ = lib.patrons  # a: p0@example.jp, b: p2@example.jp
    queries.checkout(card_c, "H003")
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    assert status("H003") == rules.ON_HOLD_SHELF
    assert mail_kinds() == [("hold_ready", "p0@example.jp")]

    assert purge(a).patrons == 1
    ready = queries.get_hold(b, hold_b.id)
    assert (ready.state, ready.position) == ("ready", None)
    assert status("H003") == rules.ON_HOLD_SHELF
    # a's notice is withdrawn; b is told the copy waits for them.
    assert mail_kinds() == [("hold_ready", "p2@example.jp")]


def test_purging_the_last_in_line_puts_the_copy_back_on_the_shelf(lib: Lib) -> None:
    (a, _), (_, card_c), _, _ = lib.patrons
    queries.checkout(card_c, "H003")
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    purge(a)
    assert status("H003") == rules.AVAILABLE
    assert mail_kinds() == []
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM hold")).scalar_one() == 0


def test_purging_a_patron_whose_copy_is_in_transit_hands_it_on(lib: Lib) -> None:
    (a, _), (_, card_c), (b, _), _ = lib.patrons
    queries.checkout(card_c, "H003")  # the sogo copy
    queries.place_hold(a, lib.works["kokoro"], "minami")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "sogo")
    assert queries.return_item("H003").route == "in_transit"
    purge(a)
    # Still travelling: b takes it wherever it goes; at sogo it becomes ready for b.
    assert queries.get_hold(b, hold_b.id).state == "in_transit"
    assert queries.receive_item("H003").state == "ready"
    assert queries.get_hold(b, hold_b.id).state == "ready"


def test_a_purged_patrons_waiting_reservation_leaves_the_queue(lib: Lib) -> None:
    (a, _), (_, card_c), (b, _), _ = lib.patrons
    queries.checkout(card_c, "H003")
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "sogo")
    assert queries.get_hold(b, hold_b.id).position == 2
    purge(a)
    assert queries.get_hold(b, hold_b.id).position == 1
    queries.return_item("H003")
    assert queries.get_hold(b, hold_b.id).state == "ready"


# --- the queue position told right after reserving -----------------------------------------


def lend_both_copies(card: str) -> None:
    """Both copies of 吾輩は猫である out: every reservation waits in the queue (a copy on the
    shelf would be given at once, through the pull list)."""
    for barcode in ("H001", "H002"):
        queries.checkout(card, barcode)


def test_concurrent_reservations_are_told_positions_one_to_n(fresh_db: Database) -> None:
    """Each request reads its clock before it gets the title's lock, so a request that read
    the clock later may lock first: the clock here runs backwards per call to make that
    certain. The order (and so the position told) is the order the lock was taken."""
    n = 12
    queries.set_clock(lambda: NOW)
    try:
        lib = make_lib(patrons=n + 1)
        borrower = lib.patrons.pop()
        lend_both_copies(borrower[1])
        ticks = itertools.count()
        tick_lock = threading.Lock()

        def backwards() -> datetime:
            with tick_lock:
                return NOW - timedelta(milliseconds=next(ticks))

        queries.set_clock(backwards)
        start = threading.Barrier(n)
        told: dict[int, int] = {}
        errors: list[BaseException] = []

        series = {p for p, _ in lib.patrons[::2]}  # half of them reserve it in a series

        def reserve(patron_id: int) -> None:
            try:
                start.wait(timeout=30)
                if patron_id in series:
                    works = [lib.works["neko"], lib.works["kokoro"]]
                    queries.place_series(patron_id, works, "together", "sogo", 10)
                    view = next(v for v in queries.list_holds(patron_id) if v.work_id == works[0])
                else:
                    view = queries.place_hold(patron_id, lib.works["neko"], "sogo")
                told[patron_id] = view.position or 0
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=reserve, args=(p,)) for p, _ in lib.patrons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert sorted(told.values()) == list(range(1, n + 1))
        # And what they were told is what their page says afterwards.
        for patron_id, position in told.items():
            views = queries.list_holds(patron_id)
            view = next(v for v in views if v.work_id == lib.works["neko"])
            assert view.position == position
    finally:
        queries.set_clock(None)


def test_one_after_another_each_is_told_the_end_of_the_queue(lib: Lib) -> None:
    """A patron whose request read the clock first but reached the queue second is second."""
    (a, _), (b, _), _, (_, card_d) = lib.patrons
    lend_both_copies(card_d)
    queries.place_hold(a, lib.works["neko"], "sogo")
    queries.set_clock(lambda: NOW - timedelta(seconds=1))
    try:
        assert queries.place_hold(b, lib.works["neko"], "sogo").position == 2
    finally:
        queries.set_clock(lambda: NOW)
    assert queries.list_holds(a)[0].position == 1


def test_a_series_volume_placed_second_is_second_whatever_its_clock(lib: Lib) -> None:
    """place_series fixes each volume's place under its title's lock like place_hold."""
    (a, _), (b, _), _, (_, card_d) = lib.patrons
    lend_both_copies(card_d)
    queries.place_hold(a, lib.works["neko"], "sogo")
    queries.set_clock(lambda: NOW - timedelta(seconds=1))
    try:
        queries.place_series(b, [lib.works["neko"], lib.works["kokoro"]], "in_order", "sogo", 10)
    finally:
        queries.set_clock(lambda: NOW)
    neko = next(v for v in queries.list_holds(b) if v.work_id == lib.works["neko"])
    assert neko.position == 2
    assert queries.list_holds(a)[0].position == 1
