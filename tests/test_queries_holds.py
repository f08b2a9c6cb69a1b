"""Reservations at the query layer: refusals, the queue, assignment, expiry, notices."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from db import circulation, engine, queries, rules
from db.catalog_write import ImportReport, WorkRecord, upsert_works
from db.patrons import NewPatron, create_patron
from tests import mailbox
from tests.conftest import Database, in_words
from tests.test_queries_circulation import add_item, counts, linking_tables

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 in Japan
TODAY = date(2026, 11, 20)
DAY = timedelta(days=1)

WORKS = {
    "neko": "吾輩は猫である",
    "kokoro": "こころ",
    "jiten": "日本国語大辞典",
}
# barcode → (work, material, branch)
ITEMS = {
    "H001": ("neko", "book", "sogo"),
    "H002": ("neko", "book", "minami"),
    "H003": ("kokoro", "book", "sogo"),
    "H004": ("jiten", "reference", "sogo"),
}


@dataclass(frozen=True)
class Lib:
    works: dict[str, int]
    patrons: list[tuple[int, str]]  # (id, card)


def _patron(conn: object, n: int, email: str | None, lang: str = "ja") -> tuple[int, str]:
    card = f"22{n:08d}"
    person = NewPatron(
        card, f"予約 {n}", "ヨヤク", date(1990, 1, 1), "藤沢市朝日町1-1", "0466-00-0000",
        email, "general", "sogo", lang,
    )  # fmt: skip
    return create_patron(conn, person, NOW), card  # type: ignore[arg-type]


def make_lib(patrons: int = 4) -> Lib:
    with engine.write() as conn:
        records = [
            WorkRecord(source="synth", source_id=key, title=title) for key, title in WORKS.items()
        ]
        works = dict(zip(WORKS, upsert_works(conn, records, ImportReport(), NOW), strict=True))
        for barcode, (work, material, branch) in ITEMS.items():
            add_item(conn, works[work], barcode, material, branch=branch)
        people = [
            _patron(conn, n, f"p{n}@example.jp" if n % 2 == 0 else None) for n in range(patrons)
        ]
    return Lib(works=works, patrons=people)


@pytest.fixture
def lib(fresh_db: Database) -> Iterator[Lib]:
    queries.set_clock(lambda: NOW)
    try:
        yield make_lib()
    finally:
        queries.set_clock(None)


def at(moment: datetime) -> None:
    queries.set_clock(lambda: moment)


def status(barcode: str) -> str:
    with engine.read() as conn:
        return str(
            conn.execute(
                text("SELECT status FROM item WHERE barcode = :b"), {"b": barcode}
            ).scalar_one()
        )


def off_the_shelf(*barcodes: str) -> None:
    """Take copies off the shelves (being processed): a reservation then waits in the queue
    instead of putting a copy on a pull list (db.pulling)."""
    with engine.write() as conn:
        for barcode in barcodes:
            conn.execute(
                text("UPDATE item SET status = :s WHERE barcode = :b"),
                {"s": rules.IN_PROCESS, "b": barcode},
            )


def outbox() -> list[tuple[str, str, str, str | None]]:
    return mailbox.composed()


def going_home(branch: str) -> list[str]:
    """The copies `branch`'s pull list says to take off its hold shelf and send home."""
    return [line.barcode for line in queries.list_pull_list(branch).going_home]


def hold_count() -> int:
    with engine.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM hold")).scalar_one())


# --- placing and refusals ----------------------------------------------------------------


