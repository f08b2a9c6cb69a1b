"""Circulation at the db level: checkout, loans, renewal, return, privacy, demo loans.

db.circulation is called inside the query layer's own transactions (engine.write/read),
the way the db.queries wrappers do. Times are explicit, so tests travel through due dates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from db import circulation, engine, queries, rules, staff
from db.catalog_write import ImportReport, WorkRecord, upsert_works
from db.circulation import LoanView, RenewalRefused
from db.errors import NotFound, QueryError
from db.patrons import DEMO_PATRONS, NewPatron, create_patron, ensure_demo_patrons
from db.sessions import Timeouts
from tests.conftest import Database, in_words

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 in Japan
TODAY = date(2026, 11, 20)
DAY = timedelta(days=1)

ALICE_CARD = "2199990001"
BOB_CARD = "2199990002"
ALICE_ID = 424242  # distinctive ids, so a scan of the database can look for them
ITEM_ID = 987654

# barcode → (work key, material type, status)
ITEMS = {
    "T000000001": ("neko", "book", rules.AVAILABLE),
    "T000000002": ("kokoro", "book", rules.AVAILABLE),
    "T000000003": ("eiga", "av", rules.AVAILABLE),
    "T000000004": ("jiten", "reference", rules.AVAILABLE),
    "T000000005": ("kokoro", "book", rules.MISSING),
    "T000000006": ("kokoro", "book", rules.IN_PROCESS),
    "T000000007": ("eiga", "av", rules.IN_TRANSIT),
}
WORKS = {
    "neko": ("吾輩は猫である", ("夏目, 漱石",)),
    "kokoro": ("こころ", ("夏目, 漱石",)),
    "eiga": ("映画で見る藤沢", ("藤沢市", "湘南映像研究会")),
    "jiten": ("日本国語大辞典", ()),
}
PRIVATE_BARCODE = "T987654321"  # the copy the privacy test follows, item id ITEM_ID


@dataclass(frozen=True)
class Library:
    alice: int
    bob: int
    works: dict[str, int]


def new_patron(conn: Connection, card: str, name: str) -> int:
    person = NewPatron(
        card, name, "テスト", date(1990, 1, 1), "藤沢市朝日町1-1", "0466-00-0000", None,
        "general", "sogo",
    )  # fmt: skip
    return create_patron(conn, person, NOW)


def add_item(
    conn: Connection,
    work_id: int,
    barcode: str,
    material: str = "book",
    status: str = rules.AVAILABLE,
    item_id: int | None = None,
    branch: str = "sogo",
) -> None:
    values = {
        "barcode": barcode,
        "work_id": work_id,
        "branch": branch,
        "material_type": material,
        "status": status,
    }
    if item_id is None:
        conn.execute(
            text(
                "INSERT INTO item (barcode, work_id, branch_id, material_type, call_number, "
                "shelf_location, status) SELECT :barcode, :work_id, id, :material_type, "
                "'', '', :status FROM branch "
                "WHERE code = :branch"
            ),
            values,
        )
    else:
        conn.execute(
            text(
                "INSERT INTO item (id, barcode, work_id, branch_id, material_type, call_number, "
                "shelf_location, status) SELECT :id, :barcode, :work_id, id, :material_type, "
                "'', '', :status FROM branch "
                "WHERE code = :branch"
            ),
            {**values, "id": item_id},
        )


@pytest.fixture
def lib(fresh_db: Database) -> Iterator[Library]:
    """Four works with copies in every state that matters, and two patrons."""
    with engine.write() as conn:
        records = [
            WorkRecord(source="synth", source_id=key, title=title, authors=authors)
            for key, (title, authors) in WORKS.items()
        ]
        ids = upsert_works(conn, records, ImportReport(), NOW)
        works = dict(zip(WORKS, ids, strict=True))
        for barcode, (work, material, status) in ITEMS.items():
            add_item(conn, works[work], barcode, material, status)
        add_item(conn, works["neko"], PRIVATE_BARCODE, item_id=ITEM_ID)
        alice = new_patron(conn, ALICE_CARD, "試験 アリス")
        conn.execute(
            text("UPDATE patron SET id = :new WHERE id = :old"), {"new": ALICE_ID, "old": alice}
        )
        bob = new_patron(conn, BOB_CARD, "試験 ボブ")
    yield Library(alice=ALICE_ID, bob=bob, works=works)


def checkout(card: str, barcode: str, now: datetime = NOW) -> circulation.CheckoutReceipt:
    with engine.write() as conn:
        return circulation.checkout(conn, card, barcode, now)


def loans(patron_id: int, now: datetime = NOW) -> tuple[LoanView, ...]:
    with engine.read() as conn:
        return circulation.list_loans(conn, patron_id, now)


def renew(patron_id: int, loan_id: int, now: datetime = NOW) -> LoanView:
    with engine.write() as conn:
        return circulation.renew(conn, patron_id, loan_id, now)


def counts(day_from: date = TODAY, day_to: date = TODAY) -> dict[tuple[str, str, str], int]:
    with engine.read() as conn:
        rows = circulation.daily_counts(conn, day_from, day_to)
    return {(r.branch_code, r.material_type, r.event): r.count for r in rows}


def item_status(barcode: str) -> str:
    with engine.read() as conn:
        status = conn.execute(
            text("SELECT status FROM item WHERE barcode = :b"), {"b": barcode}
        ).scalar_one()
    return str(status)


# ---------------------------------------------------------------------------------------
# Checkout and the loan list
# ---------------------------------------------------------------------------------------


def test_checkout_lists_loans_soonest_due_first_with_due_dates_by_material(
    lib: Library,
) -> None:
    book = checkout(ALICE_CARD, "T000000001")
    av = checkout(ALICE_CARD, "T000000003")
    assert (book.title, book.due_on) == ("吾輩は猫である", TODAY + 14 * DAY)
    assert (av.title, av.due_on) == ("映画で見る藤沢", TODAY + 7 * DAY)

    listed = loans(lib.alice)
    assert [loan.id for loan in listed] == [av.loan_id, book.loan_id]
    first = listed[0]
    assert first.work_id == lib.works["eiga"]
    assert first.authors == ("藤沢市", "湘南映像研究会")
    assert (first.branch.get("ja"), first.branch.get("en")) == (
        "総合市民図書館",
        "Central Civic Library",
    )
    assert first.barcode == "T000000003"
    assert first.checked_out_at == NOW
    # Issue 12: on the loan day a renewal would not move the due date, so it is refused.
    assert (first.renewals, first.overdue, first.renewable) == (0, False, False)
    assert first.refusal == queries.Refusal.of("renewal_too_soon", due=TODAY + 7 * DAY, days=7)
    next_day = loans(lib.alice, NOW + DAY)[0]
    assert (next_day.renewable, next_day.refusal) == (True, None)
    assert loans(lib.bob) == ()

    assert item_status("T000000001") == rules.ON_LOAN
    with engine.read() as conn:
        last_loan = conn.execute(
            text("SELECT last_loan_on FROM patron WHERE id = :id"), {"id": lib.alice}
        ).scalar_one()
    assert str(last_loan) == TODAY.isoformat()
    assert counts() == {("sogo", "book", "checkout"): 1, ("sogo", "av", "checkout"): 1}


def test_due_date_counts_from_the_library_s_local_day(lib: Library) -> None:
    # 23:30 UTC on the 19th is 08:30 on the 20th in Japan: the loan is the 20th's.
    early_morning_in_japan = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    receipt = checkout(ALICE_CARD, "T000000001", early_morning_in_japan)
    assert receipt.due_on == date(2026, 12, 4)
    assert counts() == {("sogo", "book", "checkout"): 1}


def test_loans_past_their_due_date_are_marked_overdue(lib: Library) -> None:
    checkout(ALICE_CARD, "T000000001")  # due in 14 days
    checkout(ALICE_CARD, "T000000003")  # due in 7 days
    on_the_due_day = loans(lib.alice, NOW + 7 * DAY)
    assert [loan.overdue for loan in on_the_due_day] == [False, False]
    a_week_later = loans(lib.alice, NOW + 8 * DAY)
    assert [loan.overdue for loan in a_week_later] == [True, False]
    assert (a_week_later[0].renewable, a_week_later[0].refusal) == (
        False,
        circulation.renewal_refusal(circulation.OVERDUE),
    )
    assert [loan.overdue for loan in loans(lib.alice, NOW + 15 * DAY)] == [True, True]


def test_checkout_refusals(lib: Library) -> None:
    refusals: list[tuple[str, str, type[QueryError]]] = [
        ("0000000000", "T000000001", circulation.UnknownCard),
        (ALICE_CARD, "NO-SUCH-BARCODE", circulation.UnknownBarcode),
        (ALICE_CARD, "T000000004", circulation.NotForLoan),
        (ALICE_CARD, "T000000005", circulation.ItemUnavailable),
        (ALICE_CARD, "T000000006", circulation.ItemUnavailable),
        (ALICE_CARD, "T000000007", circulation.ItemUnavailable),
    ]
    for card, barcode, refusal in refusals:
        with pytest.raises(refusal) as refused:
            checkout(card, barcode)
        ja, en = in_words(refused.value).split(" / ")
        assert ja and en, in_words(refused.value)
    with pytest.raises(circulation.ItemUnavailable) as missing:
        checkout(ALICE_CARD, "T000000005")
    assert "所在不明" in in_words(missing.value)

    checkout(ALICE_CARD, "T000000001")
    for card in (ALICE_CARD, BOB_CARD):  # nobody can borrow it twice
        with pytest.raises(circulation.AlreadyOnLoan):
            checkout(card, "T000000001")

    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET expires_on = :d WHERE id = :id"),
            {"d": TODAY - DAY, "id": lib.bob},
        )
    with pytest.raises(circulation.CardExpired) as expired:
        checkout(BOB_CARD, "T000000002")
    assert "有効期限" in in_words(expired.value)

    # Nothing refused was written.
    assert [loan.barcode for loan in loans(lib.alice)] == ["T000000001"]
    assert loans(lib.bob) == ()
    assert item_status("T000000002") == rules.AVAILABLE
    assert counts() == {("sogo", "book", "checkout"): 1}


def test_checkout_stops_at_the_loan_limit(lib: Library) -> None:
    with engine.write() as conn:
        for n in range(rules.LOAN_LIMIT + 1):
            add_item(conn, lib.works["kokoro"], f"L{n:09d}")
    for n in range(rules.LOAN_LIMIT):
        checkout(BOB_CARD, f"L{n:09d}")
    with pytest.raises(circulation.LoanLimitReached) as limit:
        checkout(BOB_CARD, f"L{rules.LOAN_LIMIT:09d}")
    assert str(rules.LOAN_LIMIT) in in_words(limit.value)
    assert len(loans(lib.bob)) == rules.LOAN_LIMIT
    checkout(ALICE_CARD, f"L{rules.LOAN_LIMIT:09d}")  # the limit is per patron


# ---------------------------------------------------------------------------------------
# Renewal
# ---------------------------------------------------------------------------------------


def test_renew_from_today_then_refused_at_the_limit(lib: Library) -> None:
    loan = checkout(ALICE_CARD, "T000000001")
    later = NOW + 10 * DAY
    renewed = renew(lib.alice, loan.loan_id, later)
    assert renewed.due_on == TODAY + 24 * DAY  # 14 days from the day of renewal
    assert renewed.renewals == 1
    assert (renewed.renewable, renewed.refusal) == (
        False,
        circulation.renewal_refusal(circulation.RENEWAL_LIMIT_REACHED),
    )
    assert counts(TODAY + 10 * DAY, TODAY + 10 * DAY) == {("sogo", "book", "renew"): 1}
    assert counts() == {("sogo", "book", "checkout"): 1}  # counted on their own days

    with pytest.raises(RenewalRefused) as refused:
        renew(lib.alice, loan.loan_id, later + DAY)
    assert refused.value.reason == circulation.RENEWAL_LIMIT_REACHED
    assert in_words(refused.value) == (
        f"延長は{rules.RENEWAL_LIMIT}回までです。 / "
        f"The renewal limit ({rules.RENEWAL_LIMIT}) has been reached."
    )
    (still,) = loans(lib.alice, later + DAY)
    assert (still.due_on, still.renewals) == (TODAY + 24 * DAY, 1)


def test_renewal_is_refused_when_overdue(lib: Library) -> None:
    loan = checkout(ALICE_CARD, "T000000003")  # due in 7 days
    with pytest.raises(RenewalRefused) as refused:
        renew(lib.alice, loan.loan_id, NOW + 8 * DAY)
    assert "返却期限を過ぎている" in in_words(refused.value)
    assert refused.value.reason == circulation.OVERDUE
    (still,) = loans(lib.alice)
    assert (still.due_on, still.renewals) == (TODAY + 7 * DAY, 0)
    assert ("sogo", "av", "renew") not in counts(TODAY, TODAY + 30 * DAY)


def test_another_patron_s_loan_is_not_found(lib: Library) -> None:
    loan = checkout(ALICE_CARD, "T000000001")
    with pytest.raises(NotFound):
        renew(lib.bob, loan.loan_id)
    with pytest.raises(NotFound):
        renew(lib.alice, loan.loan_id + 1000)
    (still,) = loans(lib.alice)
    assert still.renewals == 0


def test_renew_all_reports_each_loan(lib: Library) -> None:
    # Issue 12: lent before the overdue one (a patron with overdue items is refused), and
    # renewed the day after the loan (on the loan day a renewal would not move the date).
    limited = checkout(ALICE_CARD, "T000000001")
    fine = checkout(ALICE_CARD, "T000000002")
    late = checkout(ALICE_CARD, "T000000003", NOW - 10 * DAY)  # av: due 3 days ago
    renew(lib.alice, limited.loan_id, NOW + DAY)
    checkout(BOB_CARD, PRIVATE_BARCODE)  # someone else's loan is not touched

    with engine.write() as conn:
        report = circulation.renew_all(conn, lib.alice, NOW + DAY)
    assert report.renewed == (fine.title,)
    assert dict(report.refused) == {
        late.title: circulation.renewal_refusal(circulation.OVERDUE),
        limited.title: circulation.renewal_refusal(circulation.RENEWAL_LIMIT_REACHED),
    }
    by_id = {loan.id: loan for loan in loans(lib.alice, NOW + DAY)}
    assert (by_id[fine.loan_id].renewals, by_id[fine.loan_id].due_on) == (1, TODAY + 15 * DAY)
    assert by_id[late.loan_id].renewals == 0
    (bobs,) = loans(lib.bob)
    assert bobs.renewals == 0


def test_renewal_is_refused_while_someone_is_waiting(lib: Library) -> None:
    loan = checkout(ALICE_CARD, "T000000001")
    other = checkout(ALICE_CARD, "T000000002")
    # Bob reserves the title Alice has (db.queries.holds; the check only needs a waiting hold).
    # Its other copy is off the shelf: on the shelf, it would serve him (a pull list).
    with engine.write() as conn:
        conn.execute(
            text("UPDATE item SET status = :s WHERE barcode = :b"),
            {"s": rules.IN_PROCESS, "b": PRIVATE_BARCODE},
        )
    queries.place_hold(lib.bob, lib.works["neko"], "sogo")
    by_id = {view.id: view for view in loans(lib.alice, NOW + DAY)}
    assert by_id[loan.loan_id].refusal == circulation.renewal_refusal(circulation.HOLDS_WAITING)
    assert by_id[other.loan_id].renewable
    with pytest.raises(RenewalRefused) as refused:
        renew(lib.alice, loan.loan_id)
    assert "予約" in in_words(refused.value)
    # Issue 12: a day after the loan, when renewing moves the due date.
    assert renew(lib.alice, other.loan_id, NOW + DAY).renewals == 1


# ---------------------------------------------------------------------------------------
# Return and privacy
# ---------------------------------------------------------------------------------------


def linking_tables(
    conn: Connection, patron: tuple[int, str], item: tuple[int, str, str]
) -> list[str]:
    """Tables with a row that holds a value of the patron and a value of the item together.

    Every column of every table is read; integers must equal an id, text must contain a
    card number, barcode or title.
    """

    def holds(values: list[object], marks: tuple[int | str, ...]) -> bool:
        for value in values:
            for mark in marks:
                if isinstance(mark, int) and isinstance(value, int) and not isinstance(value, bool):
                    if value == mark:
                        return True
                elif isinstance(mark, str) and isinstance(value, str) and mark in value:
                    return True
        return False

    virtual = set()  # SQLite FTS5 tables cannot be scanned; their shadow tables are
    if conn.dialect.name == "sqlite":
        virtual = set(
            conn.execute(
                text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
            ).scalars()
        )
    found = []
    for table in sorted(set(inspect(conn).get_table_names()) - virtual):
        for row in conn.execute(text(f'SELECT * FROM "{table}"')):
            values = list(row)
            if holds(values, patron) and holds(values, item):
                found.append(table)
    return found


def test_return_deletes_the_loan_and_leaves_only_anonymous_counts(
    lib: Library, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="db")
    patron = (ALICE_ID, ALICE_CARD)
    item = (ITEM_ID, PRIVATE_BARCODE, "吾輩は猫である")

    receipt = checkout(ALICE_CARD, PRIVATE_BARCODE)
    with engine.read() as conn:
        assert linking_tables(conn, patron, item) == ["loan"]  # the scan does see a loan

    with engine.write() as conn:
        returned = circulation.return_item(conn, PRIVATE_BARCODE, NOW + 3 * DAY)
    assert (returned.title, returned.was_overdue) == (receipt.title, False)
    assert loans(lib.alice) == ()
    assert item_status(PRIVATE_BARCODE) == rules.AVAILABLE
    with engine.read() as conn:
        assert linking_tables(conn, patron, item) == []
        assert conn.execute(text("SELECT count(*) FROM loan")).scalar_one() == 0
    assert counts(TODAY, TODAY + 3 * DAY) == {
        ("sogo", "book", "checkout"): 1,
        ("sogo", "book", "return"): 1,
    }

    messages = [record.getMessage() for record in caplog.records]
    assert any("checkout" in m for m in messages) and any("return" in m for m in messages)
    for message in messages:
        for secret in (ALICE_CARD, PRIVATE_BARCODE, str(ALICE_ID), str(ITEM_ID), item[2]):
            assert secret not in message, message

    # It can be lent again, and returning it twice is refused.
    with engine.write() as conn, pytest.raises(circulation.NotOnLoan):
        circulation.return_item(conn, PRIVATE_BARCODE, NOW + 3 * DAY)
    with engine.write() as conn, pytest.raises(circulation.UnknownBarcode):
        circulation.return_item(conn, "NO-SUCH-BARCODE", NOW)
    checkout(BOB_CARD, PRIVATE_BARCODE, NOW + 4 * DAY)


def test_a_late_return_says_so(lib: Library) -> None:
    checkout(ALICE_CARD, "T000000003")  # av, due in 7 days
    with engine.write() as conn:
        returned = circulation.return_item(conn, " T000000003 ", NOW + 8 * DAY)
    assert returned.was_overdue


# ---------------------------------------------------------------------------------------
# Demo loans
# ---------------------------------------------------------------------------------------


def test_demo_loans_give_the_documented_counts(fresh_db: Database) -> None:
    with engine.write() as conn:
        records = [
            WorkRecord(source="synth", source_id=f"demo{n}", title=f"デモの本 {n}")
            for n in range(8)
        ]
        work_ids = upsert_works(conn, records, ImportReport(), NOW)
        for n, work_id in enumerate(work_ids):
            add_item(conn, work_id, f"R{n:09d}", material="reference")
            add_item(conn, work_id, f"B{n:09d}a")
            add_item(conn, work_id, f"B{n:09d}b")
        ensure_demo_patrons(conn, NOW)
    with engine.write() as conn:
        made = circulation.give_demo_loans(conn, NOW)
    assert made == sum(demo.loans for demo in DEMO_PATRONS) > 0

    lent: list[LoanView] = []
    with engine.read() as conn:
        for demo in DEMO_PATRONS:
            patron_id = conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"),
                {"c": demo.patron.card_number},
            ).scalar_one()
            theirs = circulation.list_loans(conn, patron_id, NOW)
            assert len(theirs) == demo.loans, demo.patron.name
            assert sum(loan.overdue for loan in theirs) == demo.overdue, demo.patron.name
            assert all(loan.due_on < TODAY for loan in theirs if loan.overdue)
            lent.extend(theirs)
    assert all(loan.barcode.startswith("B") for loan in lent)  # never reference copies
    assert len({loan.work_id for loan in lent}) == len(lent)  # different books

    with engine.write() as conn:
        assert circulation.give_demo_loans(conn, NOW + DAY) == 0  # nothing twice


@pytest.mark.parametrize("status", [rules.ON_LOAN, rules.IN_TRANSIT, rules.ON_HOLD_SHELF])
def test_an_item_marked_out_without_a_record_is_checked_in(lib: Library, status: str) -> None:
    with engine.write() as conn:
        add_item(conn, lib.works["neko"], "STRAY0001", status=status)
    with engine.write() as conn:
        receipt = circulation.return_item(conn, "STRAY0001", NOW)
    assert not receipt.was_overdue
    assert item_status("STRAY0001") == rules.AVAILABLE
    with engine.write() as conn, pytest.raises(circulation.NotOnLoan):
        circulation.return_item(conn, "STRAY0001", NOW)


def _counter_session() -> str:
    """A staff session at the counter (its scan list lives in the session row)."""
    queries.create_first_manager(
        queries.StaffInput("C001", "窓口 試験", "", "sogo", "manager", (), None)
    )
    with engine.write() as conn:
        staff_id = conn.execute(
            text("SELECT id FROM staff_account WHERE staff_code = 'C001'")
        ).scalar_one()
        login = staff.create_session(conn, staff_id, NOW, Timeouts.of(15, 10), True)
    return login.token


def test_the_counter_keeps_no_card_and_forgets_a_returned_loan(lib: Library) -> None:
    patron = (ALICE_ID, ALICE_CARD)
    item = (ITEM_ID, PRIVATE_BARCODE, "吾輩は猫である")
    queries.set_clock(lambda: NOW)
    try:
        token = _counter_session()
        lent = queries.counter_scan(token, "checkout", ALICE_CARD, PRIVATE_BARCODE)
        assert lent.last is not None and lent.last.ok
        with engine.read() as conn:
            assert linking_tables(conn, patron, item) == ["loan"]
            sessions = " ".join(
                conn.execute(text("SELECT counter_state FROM staff_session")).scalars()
            )
        assert ALICE_CARD not in sessions  # not even while the loan lasts
        back = queries.counter_scan(token, "return", "", PRIVATE_BARCODE)
        assert back.last is not None and back.last.ok and back.last.kind == "return"
        assert [s.kind for s in back.scans] == ["return"]  # the checkout line went with it
        with engine.read() as conn:
            assert linking_tables(conn, patron, item) == []
            stored = conn.execute(text("SELECT counter_state FROM staff_session")).scalar_one()
        assert ALICE_CARD not in stored

        # A scan list left alone is empty after the idle time, in the database too.
        queries.counter_scan(token, "checkout", BOB_CARD, PRIVATE_BARCODE)
        idle = timedelta(minutes=queries.staff_policy_data().settings["counter_idle_minutes"])
        assert idle <= timedelta(minutes=5)  # "a short idle time"
        queries.set_clock(lambda: NOW + idle - timedelta(seconds=1))
        assert [s.kind for s in queries.get_counter_state(token).scans] == ["checkout", "return"]
        queries.set_clock(lambda: NOW + idle)
        assert queries.get_counter_state(token).scans == ()
        with engine.read() as conn:
            stored = conn.execute(text("SELECT counter_state FROM staff_session")).scalar_one()
        assert "吾輩は猫である" not in stored and PRIVATE_BARCODE not in stored
        # A scan after the idle time starts a new list.
        queries.counter_scan(token, "checkout", BOB_CARD, "NO-SUCH-ITEM")
        assert [s.barcode for s in queries.get_counter_state(token).scans] == ["NO-SUCH-ITEM"]
    finally:
        queries.set_clock(None)
