"""New arrivals at the db level: copies' acquisition dates from MARC holdings and the demo
load, and which works are new (db.arrivals, db.queries.new_arrivals)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from db import catalog_write, engine, queries
from db.arrivals import ArrivalFilter
from db.catalog_write import CopyRecord, ImportReport, WorkRecord
from tests.arrivals_data import FIRST_TITLE, marc_with_copies
from tests.conftest import Database

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
TODAY = date(2026, 12, 1)


@pytest.fixture
def clock() -> Iterator[None]:
    queries.set_clock(lambda: NOW)
    try:
        yield
    finally:
        queries.set_clock(None)


def add(source_id: str, ndc: tuple[str, ...] = ("913",), *copies: CopyRecord) -> int:
    with engine.write() as conn:
        [work_id] = catalog_write.upsert_works(
            conn,
            [WorkRecord("synth", source_id, f"作品{source_id}", ndc=ndc, copies=copies)],
            ImportReport(),
            NOW,
        )
    return work_id


def copy(barcode: str, days_ago: int | None, branch: str = "sogo") -> CopyRecord:
    acquired = None if days_ago is None else TODAY - timedelta(days=days_ago)
    return CopyRecord(barcode, branch, acquired_on=acquired)


def new_ids(**filters: object) -> list[int]:
    result = queries.list_new_arrivals(queries.NewArrivalsQuery(**filters))  # type: ignore[arg-type]
    return [w.id for w in result.works]


def test_importing_marc_with_copies_makes_its_works_new(
    fresh_db: Database, clock: None, tmp_path: Path
) -> None:
    path = marc_with_copies(tmp_path, TODAY - timedelta(days=2))
    report = queries.import_catalog_file(path)
    assert (report.added, report.copies_added, report.problems) == (2, 2, [])
    result = queries.list_new_arrivals(queries.NewArrivalsQuery(days=7))
    assert result.total == 2
    assert FIRST_TITLE in [w.title for w in result.works]
    assert {w.arrived_on for w in result.works} == {TODAY - timedelta(days=2)}
    assert result.since == TODAY - timedelta(days=6)
    # Importing the same file again adds no copy and changes no date.
    again = queries.import_catalog_file(path)
    assert (again.unchanged, again.copies_added) == (2, 0)
    assert queries.list_new_arrivals(queries.NewArrivalsQuery(days=7)).total == 2


def test_copies_without_a_date_arrive_on_the_day_of_the_import(
    fresh_db: Database, clock: None, tmp_path: Path
) -> None:
    queries.import_catalog_file(marc_with_copies(tmp_path, None, count=1))
    [work] = queries.list_new_arrivals(queries.NewArrivalsQuery(days=7)).works
    assert work.arrived_on == TODAY and work.copies == 1 and work.available == 1


def test_copies_for_an_unknown_branch_are_counted_not_added(
    fresh_db: Database, clock: None, tmp_path: Path
) -> None:
    report = queries.import_catalog_file(marc_with_copies(tmp_path, TODAY, branch="nowhere"))
    assert (report.added, report.copies_added, report.copies_unknown_branch) == (2, 0, 2)


def test_a_work_is_new_only_while_its_first_copy_is(fresh_db: Database, clock: None) -> None:
    new = add("a", ("913",), copy("A1", 3))
    older = add("b", ("913",), copy("B1", 3), copy("B2", 40))
    undated = add("c", ("913",), copy("C1", 3), copy("C2", 3))
    with engine.write() as conn:  # held since before dates were recorded (migration 0026)
        conn.execute(text("UPDATE item SET acquired_on = NULL WHERE barcode = 'C2'"))
    ten_days = add("d", ("913",), copy("D1", 9))
    assert new_ids(days=7) == [new]
    assert new_ids(days=14) == [new, ten_days]
    assert older not in new_ids(days=30) and undated not in new_ids(days=30)


def test_filters(fresh_db: Database, clock: None) -> None:
    at_minami = add("m", ("210",), copy("M1", 1, "minami"))
    children = add("k", ("K913",), copy("K1", 2))
    novel = add("n", ("913.6",), copy("N1", 3))
    assert new_ids(branch="minami") == [at_minami]
    assert new_ids(branch="no-such-branch") == []
    assert new_ids(ndc_class="9") == [novel]  # K913 is class K (children's), not 9
    assert new_ids(ndc_class="2") == [at_minami]
    assert new_ids(children=True) == [children]
    assert new_ids(material_type="children") == [children]
    assert new_ids(material_type="book") == [at_minami, novel]


def test_pages_newest_first(fresh_db: Database, clock: None) -> None:
    ids = [add(f"p{n}", ("913",), copy(f"P{n}", n % 5)) for n in range(25)]
    first = queries.list_new_arrivals(queries.NewArrivalsQuery(days=7))
    second = queries.list_new_arrivals(queries.NewArrivalsQuery(days=7, page=2))
    assert (first.total, first.page_count, len(first.works), len(second.works)) == (25, 2, 20, 5)
    shown = [w.id for w in first.works + second.works]
    assert sorted(shown) == sorted(ids)
    arrived = [w.arrived_on for w in first.works + second.works]
    assert arrived == sorted(arrived, reverse=True)
    assert second.start == 21


def test_the_recent_copies_are_found_by_index(fresh_db: Database) -> None:
    from db.arrivals import _where

    sql, params = _where(TODAY, ArrivalFilter())
    with engine.read() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("SQLite's plan")
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                text(f"EXPLAIN QUERY PLAN SELECT i.work_id FROM item i WHERE {sql}"), params
            )
        )
    assert "ix_item_acquired_work" in plan and "ix_item_work_acquired" in plan


def test_the_demo_catalogue_has_new_arrivals(catalog_db: Database) -> None:
    month = queries.list_new_arrivals(queries.NewArrivalsQuery(days=30))
    week = queries.list_new_arrivals(queries.NewArrivalsQuery(days=7))
    assert month.total > week.total > 0
    with engine.read() as conn:
        undated = conn.execute(text("SELECT count(*) FROM item WHERE acquired_on IS NULL"))
        assert undated.scalar_one() == 0


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("913", "913"),
        ("９１３．６", "913.6"),
        (" k913 ", "K913"),
        ("K", "K"),
        ("4", "4"),
        ("九一三", None),
        ("9131", None),
        ("913.", None),
        ("", None),
    ],
)
def test_ndc_conditions_keep_the_catalogues_form(typed: str, stored: str | None) -> None:
    assert queries.check_alert_condition("ndc", typed, [], []) == stored


def test_an_ndc_condition_matches_by_prefix(fresh_db: Database, clock: None) -> None:
    from db.queries import alerts

    work = add("x", ("913.6",), copy("X1", 1))
    [candidate] = alerts._candidates(TODAY - timedelta(days=13))
    assert candidate.id == work
    for prefix, wanted in (("9", True), ("913", True), ("913.6", True), ("914", False)):
        assert alerts._matches("ndc", prefix, candidate) is wanted