def test_place_hold_shows_position_copies_and_an_estimate(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    off_the_shelf("H001", "H002")
    first = queries.place_hold(a, lib.works["neko"], "sogo")
    second = queries.place_hold(b, lib.works["neko"], "minami")
    assert (first.position, first.copies, first.state) == (1, 2, "waiting")
    assert (second.position, second.waiting) == (2, 2)
    assert first.estimate_days == 14 and second.estimate_days == 14
    assert queries.list_holds(a) == (queries.get_hold(a, first.id),)
    assert queries.get_hold_form(b, lib.works["neko"]).existing == second


def test_refusals_are_explained(lib: Lib) -> None:
    (a, card), (b, _) = lib.patrons[:2]
    queries.place_hold(a, lib.works["neko"], "sogo")
    with pytest.raises(queries.HoldRefused) as refused:
        queries.place_hold(a, lib.works["neko"], "minami")
    assert "すでに予約" in in_words(refused.value)
    with pytest.raises(queries.HoldRefused) as refused:
        queries.place_hold(a, lib.works["jiten"], "sogo")
    assert "予約できる所蔵がありません" in in_words(refused.value)
    queries.checkout(card, "H003")
    with pytest.raises(queries.HoldRefused) as refused:
        queries.place_hold(a, lib.works["kokoro"], "sogo")
    assert "あなたが借りています" in in_words(refused.value)
    with pytest.raises(queries.HoldRefused) as refused:
        queries.place_hold(b, lib.works["kokoro"], "nowhere")
    assert "受取館" in in_words(refused.value)
    with pytest.raises(queries.NotFound):
        queries.place_hold(b, 999_999, "sogo")
    queries.configure_holds(limit=1, shelf_days=7)
    try:
        queries.place_hold(b, lib.works["kokoro"], "sogo")
        with pytest.raises(queries.HoldRefused) as refused:
            queries.place_hold(b, lib.works["neko"], "sogo")
        assert "1件まで" in in_words(refused.value)
    finally:
        queries.configure_holds(limit=10, shelf_days=7)
    assert hold_count() == 2


def test_another_patrons_hold_is_not_found(lib: Lib) -> None:
    (a, _), (b, _) = lib.patrons[:2]
    hold = queries.place_hold(a, lib.works["neko"], "sogo")
    for action in (
        lambda: queries.get_hold(b, hold.id),
        lambda: queries.cancel_hold(b, hold.id),
        lambda: queries.change_hold_pickup(b, hold.id, "minami"),
        lambda: queries.suspend_hold(b, hold.id, TODAY + 5 * DAY),
        lambda: queries.resume_hold(b, hold.id),
    ):
        with pytest.raises(queries.NotFound):
            action()
    assert queries.get_hold(a, hold.id).pickup_code == "sogo"


def test_double_submit_creates_one_reservation(lib: Lib) -> None:
    (a, _) = lib.patrons[0]
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def submit() -> None:
        start.wait(timeout=10)
        try:
            queries.place_hold(a, lib.works["neko"], "sogo")
            outcomes.append("placed")
        except queries.HoldRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["placed", "refused", "refused", "refused"]
    assert hold_count() == 1


def test_fifty_concurrent_reservations_get_fifty_gap_free_positions(fresh_db: Database) -> None:
    queries.set_clock(lambda: NOW)  # the same instant for all: the id breaks the tie
    try:
        lib = make_lib(patrons=50)
        off_the_shelf("H001", "H002")
        start = threading.Barrier(50)
        errors: list[BaseException] = []
        placed: list[int] = []

        def reserve(patron_id: int) -> None:
            try:
                start.wait(timeout=30)
                placed.append(queries.place_hold(patron_id, lib.works["neko"], "sogo").id)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=reserve, args=(p,)) for p, _ in lib.patrons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert len(placed) == 50
        positions = sorted(queries.list_holds(p)[0].position or 0 for p, _ in lib.patrons)
        assert positions == list(range(1, 51))
        # Derived from (placed_at, id): the order ids were given.
        by_id = sorted(
            (queries.list_holds(p)[0].id, queries.list_holds(p)[0].position) for p, _ in lib.patrons
        )
        assert [pos for _, pos in by_id] == list(range(1, 51))
    finally:
        queries.set_clock(None)


# --- return, transit, shelf, checkout ------------------------------------------------------


