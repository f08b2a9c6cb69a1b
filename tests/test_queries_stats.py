"""The library's statistics at the db level (issue 16): every event bumps its own anonymous
cell, searches are counted in memory and flushed as deltas that add up across processes,
small cells are suppressed (totals too), and a zero-hit query counts only on a day five
distinct visitors typed it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from db import engine, queries, stats
from db.patrons import NewPatron, register_patron
from tests.conftest import BACKEND, Database
from tests.test_queries_my_data import tables_holding

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
TODAY = date(2026, 11, 20)
SECRET_KEY = "the-servers-secret-key"  # settings.secret_key
HANAKO, HANAKO_PASSWORD = "2100000001", "hon-wo-yomu-2026"  # general, home branch sogo


@pytest.fixture
def at_noon(library_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A fresh process's tally: no counts from another test's database.
    monkeypatch.setattr(stats, "_tallies", {})
    queries.set_clock(lambda: NOW)
    yield
    queries.set_clock(None)


def one(sql: str, **params: object) -> int:
    with engine.read() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)


def daily(event: str, branch: str = "sogo", material_type: str | None = None) -> int:
    return one(
        "SELECT sum(c.count) FROM daily_count c JOIN branch b ON b.id = c.branch_id "
        "WHERE c.day = :d AND c.event = :e AND b.code = :b"
        + (" AND c.material_type = :m" if material_type is not None else ""),
        d=TODAY,
        e=event,
        b=branch,
        m=material_type,
    )


def searches(event: str, day: date = TODAY) -> int:
    return one("SELECT count FROM search_count WHERE day = :d AND event = :e", d=day, e=event)


def available_item() -> tuple[str, str, str]:
    """(barcode, material type, branch code) of a copy on the shelf."""
    with engine.read() as conn:
        row = conn.execute(
            text(
                "SELECT i.barcode, i.material_type, b.code FROM item i "
                "JOIN branch b ON b.id = i.branch_id WHERE i.status = 'available' "
                "AND i.material_type IN ('book', 'bunko', 'children') ORDER BY i.id LIMIT 1"
            )
        ).one()
    return str(row.barcode), str(row.material_type), str(row.code)


def patron_id(card: str) -> int:
    return one("SELECT id FROM patron WHERE card_number = :c", c=card)


def newcomer(n: int, category: str, born: date, branch: str = "minami") -> NewPatron:
    return NewPatron(
        card_number=f"29{n:08d}",
        name=f"統計 {n}",
        name_kana="トウケイ",
        birth_date=born,
        address="藤沢市",
        phone="0466-00-0000",
        email=None,
        category=category,
        home_branch=branch,
    )


def test_circulation_events_bump_their_cells(at_noon: None) -> None:
    barcode, mtype, branch = available_item()
    queries.checkout(HANAKO, barcode)
    assert daily("checkout", branch, mtype) == 1
    [loan] = [x for x in queries.list_loans(patron_id(HANAKO)) if x.barcode == barcode]
    queries.set_clock(lambda: NOW + timedelta(days=1))  # a renewal on the loan day moves nothing
    queries.renew_loan(patron_id(HANAKO), loan.id)
    queries.return_item(barcode)
    queries.set_clock(lambda: NOW)
    tomorrow = TODAY + timedelta(days=1)
    assert (
        one(
            "SELECT sum(count) FROM daily_count WHERE day = :d AND event IN ('renew', 'return')",
            d=tomorrow,
        )
        == 2
    )


def test_reservations_placed_and_filled_are_counted(at_noon: None) -> None:
    barcode, _mtype, _branch = available_item()
    work = one("SELECT work_id FROM item WHERE barcode = :b", b=barcode)
    misaki = patron_id("2100000004")
    queries.checkout(HANAKO, barcode)
    queries.place_hold(misaki, work, "sogo")
    assert daily("hold_placed", "sogo", "") == 1
    queries.return_item(barcode)  # to the hold shelf (or in transit) for misaki
    if one("SELECT count(*) FROM item WHERE barcode = :b AND status = 'in_transit'", b=barcode):
        queries.receive_item(barcode)
    queries.checkout("2100000004", barcode)
    assert daily("hold_filled", "sogo", "") == 1


def test_a_web_login_counts_at_the_home_branch(at_noon: None) -> None:
    queries.log_in(HANAKO, HANAKO_PASSWORD, "192.0.2.1", "test", False, queries.Timeouts.of(30, 12))
    with engine.read() as conn:
        home = conn.execute(
            text(
                "SELECT b.code FROM patron p JOIN branch b ON b.id = p.home_branch_id "
                "WHERE p.card_number = :c"
            ),
            {"c": HANAKO},
        ).scalar_one()
    assert daily("web_login", str(home), "") == 1
    with pytest.raises(queries.LoginFailed):
        queries.log_in(
            HANAKO, "wrong-password", "192.0.2.1", "t", False, queries.Timeouts.of(30, 12)
        )
    assert daily("web_login", str(home), "") == 1


def test_a_new_patron_counts_by_category_and_age_band(at_noon: None) -> None:
    with engine.write() as conn:
        register_patron(conn, newcomer(1, "elementary", date(2019, 11, 21)), NOW)  # 6 years old
        register_patron(conn, newcomer(2, "general", date(1956, 11, 20)), NOW)  # 70 today
        register_patron(conn, newcomer(3, "general", date(1956, 11, 21)), NOW)  # 69
    with engine.read() as conn:
        rows = {
            (r.category, r.age_band): r.count
            for r in conn.execute(
                text(
                    "SELECT category, age_band, count FROM registration_count c "
                    "JOIN branch b ON b.id = c.branch_id WHERE day = :d AND b.code = 'minami'"
                ),
                {"d": TODAY},
            )
        }
    assert rows == {("elementary", "0-6"): 1, ("general", "70+"): 1, ("general", "60-69"): 1}
    with engine.read() as conn:
        names = " ".join(
            str(v) for r in conn.execute(text("SELECT * FROM registration_count")) for v in r
        )
    assert "統計" not in names and "2900000001" not in names


def test_every_patron_db_makes_is_counted() -> None:
    """Only db.patrons.register_patron calls the bare insert: every other place that makes a
    patron (counter, application, demo) goes through it and so is counted."""
    root = Path(__file__).parent.parent / "db"
    callers = {
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "create_patron(" in p.read_text(encoding="utf-8")
    }
    assert callers == {"patrons.py"}
    source = (root / "patrons.py").read_text(encoding="utf-8")
    assert source.count("create_patron(") == 2  # its definition and register_patron's call


def test_a_walk_in_registered_at_the_counter_is_counted(at_noon: None) -> None:
    from tests.test_queries_staff_registrations import NEWCOMER, STAFF

    made = queries.register_walk_in(STAFF, NEWCOMER)  # born 1990-04-01: 36 on the day
    with engine.read() as conn:
        home, category = conn.execute(
            text(
                "SELECT b.code, p.category FROM patron p "
                "JOIN branch b ON b.id = p.home_branch_id WHERE p.card_number = :c"
            ),
            {"c": made.slip.card_number},
        ).one()
        counted = conn.execute(
            text(
                "SELECT b.code, c.category, c.age_band, c.count FROM registration_count c "
                "JOIN branch b ON b.id = c.branch_id WHERE c.day = :d"
            ),
            {"d": TODAY},
        ).all()
    assert [tuple(r) for r in counted] == [(home, category, "30-39", 1)]


def test_age_bands() -> None:
    assert stats.age_band(date(2020, 4, 1), date(2026, 3, 31)) == "0-6"
    assert stats.age_band(date(2020, 4, 1), date(2027, 4, 1)) == "7-12"
    assert stats.age_band(date(2008, 1, 1), date(2026, 1, 1)) == "16-18"
    assert stats.age_band(date(2007, 1, 1), date(2026, 1, 1)) == "19-29"


def test_searches_are_counted_in_memory_then_flushed_as_deltas(at_noon: None) -> None:
    for _ in range(7):
        queries.note_search("夏目", False, "session-a", SECRET_KEY)
    queries.note_search("存在しない本", True, "session-a", SECRET_KEY)
    assert searches("search") == 0  # nothing written by a search
    assert queries.flush_search_counts() == 9
    assert (searches("search"), searches("zero_hit")) == (8, 1)
    queries.note_search("夏目", False, "session-b", SECRET_KEY)
    assert queries.flush_search_counts() == 1
    assert queries.flush_search_counts() == 0
    assert searches("search") == 9


def test_a_failed_flush_keeps_its_counts(at_noon: None, monkeypatch: pytest.MonkeyPatch) -> None:
    queries.note_search("夏目", False, "s", SECRET_KEY)
    queries.note_search("ざんねん", True, "s", SECRET_KEY)

    def broken(_conn: object, _counts: object, _hits: object) -> int:
        raise RuntimeError("database down")

    with monkeypatch.context() as patched:
        patched.setattr(stats, "flush_searches", broken)
        assert queries.flush_search_counts() == 0
    assert queries.flush_search_counts() == 3 and searches("search") == 2
    assert one("SELECT count(*) FROM zero_hit_search") == 1


# A second worker process: counts searches in its memory, waits for the go file, flushes.
_WORKER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from db import engine, queries
engine.configure(sys.argv[1])
queries.set_clock(lambda: datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
for _ in range(int(sys.argv[2])):
    queries.note_search("q", False, "s", "key")
while not Path(sys.argv[3]).exists():
    time.sleep(0.005)
assert queries.flush_search_counts() == int(sys.argv[2])
"""


