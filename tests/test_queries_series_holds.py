"""Series reservations, stepping back and the estimate window at the query layer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from db import engine, estimate, queries, rules
from db.catalog_write import ImportReport, WorkRecord, upsert_works
from tests.conftest import Database, in_words
from tests.test_queries_circulation import add_item
from tests.test_queries_holds import _patron, at, status

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 in Japan
TODAY = date(2026, 11, 20)
DAY = timedelta(days=1)

# Three volumes of one series, another series of one volume, and a title without series.
VOLUMES = {
    "v1": ("はらぺこ探偵 1", "はらぺこ叢書 ; 1"),
    "v2": ("はらぺこ探偵 2", "はらぺこ叢書 ; 2"),
    "v3": ("はらぺこ探偵 3", "はらぺこ叢書 ; 3"),
    "v10": ("はらぺこ探偵 10", "はらぺこ叢書 ; 10"),
    "solo": ("ひとり旅", "ひとり叢書 ; 1"),
}


@dataclass(frozen=True)
class Lib:
    works: dict[str, int]
    reader: tuple[int, str]  # the series reader
    others: list[tuple[int, str]]


def make_lib() -> Lib:
    with engine.write() as conn:
        records = [
            WorkRecord(source="synth", source_id=key, title=title, series=series_statement)
            for key, (title, series_statement) in VOLUMES.items()
        ]
        works = dict(zip(VOLUMES, upsert_works(conn, records, ImportReport(), NOW), strict=True))
        for key, work_id in works.items():
            add_item(conn, work_id, f"S-{key}", "book", branch="sogo")
        people = [_patron(conn, n, f"s{n}@example.jp") for n in range(5)]
    return Lib(works=works, reader=people[0], others=people[1:])


@pytest.fixture
def lib(fresh_db: Database) -> Iterator[Lib]:
    queries.set_clock(lambda: NOW)
    try:
        yield make_lib()
    finally:
        queries.set_clock(None)


def lend_all_to(lib: Lib, card: str, *keys: str) -> None:
    for key in keys:
        queries.checkout(card, f"S-{key}")


def hold_of(patron_id: int, work_id: int) -> queries.HoldView:
    return next(h for h in queries.list_holds(patron_id) if h.work_id == work_id)


def request_count() -> int:
    with engine.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM hold_request")).scalar_one())


# --- the series form ----------------------------------------------------------------------


def test_series_choice_lists_the_volumes_in_volume_order(lib: Lib) -> None:
    reader, _ = lib.reader
    choice = queries.get_series_choice(reader, lib.works["v2"])
    assert choice is not None and choice.series == "はらぺこ叢書"
    assert [v.volume for v in choice.volumes] == ["1", "2", "3", "10"]
    assert all(v.reservable and not v.reserved for v in choice.volumes)
    assert queries.get_series_choice(reader, lib.works["solo"]) is None  # no sibling


# --- in order: the "done when" ----------------------------------------------------


def test_in_order_delivers_volume_2_only_after_volume_1_is_collected(lib: Lib) -> None:
    (reader, card), (_other, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1", "v2", "v3")
    ids = [lib.works[k] for k in ("v1", "v2", "v3")]
    queries.place_series(reader, ids, "in_order", "sogo", queries.hold_limit())
    extras = queries.list_hold_extras(reader)
    by_work = {h.work_id: extras[h.id] for h in queries.list_holds(reader)}
    assert [by_work[w].sequence for w in ids] == [1, 2, 3]
    assert [by_work[w].held_back for w in ids] == [False, True, True]

    # Volume 2 comes back first: it is held back, so it goes back on the shelf.
    assert queries.return_item("S-v2").route == rules.AVAILABLE
    assert hold_of(reader, ids[1]).state == "waiting"
    # Volume 1 comes back: ready for the reader; volume 2 still waits.
    assert queries.return_item("S-v1").route == "ready"
    assert hold_of(reader, ids[0]).state == "ready"
    assert hold_of(reader, ids[1]).state == "waiting" and status("S-v2") == rules.AVAILABLE
    # Collecting volume 1 releases volume 2: its copy on the shelf goes on the pull list,
    # and once staff take it off the shelf it waits on the hold shelf.
    queries.checkout(card, "S-v1")
    assert hold_of(reader, ids[1]).state == "pulling" and status("S-v2") == rules.TO_PULL
    assert queries.pull_copy("S-v2").route == "ready"
    assert hold_of(reader, ids[1]).state == "ready" and status("S-v2") == rules.ON_HOLD_SHELF
    assert hold_of(reader, ids[2]).state == "waiting"
    assert queries.list_hold_extras(reader)[hold_of(reader, ids[2]).id].held_back
    # Volume 3 returned while volume 2 is still uncollected: held back.
    assert queries.return_item("S-v3").route == rules.AVAILABLE
    queries.checkout(card, "S-v2")
    assert hold_of(reader, ids[2]).state == "pulling"
    queries.pull_copy("S-v3")
    assert hold_of(reader, ids[2]).state == "ready"
    queries.checkout(card, "S-v3")
    assert queries.list_holds(reader) == () and request_count() == 0


def test_a_held_back_volume_keeps_its_place_and_others_are_served(lib: Lib) -> None:
    (reader, _), (_other, other_card), (third, _) = lib.reader, lib.others[0], lib.others[1]
    lend_all_to(lib, other_card, "v1", "v2")
    queries.place_series(reader, [lib.works["v1"], lib.works["v2"]], "in_order", "sogo", 10)
    at(NOW + DAY)
    queries.place_hold(third, lib.works["v2"], "sogo")
    # Volume 2 returned: the reader (number 1 in its queue) is held back, number 2 gets it.
    assert hold_of(reader, lib.works["v2"]).position == 1
    assert queries.return_item("S-v2").route == "ready"
    assert hold_of(third, lib.works["v2"]).state == "ready"
    assert hold_of(reader, lib.works["v2"]).position == 1


def test_cancelling_volume_1_releases_volume_2_and_the_request_can_be_cancelled(lib: Lib) -> None:
    (reader, _), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1")
    request_id = queries.place_series(
        reader, [lib.works[k] for k in ("v1", "v2", "v3")], "in_order", "sogo", 10
    )
    # Volume 2's copy is on the shelf but held back: not even the daily pull-list refill
    # promises it.
    assert hold_of(reader, lib.works["v2"]).state == "waiting"
    queries.refill_pull_lists()
    assert hold_of(reader, lib.works["v2"]).state == "waiting"
    assert status("S-v2") == rules.AVAILABLE
    queries.cancel_hold(reader, hold_of(reader, lib.works["v1"]).id)
    assert hold_of(reader, lib.works["v2"]).state == "pulling"
    assert queries.cancel_series(reader, request_id) == 2
    assert queries.list_holds(reader) == () and request_count() == 0
    assert status("S-v2") == rules.AVAILABLE


def test_an_expired_volume_pauses_the_rest_until_the_patron_continues(lib: Lib) -> None:
    (reader, _), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1")
    request_id = queries.place_series(
        reader, [lib.works["v1"], lib.works["v2"]], "in_order", "sogo", 10
    )
    queries.return_item("S-v1")
    at(NOW + 8 * DAY)
    assert queries.run_daily_holds().expired == 1
    [left] = queries.list_holds(reader)
    extra = queries.list_hold_extras(reader)[left.id]
    assert extra.paused and extra.held_back and left.state == "waiting"
    queries.continue_series(reader, request_id)
    assert hold_of(reader, lib.works["v2"]).state == "pulling"


def test_series_refusals_name_the_volume_and_place_nothing(lib: Lib) -> None:
    (reader, _card) = lib.reader
    queries.place_hold(reader, lib.works["v2"], "sogo")
    with pytest.raises(queries.SeriesRefused) as refused:
        queries.place_series(reader, [lib.works["v1"], lib.works["v2"]], "in_order", "sogo", 10)
    assert refused.value.code == "already_reserved"
    assert refused.value.params["title"] == "はらぺこ探偵 2"
    with pytest.raises(queries.SeriesRefused) as refused:
        queries.place_series(reader, [lib.works["v1"]], "in_order", "sogo", 10)
    assert "2 冊以上" in in_words(refused.value)
    with pytest.raises(queries.SeriesRefused) as refused:
        queries.place_series(reader, [lib.works["v1"], lib.works["v3"]], "in_order", "sogo", 2)
    assert refused.value.params == {"limit": 2, "free": 1}
    with pytest.raises(queries.SeriesRefused):
        queries.place_series(reader, [lib.works["v1"], lib.works["v3"]], "sideways", "sogo", 10)
    assert len(queries.list_holds(reader)) == 1 and request_count() == 0


# --- together -----------------------------------------------------------------------------


def test_together_keeps_copies_until_all_are_in_then_one_deadline(lib: Lib) -> None:
    (reader, card), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1", "v2")
    ids = [lib.works["v1"], lib.works["v2"]]
    queries.place_series(reader, ids, "together", "sogo", 10)
    assert queries.return_item("S-v1").route == "ready"  # on the hold shelf, for the reader
    first = hold_of(reader, ids[0])
    assert first.state == "kept" and status("S-v1") == rules.ON_HOLD_SHELF
    assert queries.list_hold_extras(reader)[first.id].kept
    with engine.read() as conn:  # no ready notice yet
        assert conn.execute(text("SELECT count(*) FROM mail_outbox")).scalar_one() == 0
    at(NOW + 3 * DAY)
    queries.return_item("S-v2")
    both = [hold_of(reader, w) for w in ids]
    assert [h.state for h in both] == ["ready", "ready"]
    assert {h.ready_until for h in both} == {TODAY + 3 * DAY + 7 * DAY}
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM mail_outbox")).scalar_one() == 2
    queries.checkout(card, "S-v1")
    queries.checkout(card, "S-v2")
    assert request_count() == 0


def test_together_waits_at_most_the_shelf_days_then_delivers_what_is_in(lib: Lib) -> None:
    (reader, _), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1", "v2")
    ids = [lib.works["v1"], lib.works["v2"]]
    queries.place_series(reader, ids, "together", "sogo", 10)
    queries.return_item("S-v1")
    at(NOW + 7 * DAY)
    queries.run_daily_holds()
    assert hold_of(reader, ids[0]).state == "kept"
    at(NOW + 8 * DAY)
    queries.run_daily_holds()
    assert hold_of(reader, ids[0]).state == "ready"
    assert hold_of(reader, ids[0]).ready_until == TODAY + 15 * DAY
    queries.return_item("S-v2")  # released: later volumes come as they are in
    assert hold_of(reader, ids[1]).state == "ready"


def test_cancelling_the_missing_volume_delivers_the_kept_ones(lib: Lib) -> None:
    (reader, _), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1", "v2")
    ids = [lib.works["v1"], lib.works["v2"]]
    queries.place_series(reader, ids, "together", "sogo", 10)
    queries.return_item("S-v1")
    queries.cancel_hold(reader, hold_of(reader, ids[1]).id)
    assert hold_of(reader, ids[0]).state == "ready"


# --- step back ----------------------------------------------------------------------------


def test_step_back_once_gives_a_ready_copy_to_the_next_and_keeps_the_place(lib: Lib) -> None:
    (reader, _), (_, other_card), (second, _) = lib.reader, lib.others[0], lib.others[1]
    add_copy("v1", "S-v1b")
    lend_all_to(lib, other_card, "v1")
    queries.checkout(other_card, "S-v1b")
    queries.place_hold(reader, lib.works["v1"], "sogo")
    at(NOW + DAY)
    queries.place_hold(second, lib.works["v1"], "sogo")
    queries.return_item("S-v1")
    mine = hold_of(reader, lib.works["v1"])
    assert mine.state == "ready"
    queries.step_back(reader, mine.id, None)
    assert hold_of(second, lib.works["v1"]).state == "ready"
    mine = hold_of(reader, lib.works["v1"])
    assert mine.state == "waiting" and mine.position == 1
    assert queries.list_hold_extras(reader)[mine.id].step_back_passes == 0  # used up
    with engine.read() as conn:  # the reader's notice was withdrawn, the second's queued
        assert conn.execute(text("SELECT count(*) FROM mail_outbox")).scalar_one() == 1
    queries.return_item("S-v1b")
    assert hold_of(reader, lib.works["v1"]).state == "ready"


def test_step_back_once_while_waiting_lets_one_reader_pass(lib: Lib) -> None:
    (reader, _), (_, other_card) = lib.reader, lib.others[0]
    second, third = lib.others[1][0], lib.others[2][0]
    add_copy("v1", "S-v1b")
    add_copy("v1", "S-v1c")
    lend_all_to(lib, other_card, "v1")
    queries.checkout(other_card, "S-v1b")
    queries.checkout(other_card, "S-v1c")
    queries.place_hold(reader, lib.works["v1"], "sogo")
    at(NOW + DAY)
    queries.place_hold(second, lib.works["v1"], "sogo")
    queries.place_hold(third, lib.works["v1"], "sogo")
    mine = hold_of(reader, lib.works["v1"])
    queries.step_back(reader, mine.id, None)
    assert queries.list_hold_extras(reader)[mine.id].step_back_passes == 1
    queries.return_item("S-v1")
    assert hold_of(second, lib.works["v1"]).state == "ready"
    queries.return_item("S-v1b")
    assert hold_of(reader, lib.works["v1"]).state == "ready"
    assert hold_of(third, lib.works["v1"]).state == "waiting"


def test_step_back_for_days_and_its_refusals(lib: Lib) -> None:
    (reader, _), (_, other_card), (second, _) = lib.reader, lib.others[0], lib.others[1]
    lend_all_to(lib, other_card, "v1")
    queries.place_hold(reader, lib.works["v1"], "sogo")
    queries.return_item("S-v1")
    mine = hold_of(reader, lib.works["v1"])
    with pytest.raises(queries.SeriesRefused) as refused:  # nobody to pass the copy to
        queries.step_back(reader, mine.id, 3)
    assert "ほかに予約している人がいない" in in_words(refused.value)
    with pytest.raises(queries.SeriesRefused):
        queries.step_back(reader, mine.id, 61)
    with pytest.raises(queries.NotFound):
        queries.step_back(second, mine.id, 3)
    with pytest.raises(queries.QueryError):  # not hers: the copy stays set aside
        queries.checkout(lib.others[0][1], "S-v1")


def test_step_back_for_days_skips_until_the_date(lib: Lib) -> None:
    (reader, _), (_, other_card), (second, _) = lib.reader, lib.others[0], lib.others[1]
    add_copy("v1", "S-v1b")
    lend_all_to(lib, other_card, "v1")
    queries.checkout(other_card, "S-v1b")
    queries.place_hold(reader, lib.works["v1"], "sogo")
    at(NOW + DAY)
    queries.place_hold(second, lib.works["v1"], "sogo")
    queries.step_back(reader, hold_of(reader, lib.works["v1"]).id, 5)
    extra = queries.list_hold_extras(reader)[hold_of(reader, lib.works["v1"]).id]
    assert extra.step_back_until == TODAY + 6 * DAY
    queries.return_item("S-v1")
    assert hold_of(second, lib.works["v1"]).state == "ready"
    at(NOW + 6 * DAY)
    queries.return_item("S-v1b")
    assert hold_of(reader, lib.works["v1"]).state == "ready"


def add_copy(key: str, barcode: str) -> None:
    with engine.write() as conn:
        work_id = conn.execute(
            text("SELECT work_id FROM item WHERE barcode = :b"), {"b": f"S-{key}"}
        ).scalar_one()
        add_item(conn, work_id, barcode, "book", branch="sogo")


# --- the estimate window --------------------------------------------------------------------


def test_estimate_window_from_due_dates_and_the_queue() -> None:
    due = date(2026, 12, 10)
    copies = [estimate.CopyFree(due, due)]
    assert estimate.estimate_window(TODAY, copies, 0, 14, 7) == (due, due + 2 * DAY)
    first, last = estimate.estimate_window(TODAY, copies, 1, 14, 7) or (None, None)
    assert first == due + 14 * DAY and last == due + (2 + 7 + 14 + 2) * DAY
    two = [*copies, estimate.CopyFree(due + 3 * DAY, due + 3 * DAY)]
    assert estimate.estimate_window(TODAY, two, 1, 14, 7) == (due + 3 * DAY, due + 5 * DAY)
    assert estimate.estimate_window(TODAY, [], 0, 14, 7) is None


def test_estimate_skips_suspended_and_says_when_and_why_it_changed(lib: Lib) -> None:
    (reader, _), (_, other_card), (first, _) = lib.reader, lib.others[0], lib.others[1]
    lend_all_to(lib, other_card, "v1")
    due = TODAY + 14 * DAY
    queries.place_hold(first, lib.works["v1"], "sogo")
    at(NOW + DAY)
    queries.place_hold(reader, lib.works["v1"], "sogo")
    mine = hold_of(reader, lib.works["v1"])
    extra = queries.list_hold_extras(reader)[mine.id]
    assert (extra.first, extra.last) == (due + 14 * DAY, due + 25 * DAY)
    assert extra.change is None
    # The reader ahead suspends: skipped, so the window moves and the page says why.
    queries.suspend_hold(first, hold_of(first, lib.works["v1"]).id, TODAY + 30 * DAY)
    extra = queries.list_hold_extras(reader)[mine.id]
    assert (extra.first, extra.last) == (due, due + 2 * DAY)
    assert extra.change is not None and extra.change.reasons == ("fewer_ahead",)
    assert extra.change.was_first == due + 14 * DAY and extra.change.count == 1
    queries.note_estimate_seen(reader, mine.id)
    assert queries.list_hold_extras(reader)[mine.id].change is None
    with pytest.raises(queries.NotFound):
        queries.note_estimate_seen(first, mine.id)


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_series_requests_and_returns_never_give_a_copy_twice(lib: Lib) -> None:
    """Two readers place in-order requests while the volumes come back: every copy goes to
    at most one reservation and no held-back volume gets one."""
    (reader, _), (_other, other_card), (second, _) = lib.reader, lib.others[0], lib.others[1]
    lend_all_to(lib, other_card, "v1", "v2", "v3")
    ids = [lib.works[k] for k in ("v1", "v2", "v3")]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run(fn: object) -> None:
        try:
            start.wait()
            fn()  # type: ignore[operator]
        except BaseException as error:
            errors.append(error)

    jobs = [
        lambda: queries.place_series(reader, ids, "in_order", "sogo", 10),
        lambda: queries.place_series(second, ids[::-1], "in_order", "sogo", 10),
        lambda: queries.return_item("S-v2"),
        lambda: queries.return_item("S-v3"),
    ]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.read() as conn:
        rows = conn.execute(
            text("SELECT item_id, request_id, sequence FROM hold WHERE item_id IS NOT NULL")
        ).all()
    items = [r.item_id for r in rows]
    assert len(items) == len(set(items))
    assert all(r.sequence == 1 for r in rows)  # only a first volume may hold a copy


def test_a_kept_volume_cannot_move_to_another_pickup_library(lib: Lib) -> None:
    (reader, _), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1", "v2")
    queries.place_series(reader, [lib.works["v1"], lib.works["v2"]], "together", "sogo", 10)
    queries.return_item("S-v1")
    kept = hold_of(reader, lib.works["v1"])
    assert kept.state == "kept"
    with pytest.raises(queries.HoldRefused):
        queries.change_hold_pickup(reader, kept.id, "minami")


@pytest.mark.parametrize("attempt", range(3))
def test_collecting_volume_1_while_volume_2_comes_back(lib: Lib, attempt: int) -> None:
    """Whichever commits first, volume 2's copy ends set aside for the reader, once."""
    (reader, card), (_, other_card) = lib.reader, lib.others[0]
    lend_all_to(lib, other_card, "v1", "v2")
    ids = [lib.works["v1"], lib.works["v2"]]
    queries.place_series(reader, ids, "in_order", "sogo", 10)
    queries.return_item("S-v1")
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(job: object) -> None:
        try:
            start.wait()
            job()  # type: ignore[operator]
        except BaseException as error:
            errors.append(error)

    jobs = [lambda: queries.checkout(card, "S-v1"), lambda: queries.return_item("S-v2")]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Returned first, volume 2 was held back and then pulled from the shelf; collected
    # first, volume 1 let the return hand volume 2 straight to the hold shelf.
    [left] = queries.list_holds(reader)
    assert (left.work_id, left.state) in ((ids[1], "ready"), (ids[1], "pulling"))
    expected = rules.ON_HOLD_SHELF if left.state == "ready" else rules.TO_PULL
    assert status("S-v2") == expected