def test_return_assigns_ready_or_transit_and_checkout_deletes_the_hold(lib: Lib) -> None:
    (a, card_a), (b, card_b), (_, card_c), (d, _) = lib.patrons  # a has p0@example.jp
    queries.checkout(card_c, "H001")  # sogo copy out
    queries.checkout(card_c, "H002")  # minami copy out
    hold_a = queries.place_hold(a, lib.works["neko"], "minami")
    hold_b = queries.place_hold(b, lib.works["neko"], "sogo")
    hold_d = queries.place_hold(d, lib.works["neko"], "sogo")
    waiting = [
        queries.get_hold(p, h.id).position for p, h in ((a, hold_a), (b, hold_b), (d, hold_d))
    ]
    assert waiting == [1, 2, 3]

    # The sogo copy comes back: first in line (a) collects at minami → transit.
    receipt = queries.return_item("H001")
    assert receipt.route == "in_transit" and receipt.route_branch is not None
    assert receipt.route_branch.get("ja") == "南市民図書館"
    assert status("H001") == rules.IN_TRANSIT
    assert queries.get_hold(a, hold_a.id).state == "in_transit"
    assert queries.get_hold(b, hold_b.id).position == 1
    assert outbox() == []
    with pytest.raises(queries.QueryError) as refused:
        queries.checkout(card_a, "H001")
    assert "回送中" in in_words(refused.value)

    # It arrives: ready at minami for 7 days; a has an email → one notice, no title in subject
    # (a asked for titles in the body: issue 16, none unless asked).
    queries.set_notice_settings(a, {"ready": (True, True)})
    assert queries.receive_item("H001").state == "ready"
    ready = queries.get_hold(a, hold_a.id)
    assert (ready.state, ready.ready_until, ready.position) == ("ready", TODAY + 7 * DAY, None)
    assert status("H001") == rules.ON_HOLD_SHELF
    [(kind, to, subject, body)] = outbox()
    assert (kind, to) == ("hold_ready", "p0@example.jp")
    assert "吾輩" not in subject and body is not None and "吾輩は猫である" in body
    assert "南市民図書館" in body and "2026年11月27日" in body

    # Someone else at the counter cannot take it; a can, and the hold is gone.
    with pytest.raises(queries.QueryError) as refused:
        queries.checkout(card_b, "H001")
    assert "予約棚" in in_words(refused.value)
    queries.checkout(card_a, "H001")
    assert queries.list_holds(a) == ()
    assert queries.get_hold(b, hold_b.id).position == 1
    assert queries.get_hold(d, hold_d.id).position == 2

    # The minami copy comes back; b (sogo) is next → transit; d is now first in line.
    assert queries.return_item("H002").route == "in_transit"
    assert queries.get_hold(d, hold_d.id).position == 1


def test_suspended_holds_are_skipped_but_keep_their_place(lib: Lib) -> None:
    (a, _), (b, _), (_, card_c), _ = lib.patrons
    queries.checkout(card_c, "H003")
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "sogo")
    with pytest.raises(queries.HoldRefused) as refused:
        queries.suspend_hold(a, hold_a.id, TODAY)
    assert "休止の期限" in in_words(refused.value)
    suspended = queries.suspend_hold(a, hold_a.id, TODAY + 10 * DAY)
    assert (suspended.state, suspended.position) == ("suspended", 1)
    queries.return_item("H003")
    assert queries.get_hold(a, hold_a.id).position == 1  # kept its place
    assert queries.get_hold(b, hold_b.id).state == "ready"  # skipped to b
    resumed = queries.resume_hold(a, hold_a.id)
    assert (resumed.state, resumed.suspended_until) == ("waiting", None)
    with pytest.raises(queries.HoldRefused):
        queries.suspend_hold(b, hold_b.id, TODAY + 3 * DAY)  # a copy is set aside already
    with pytest.raises(queries.HoldRefused) as refused:
        queries.change_hold_pickup(b, hold_b.id, "minami")
    assert "受取館は変更できません" in in_words(refused.value)
    assert queries.change_hold_pickup(a, hold_a.id, "tsujido").pickup_code == "tsujido"