@pytest.mark.skipif(BACKEND != "postgresql", reason="concurrent writers: PostgreSQL")
def test_concurrent_flushes_from_two_processes_add_up(
    at_noon: None, library_db: Database, tmp_path: Path
) -> None:
    with engine.write() as conn:  # the row exists, so the UPSERTs meet on it
        stats.flush_searches(conn, {(TODAY, stats.SEARCH): 1})
    go = tmp_path / "go"
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, library_db.url, str(n), str(go)])
        for n in (300, 500)
    ]
    queries.note_search("q", False, "s", SECRET_KEY)
    time.sleep(1.0)  # both have counted and are waiting
    go.touch()
    queries.flush_search_counts()
    for w in workers:
        assert w.wait(60) == 0
    assert searches("search") == 1 + 300 + 500 + 1


def test_concurrent_flushes_on_two_connections_add_up(at_noon: None) -> None:
    """Two transactions adding to the same row: the second waits for the first's lock
    (PostgreSQL) or the write lock (SQLite) and adds its own delta, never overwrites."""
    import threading

    go = threading.Barrier(2)

    def flush(n: int) -> None:
        go.wait()
        with engine.write() as conn:
            stats.flush_searches(conn, {(TODAY, stats.SEARCH): n})

    threads = [threading.Thread(target=flush, args=(n,)) for n in (40, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert searches("search") == 42


# --- zero-hit queries ---------------------------------------------------------------


def zero_hit_sessions(n: int, query: str = "ざんねんな本") -> None:
    for i in range(n):
        queries.note_search(query, True, f"session-{i}", SECRET_KEY)
        queries.note_search(query, True, f"session-{i}", SECRET_KEY)  # the same session again: once


def test_four_sessions_hide_a_zero_hit_query_five_show_it(at_noon: None) -> None:
    zero_hit_sessions(4)
    queries.flush_search_counts()
    report = queries.get_stats(TODAY, TODAY, "day", "")
    assert report.zero_hits == ()
    queries.note_search("ザンネンな本", True, "session-4", SECRET_KEY)  # katakana: the same query
    queries.flush_search_counts()
    report = queries.get_stats(TODAY, TODAY, "day", "")
    assert report.zero_hits == (queries.ZeroHitRow("ざんねんな本", 5),)


def test_zero_hit_rows_keep_no_session_id(at_noon: None) -> None:
    queries.note_search("ざんねん", True, "secret-session-token", SECRET_KEY)
    assert one("SELECT count(*) FROM zero_hit_search") == 0  # nothing written by a search
    queries.flush_search_counts()
    with engine.read() as conn:
        dumped = repr(conn.execute(text("SELECT * FROM zero_hit_search")).all())
    assert "secret-session-token" not in dumped and "ざんねん" in dumped


def test_retention_aggregates_past_days_and_drops_the_raw_rows(at_noon: None) -> None:
    zero_hit_sessions(5)
    queries.set_clock(lambda: NOW + timedelta(days=1))
    zero_hit_sessions(2)  # the next day: too few visitors that day, so it adds nothing
    queries.flush_search_counts()
    queries.set_clock(lambda: NOW + timedelta(days=2))
    report = queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    assert report.zero_hit_searches == 7
    assert one("SELECT count(*) FROM zero_hit_search") == 0
    assert one("SELECT sum(sessions) FROM zero_hit_query") == 7
    shown = queries.get_stats(TODAY, TODAY + timedelta(days=1), "day", "").zero_hits
    assert shown == (queries.ZeroHitRow("ざんねんな本", 5),)
    assert (
        queries.get_stats(TODAY + timedelta(days=1), TODAY + timedelta(days=1), "day", "").zero_hits
        == ()
    )


def test_one_visitor_typing_a_query_on_five_days_does_not_show_it(at_noon: None) -> None:
    for n in range(5):
        queries.set_clock(lambda n=n: NOW + timedelta(days=n))  # type: ignore[misc]
        queries.note_search("ひとりだけのことば", True, "192.0.2.7", SECRET_KEY)
        queries.flush_search_counts()
        if n == 2:  # some days aggregated, some still raw
            queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)
    period = queries.get_stats(TODAY, TODAY + timedelta(days=4), "day", "")
    assert period.zero_hits == ()


def test_the_day_salt_is_stored_nowhere(at_noon: None) -> None:
    zero_hit_sessions(5)
    queries.flush_search_counts()
    salt = stats.day_salt(SECRET_KEY, TODAY)
    with engine.read() as conn:
        assert not [t for t in inspect(conn).get_table_names() if "zero_hit" in t and "salt" in t]
    assert tables_holding((salt.hex(), salt.hex().upper()), -1) == []
    hashes = {r[2] for r in [*zero_hit_rows()]}
    assert hashes == {stats.visitor_hash(salt, f"session-{i}") for i in range(5)}
    other_key = stats.day_salt("another-servers-key", TODAY)
    assert stats.visitor_hash(other_key, "session-0") not in hashes


def zero_hit_rows() -> list[tuple[object, ...]]:
    with engine.read() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM zero_hit_search")).all()]


# --- the report ---------------------------------------------------------------------


def test_small_cells_are_suppressed(at_noon: None) -> None:
    with engine.write() as conn:
        for n in range(4):
            register_patron(conn, newcomer(10 + n, "general", date(1990, 1, 1)), NOW)
        stats.flush_searches(conn, {(TODAY, stats.SEARCH): 5, (TODAY, stats.ZERO_HIT): 4})
    report = queries.get_stats(TODAY, TODAY, "day", "")
    series = {s.measure: s for s in report.series}
    assert series["search"].values == (5,) and series["zero_hit"].values == (None,)
    assert series["registration"].total == queries.AtLeast(0)  # 4 newcomers: none shown
    minami = next(r for r in report.by_branch if r.branch_code == "minami")
    assert minami.values[queries.BRANCH_MEASURES.index("registration")] is None
    queries.set_clock(lambda: NOW + timedelta(days=11))  # December: November has ended
    november = (date(2026, 11, 1), date(2026, 11, 30), "month", "")
    general = next(r for r in queries.get_stats(*november).registrations if r.category == "general")
    assert general.values[[b for b, _, _ in queries.AGE_BANDS].index("30-39")] is None
    with engine.write() as conn:
        register_patron(conn, newcomer(20, "general", date(1990, 1, 1)), NOW)
    general = next(r for r in queries.get_stats(*november).registrations if r.category == "general")
    assert general.values[[b for b, _, _ in queries.AGE_BANDS].index("30-39")] == 5


def test_a_total_does_not_give_a_suppressed_cell_away(at_noon: None) -> None:
    days = [TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY]
    with engine.write() as conn:
        stats.flush_searches(
            conn, {(d, stats.SEARCH): n for d, n in zip(days, (6, 3, 7), strict=True)}
        )
        stats.flush_searches(
            conn, {(d, stats.ZERO_HIT): n for d, n in zip(days, (6, 0, 7), strict=True)}
        )
    series = {s.measure: s for s in queries.get_stats(days[0], TODAY, "day", "").series}
    assert series["search"].values == (6, None, 7)
    assert series["search"].total == queries.AtLeast(13)  # not 16: 16 - 13 would be the 3
    assert series["zero_hit"].values == (6, 0, 7) and series["zero_hit"].total == 13


def test_registrations_by_age_only_for_whole_months_that_have_ended(at_noon: None) -> None:
    with engine.write() as conn:
        for n in range(5):
            register_patron(conn, newcomer(30 + n, "general", date(1990, 1, 1)), NOW)
    assert queries.get_stats(TODAY, TODAY, "day", "").registrations == ()
    assert queries.get_stats(date(2026, 11, 1), TODAY, "day", "").registrations == ()
    whole = (date(2026, 11, 1), date(2026, 11, 30), "day", "")
    assert queries.get_stats(*whole).registrations == ()  # November has not ended yet
    queries.set_clock(lambda: NOW + timedelta(days=11))
    assert queries.get_stats(*whole).registrations != ()
    assert queries.get_stats(date(2026, 11, 2), date(2026, 11, 30), "day", "").registrations == ()
    assert queries.get_stats(date(2026, 10, 1), date(2026, 11, 29), "day", "").registrations == ()
    assert queries.get_stats(date(2026, 1, 1), date(2026, 11, 30), "year", "").registrations


def test_months_and_years_and_one_branch(at_noon: None) -> None:
    with engine.write() as conn:
        stats.flush_searches(
            conn, {(date(2026, 10, 31), stats.SEARCH): 6, (TODAY, stats.SEARCH): 7}
        )
    by_month = queries.get_stats(date(2026, 10, 1), TODAY, "month", "")
    assert by_month.buckets == ("2026-10", "2026-11")
    assert {s.measure: s for s in by_month.series}["search"].values == (6, 7)
    by_year = queries.get_stats(date(2025, 1, 1), TODAY, "year", "minami")
    assert by_year.buckets == ("2025", "2026")
    assert [r.branch_code for r in by_year.by_branch] == ["minami"]
    with pytest.raises(queries.NotFound):
        queries.get_stats(TODAY, TODAY, "day", "nowhere")


def test_the_report_names_no_patron(at_noon: None) -> None:
    queries.log_in(HANAKO, HANAKO_PASSWORD, "192.0.2.1", "test", False, queries.Timeouts.of(30, 12))
    report = repr(queries.get_stats(date(2020, 1, 1), TODAY, "year", ""))
    with engine.read() as conn:
        people = conn.execute(text("SELECT card_number, name, phone FROM patron")).all()
    for person in people:
        for value in person:
            assert str(value) not in report