def test_step_back_from_the_pull_list_hands_the_copy_to_the_next_reader(lib: Lib) -> None:
    (reader, _), (second, _) = lib.reader, lib.others[1]
    queries.place_hold(reader, lib.works["v1"], "sogo")  # its copy is on the shelf
    at(NOW + DAY)
    queries.place_hold(second, lib.works["v1"], "sogo")
    mine = hold_of(reader, lib.works["v1"])
    assert mine.state == "pulling"
    queries.step_back(reader, mine.id, None)
    assert hold_of(second, lib.works["v1"]).state == "pulling"
    mine = hold_of(reader, lib.works["v1"])
    assert (mine.state, mine.position) == ("waiting", 1)
    assert status("S-v1") == rules.TO_PULL


def test_the_estimate_uses_the_loan_rule_of_each_reader_ahead(lib: Lib) -> None:
    """Loans follow the rule of the reader's category × material type: a reader ahead who
    borrows for 28 days (not the type's 14) keeps the copy that much longer."""
    (reader, _), (_, other_card), (first, _) = lib.reader, lib.others[0], lib.others[1]
    lend_all_to(lib, other_card, "v1")
    due = TODAY + 14 * DAY
    with engine.write() as conn:
        conn.execute(text("UPDATE patron SET category = 'university' WHERE id = :p"), {"p": first})
        conn.execute(
            text(
                "UPDATE loan_rule SET loan_days = 28 "
                "WHERE category = 'university' AND material_type = 'book'"
            )
        )
    queries.place_hold(first, lib.works["v1"], "sogo")
    at(NOW + DAY)
    queries.place_hold(reader, lib.works["v1"], "sogo")
    mine = hold_of(reader, lib.works["v1"])
    extra = queries.list_hold_extras(reader)[mine.id]
    # Before: due + 14 days (the type's loan period) to due + 25.
    assert (extra.first, extra.last) == (due + 28 * DAY, due + (2 + 7 + 28 + 2) * DAY)
    # The reader ahead now has the copy set aside: their 28 days count from the shelf.
    queries.return_item("S-v1")
    assert hold_of(first, lib.works["v1"]).state == "ready"
    extra = queries.list_hold_extras(reader)[mine.id]
    assert extra.first is not None and extra.first >= TODAY + DAY + 28 * DAY
