"""Issue 19's code tables at the query level: the database is the source (SHIORI_BRANCHES
and the demo's rules only seed an empty one), categories, the card rule and shelf locations
are data that the rest of db follows, and the home page is one cached answer."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from db import card_numbers, codes, engine, queries, stats
from db.applications import ApplicationFields, check_field
from db.patrons import NewPatron, create_patron, register_patron
from db.queries import home
from db.queries.staff_patrons import validate_edit
from db.staff import StaffActor
from tests.conftest import Database

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
MANAGER = StaffActor(1, "M001", "管理 一郎", "manager", (), 1)


def _newcomer(card: str, category: str) -> NewPatron:
    return NewPatron(
        card, "試験 太郎", "シケン タロウ", date(1990, 1, 1), "藤沢市", "0466-00-0000", None,
        category, "sogo",
    )  # fmt: skip


def test_branches_from_the_settings_only_seed_an_empty_database(fresh_db: Database) -> None:
    queries.save_branch(
        MANAGER, "minami", queries.BranchInput({"ja": "南図書館", "en": "Minami"}, "", "")
    )
    other = (queries.BranchSpec("kita", queries.Localized.of({"ja": "北図書館"})),)
    queries.ensure_reference_data(other)  # a restart with another SHIORI_BRANCHES
    found = {b.code: b.names.get("ja") for b in queries.list_code_branches()}
    assert found["minami"] == "南図書館" and "kita" not in found
    # Material types and categories a manager changed are kept over a restart too.
    queries.save_material_type(
        MANAGER, "av", queries.MaterialTypeInput({"ja": "AV資料"}, 10, False)
    )
    queries.ensure_reference_data()
    av = next(m for m in queries.list_material_type_codes() if m.code == "av")
    assert (av.names.get("ja"), av.loan_days, av.reservable) == ("AV資料", 10, False)


def test_categories_are_the_tables(fresh_db: Database) -> None:
    assert queries.list_category_codes() == (
        "general", "university", "high_school", "junior_high", "elementary", "other",
    )  # fmt: skip
    fields = ApplicationFields("", "", None, "", "", "", "", "senior", "sogo")
    assert check_field("category", fields, date(2026, 11, 21), queries.list_category_codes())
    queries.add_patron_category(MANAGER, "senior", {"ja": "シニア", "en": "Senior"})
    assert "senior" in queries.list_category_codes()  # the per-process cache was cleared
    assert not check_field("category", fields, date(2026, 11, 21), queries.list_category_codes())
    with engine.write() as conn:
        create_patron(conn, _newcomer("2100000997", "senior"), NOW)
    with pytest.raises(queries.CodeInUse) as refused:
        queries.delete_patron_category(MANAGER, "senior")
    assert [(u.kind, u.count) for u in refused.value.uses] == [("patrons", 1)]
    with engine.write() as conn, pytest.raises(queries.QueryError, match="unknown_category"):
        create_patron(conn, _newcomer("2100000998", "pensioner"), NOW)


def test_a_deleted_seeded_category_is_refused_everywhere(fresh_db: Database) -> None:
    queries.delete_patron_category(MANAGER, "other")
    with engine.write() as conn, pytest.raises(queries.QueryError, match="unknown_category"):
        create_patron(conn, _newcomer("2100000997", "other"), NOW)
    edit = queries.PatronEdit("藤沢市朝日町1-1", "0466-25-1111", "", "other")
    assert "category" in validate_edit(edit, queries.list_category_codes())


def test_a_deleted_category_keeps_its_registrations_in_the_statistics(fresh_db: Database) -> None:
    queries.add_patron_category(MANAGER, "senior", {"ja": "シニア", "en": "Senior"})
    with engine.write() as conn:
        register_patron(conn, _newcomer("2100000997", "senior"), NOW)
        conn.execute(text("DELETE FROM patron WHERE card_number = '2100000997'"))
    queries.delete_patron_category(MANAGER, "senior")
    with engine.read() as conn:
        found = stats.report(conn, date(2026, 10, 1), date(2026, 10, 31), "month", None, "",
                             date(2026, 12, 1))  # fmt: skip
        assert "senior" not in [r.category for r in found.registrations]
        found = stats.report(conn, date(2026, 11, 1), date(2026, 11, 30), "month", None, "",
                             date(2026, 12, 1))  # fmt: skip
    assert [r.category for r in found.registrations][-1] == "senior"


def test_the_card_rule_is_data(fresh_db: Database) -> None:
    with engine.write() as conn:
        assert card_numbers.next_card_number(conn) == "2100000013"
    changed = queries.save_card_rule(MANAGER, queries.CardRuleInput("７", 5, "none"))
    assert changed == 3
    assert queries.get_card_rule().example == "700001"
    with engine.write() as conn:
        number = card_numbers.next_card_number(conn)
        create_patron(conn, _newcomer(number, "general"), NOW)
        assert number == "700001"
        assert card_numbers.next_card_number(conn) == "700002"
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.save_card_rule(MANAGER, queries.CardRuleInput("21", 2, "crc"))
    assert set(refused.value.errors) == {"serial_digits", "check_digit"}
    assert queries.get_card_rule().prefix == "7"


def test_shelf_locations_follow_the_copies(catalog_db: Database) -> None:
    found = {(s.branch_code, s.code) for s in queries.list_shelf_locations()}
    assert ("sogo", "児童書架") in found and ("minami", "文庫コーナー") in found
    children = next(
        s for s in queries.list_shelf_locations() if (s.branch_code, s.code) == ("sogo", "児童書架")
    )
    with pytest.raises(queries.CodeInUse):
        queries.delete_shelf_location(MANAGER, children.id)
    new_id = queries.add_shelf_location(MANAGER, "sogo", "郷土資料室", {"ja": "2階 郷土資料室"})
    queries.delete_shelf_location(MANAGER, new_id)
    with engine.read() as conn:
        assert codes.add_missing_shelf_locations(conn) == 0  # every copy's location has a row


def test_the_home_page_is_one_cached_answer_per_day(
    catalog_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries.configure_search_cache(60)
    reads = []
    real = home._read_home_page
    monkeypatch.setattr(home, "_read_home_page", lambda: reads.append(1) or real())
    first = queries.get_home_page()
    assert queries.get_home_page() is first and len(reads) == 1
    assert [b.code for b in first.branches] == ["sogo", "minami", "tsujido", "shonan-oba"]
    assert len(first.arrivals) <= queries.HOME_ARRIVALS
    # A code-table change shows at once: the answer is read again.
    queries.save_announcement(
        MANAGER, None, queries.AnnouncementInput({"ja": "お知らせ"}, first.today, None)
    )
    again = queries.get_home_page()
    assert len(reads) == 2 and [a.texts.get("ja") for a in again.announcements] == ["お知らせ"]
    queries.configure_search_cache(0)