def test_uncollected_hold_expires_and_goes_to_the_next_in_line(lib: Lib) -> None:
    (a, _), (b, _), (_, card_c), _ = lib.patrons
    queries.checkout(card_c, "H003")
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    assert queries.get_hold(a, hold_a.id).ready_until == TODAY + 7 * DAY
    at(NOW + 7 * DAY)
    assert queries.run_daily_holds().expired == 0  # still the last day
    at(NOW + 8 * DAY)
    assert queries.run_daily_holds().expired == 1
    with pytest.raises(queries.NotFound):
        queries.get_hold(a, hold_a.id)
    nxt = queries.get_hold(b, hold_b.id)
    assert (nxt.state, nxt.ready_until) == ("ready", TODAY + 15 * DAY)
    assert status("H003") == rules.ON_HOLD_SHELF
    at(NOW + 16 * DAY)
    assert queries.run_daily_holds().expired == 1
    assert status("H003") == rules.AVAILABLE and hold_count() == 0


def test_cancel_of_a_ready_hold_passes_the_copy_on(lib: Lib) -> None:
    (a, _), (b, _), (_, card_c), _ = lib.patrons
    queries.checkout(card_c, "H003")
    hold_a = queries.place_hold(a, lib.works["kokoro"], "sogo")
    hold_b = queries.place_hold(b, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    assert queries.cancel_hold(a, hold_a.id) == "こころ"
    assert queries.get_hold(b, hold_b.id).state == "ready"
    queries.cancel_hold(b, hold_b.id)
    assert status("H003") == rules.AVAILABLE and hold_count() == 0


def test_nothing_links_a_patron_to_an_item_after_the_hold_ends(lib: Lib) -> None:
    (_, _), (b, card_b), (_, card_c), _ = lib.patrons
    a, card_a = 515151, card_b  # distinctive ids, so the scan can look for them
    with engine.write() as conn:
        conn.execute(text("UPDATE patron SET id = :a WHERE id = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE item SET id = 626262 WHERE barcode = 'H003'"))
    queries.checkout(card_c, "H003")
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    queries.checkout(card_a, "H003")
    queries.return_item("H003")
    with engine.read() as conn:
        item_id = conn.execute(text("SELECT id FROM item WHERE barcode = 'H003'")).scalar_one()
        assert linking_tables(conn, (a, card_a), (item_id, "H003", "こころ")) == []
        assert conn.execute(text("SELECT count(*) FROM hold")).scalar_one() == 0
        events = dict(
            conn.execute(text("SELECT event, sum(count) FROM daily_count GROUP BY event")).all()
        )
    assert events["hold_placed"] == 1 and events["hold_filled"] == 1


# --- notices ---------------------------------------------------------------------------


def test_ready_notice_follows_the_patrons_choice(lib: Lib) -> None:
    (a, _), _, (_, card_c), _ = lib.patrons  # a has p0@example.jp
    assert queries.get_notice_prefs(a) == queries.NoticePrefs(True, True, None)
    queries.set_notice_prefs(a, hold_ready=False, due_reminder_days=None)
    queries.checkout(card_c, "H003")
    queries.place_hold(a, lib.works["kokoro"], "sogo")
    queries.return_item("H003")
    assert outbox() == []
    with pytest.raises(queries.QueryError):
        queries.set_notice_prefs(a, hold_ready=True, due_reminder_days=4)


def test_due_reminders_are_queued_once_n_days_before(lib: Lib) -> None:
    (a, card_a), *_ = lib.patrons
    queries.set_notice_prefs(a, hold_ready=True, due_reminder_days=3)
    queries.set_notice_settings(a, {"due_soon": (True, True)})  # titles only when asked
    queries.checkout(card_a, "H003")  # due TODAY + 14
    at(NOW + 10 * DAY)
    assert queries.queue_due_reminders() == 0
    at(NOW + 11 * DAY)
    assert queries.queue_due_reminders() == 1
    assert queries.queue_due_reminders() == 0  # once per loan
    [(kind, to, subject, body)] = outbox()
    assert (kind, to) == ("due_reminder", "p0@example.jp")
    assert "こころ" not in subject and body is not None and "こころ" in body
    queries.return_item("H003")  # the reminder marker goes with the loan
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM loan_reminder")).scalar_one() == 0
    # ...and so does the unsent reminder: no queued mail links the patron to the book.
    assert outbox() == []


def test_the_copy_is_routed_from_the_branch_it_was_returned_at(lib: Lib) -> None:
    (a, _), (_, card_b) = lib.patrons[:2]
    queries.checkout(card_b, "H003")  # a copy owned by 総合 (sogo)
    queries.place_hold(a, lib.works["kokoro"], "tsujido")
    with engine.read() as conn:
        tsujido = conn.execute(text("SELECT id FROM branch WHERE code = 'tsujido'")).scalar_one()
    # Handed in at 辻堂, the pickup branch: ready there at once, not sent to 総合 and back.
    with engine.write() as conn:
        receipt = circulation.return_item(conn, "H003", NOW, at_branch_id=tsujido)
    assert receipt.route == "ready"
    [hold] = queries.list_holds(a)
    assert hold.state == "ready"


# --- a copy taken off a hold shelf, or left away from home, goes home ----------------------

STAFF = queries.StaffActor(1, "STA01", "試験", "staff", (), 1)


def branch_id(code: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(text("SELECT id FROM branch WHERE code = :c"), {"c": code}).scalar_one()
        )


def ready_at(patron: int, work_id: int, pickup: str) -> queries.HoldView:
    """The patron's reservation of こころ (its one copy, H003, belongs to sogo) made ready on
    `pickup`'s hold shelf the way it happens: the pull list at sogo, then transit and
    receipt at the pickup branch when that is another one."""
    hold = queries.place_hold(patron, work_id, pickup)
    queries.pull_copy("H003")
    if pickup != "sogo":
        queries.receive_item("H003", branch_id(pickup))
    ready = queries.get_hold(patron, hold.id)
    assert ready.state == "ready" and status("H003") == rules.ON_HOLD_SHELF
    return ready


def _expire(patron: int, hold_id: int) -> None:
    at(NOW + 8 * DAY)  # its last day was TODAY + 7
    assert queries.run_daily_holds().expired == 1


# The three ends of a ready reservation nobody collects: the patron's cancel, the counter's
# cancel (電話予約), the daily expiry. They route the copy alike (db.routing.route_item).
ENDS = {
    "cancel": lambda patron, hold_id: queries.cancel_hold(patron, hold_id),
    "staff": lambda patron, hold_id: queries.cancel_hold_for_staff(STAFF, patron, hold_id),
    "expiry": _expire,
}


@pytest.mark.parametrize("end", ENDS)
def test_a_copy_off_another_branchs_hold_shelf_goes_home_in_transit(lib: Lib, end: str) -> None:
    # Before: `available` at sogo — 在架 in the catalogue — while it lay on minami's hold shelf.
    (a, _) = lib.patrons[0]
    hold = ready_at(a, lib.works["kokoro"], "minami")
    ENDS[end](a, hold.id)
    assert hold_count() == 0
    assert status("H003") == rules.IN_TRANSIT
    assert queries.list_pull_list("sogo").hold_shelf == ()  # nobody is sent to its shelf
    # Still on minami's hold shelf: minami's pull list says to send it home, sogo's not.
    (line,) = queries.list_pull_list("minami").going_home
    assert (line.barcode, line.destination_code) == ("H003", "sogo")
    assert going_home("sogo") == []
    with pytest.raises(queries.QueryError):
        queries.checkout(lib.patrons[1][1], "H003")  # not lent as if it were on a shelf
    # Scanned at minami (or any branch but its own), it is still to go home; in the transit
    # box now, it is off minami's list.
    still = queries.receive_item("H003", branch_id("minami"))
    assert still.state == "going_home" and still.branch is not None
    assert still.branch.get("ja") == "総合市民図書館" and status("H003") == rules.IN_TRANSIT
    assert going_home("minami") == []
    # Received at sogo: on the shelf there.
    assert queries.receive_item("H003", branch_id("sogo")).state == rules.AVAILABLE
    assert status("H003") == rules.AVAILABLE
    assert going_home("minami") == going_home("sogo") == []


@pytest.mark.parametrize("branch", ["minami", "sogo"])
def test_a_copy_going_home_scanned_in_return_mode_is_received_not_returned(
    lib: Lib, branch: str
) -> None:
    """Before: checked in as a stray (a migrated record), it counted a return though nothing
    was lent. At minami it sets off home, at sogo it is home."""
    (a, _) = lib.patrons[0]
    queries.cancel_hold(a, ready_at(a, lib.works["kokoro"], "minami").id)
    before = counts()
    with engine.write() as conn:
        back = circulation.return_item(conn, "H003", NOW, at_branch_id=branch_id(branch))
    assert back.found == rules.IN_TRANSIT and not back.was_overdue
    assert back.route == ("going_home" if branch == "minami" else rules.AVAILABLE)
    assert status("H003") == (rules.IN_TRANSIT if branch == "minami" else rules.AVAILABLE)
    assert counts() == before  # no RETURN
    assert going_home("minami") == []


@pytest.mark.parametrize("end", ENDS)
def test_a_copy_off_its_own_branchs_hold_shelf_goes_on_the_shelf(lib: Lib, end: str) -> None:
    (a, _) = lib.patrons[0]
    hold = ready_at(a, lib.works["kokoro"], "sogo")
    ENDS[end](a, hold.id)
    assert hold_count() == 0 and status("H003") == rules.AVAILABLE


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize(
    ("pickup", "route"), [("minami", rules.ON_HOLD_SHELF), ("tsujido", rules.IN_TRANSIT)]
)
def test_a_copy_off_a_hold_shelf_serves_the_next_reader_from_there(
    lib: Lib, end: str, pickup: str, route: str
) -> None:
    """Not home first: it is at minami, so ready there at once for a reader who collects at
    minami, else in transit from minami to theirs."""
    (a, _), (b, _) = lib.patrons[:2]
    hold = ready_at(a, lib.works["kokoro"], "minami")
    at(NOW + timedelta(seconds=1))
    nxt = queries.place_hold(b, lib.works["kokoro"], pickup)
    assert nxt.state == "waiting"
    ENDS[end](a, hold.id)
    assert status("H003") == route
    served = queries.get_hold(b, nxt.id)
    assert served.state == ("ready" if pickup == "minami" else "in_transit")
    with engine.read() as conn:
        taken = conn.execute(
            text("SELECT i.barcode FROM hold h JOIN item i ON i.id = h.item_id WHERE h.id = :h"),
            {"h": nxt.id},
        ).scalar_one()
    assert taken == "H003"


def test_a_copy_returned_at_another_branch_with_nobody_waiting_goes_home(lib: Lib) -> None:
    # Before: `available` at sogo while it was in tsujido's book drop; the counter said nothing.
    (_, card_b) = lib.patrons[1]
    queries.checkout(card_b, "H003")  # owned by sogo
    with engine.write() as conn:
        away = circulation.return_item(conn, "H003", NOW, at_branch_id=branch_id("tsujido"))
    assert away.route == "going_home" and away.route_branch is not None
    assert away.route_branch.get("en") == "Central Civic Library"
    assert status("H003") == rules.IN_TRANSIT
    assert going_home("tsujido") == []  # scanned at the counter: in the transit box
    assert queries.receive_item("H003", branch_id("sogo")).state == rules.AVAILABLE
    queries.checkout(card_b, "H003")
    with engine.write() as conn:  # handed in at home: on the shelf at once
        home = circulation.return_item(conn, "H003", NOW, at_branch_id=branch_id("sogo"))
    assert home.route == rules.AVAILABLE and status("H003") == rules.AVAILABLE
