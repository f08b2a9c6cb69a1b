"""Issue 12, "Loans": renewal from the day of renewal and never for nothing, loan rules per
patron category × material type, and the counter's refusals (or warnings) for a patron with
overdue items or at a limit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from db import circulation, engine, loan_rules, queries, rules
from db.staff import StaffActor, StaffFormRefused
from tests.conftest import Database, in_words
from tests.test_queries_circulation import (
    ALICE_CARD,
    BOB_CARD,
    DAY,
    NOW,
    TODAY,
    Library,
    add_item,
    checkout,
    counts,
    loans,
    renew,
)
from tests.test_queries_circulation import lib as circulation_lib

lib = circulation_lib
MANAGER = StaffActor(1, "MGR01", "館長", "manager", (), 1)


def set_rule(category: str, material: str, **values: object) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with engine.write() as conn:
        conn.execute(
            text(f"UPDATE loan_rule SET {sets} WHERE category = :c AND material_type = :m"),
            {**values, "c": category, "m": material},
        )


def set_category(card: str, category: str) -> None:
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET category = :c WHERE card_number = :card"),
            {"c": category, "card": card},
        )


def add_copies(lib: Library, prefix: str, n: int, material: str = "book") -> list[str]:
    with engine.write() as conn:
        for k in range(n):
            add_item(conn, lib.works["kokoro"], f"{prefix}{k:05d}", material)
    return [f"{prefix}{k:05d}" for k in range(n)]


# --- renewal ---------------------------------------------------------------------------------


def test_renewal_on_the_loan_day_is_refused_and_uses_nothing(lib: Library) -> None:
    loan = checkout(ALICE_CARD, "T000000001")  # due TODAY + 14
    with pytest.raises(circulation.RenewalRefused) as refused:
        renew(lib.alice, loan.loan_id)
    assert refused.value.reason == circulation.TOO_SOON
    words = in_words(refused.value)
    assert "2026年12月4日" in words and "14日" in words
    (still,) = loans(lib.alice)
    assert (still.due_on, still.renewals, still.renewable) == (TODAY + 14 * DAY, 0, False)
    assert ("sogo", "book", "renew") not in counts(TODAY, TODAY)
    # renew_all says the same and changes nothing.
    with engine.write() as conn:
        report = circulation.renew_all(conn, lib.alice, NOW)
    assert report.renewed == ()
    assert [r.code for _, r in report.refused] == [circulation.TOO_SOON]
    assert loans(lib.alice)[0].renewals == 0
    # The next day it moves the date by a day: renewal day + the loan period.
    renewed = renew(lib.alice, loan.loan_id, NOW + DAY)
    assert (renewed.due_on, renewed.renewals) == (TODAY + 15 * DAY, 1)


def test_renewal_never_gives_an_earlier_due_date(lib: Library) -> None:
    loan = checkout(ALICE_CARD, "T000000001")  # book: due TODAY + 14
    set_rule("general", "book", loan_days=7)  # the library shortened the period since
    with pytest.raises(circulation.RenewalRefused) as refused:
        renew(lib.alice, loan.loan_id, NOW + 5 * DAY)  # would be TODAY + 12
    assert refused.value.reason == circulation.TOO_SOON
    assert loans(lib.alice)[0].due_on == TODAY + 14 * DAY
    renewed = renew(lib.alice, loan.loan_id, NOW + 10 * DAY)
    assert renewed.due_on == TODAY + 17 * DAY


# --- rules per category × material type ------------------------------------------------------


def test_fresh_databases_have_a_rule_for_every_pair_with_today_s_behaviour(
    fresh_db: Database,
) -> None:
    listed = queries.list_loan_rules()
    assert len(listed) == len(rules.CATEGORIES) * len(rules.MATERIAL_TYPES)
    assert [r.category for r in listed[:: len(rules.MATERIAL_TYPES)]] == list(rules.CATEGORIES)
    by_key = {(r.category, r.material_type): r for r in listed}
    for mt in rules.MATERIAL_TYPES:
        rule = by_key[("general", mt.code)]
        assert (rule.loan_days, rule.max_items, rule.max_renewals, rule.enforce) == (
            mt.loan_days,
            rules.LOAN_LIMIT,
            rules.RENEWAL_LIMIT,
            loan_rules.BLOCK,
        )
    queries.ensure_reference_data()  # idempotent, keeps what managers set
    assert len(queries.list_loan_rules()) == len(listed)


def test_checkout_and_renewal_follow_the_rule_of_category_and_type(lib: Library) -> None:
    set_category(BOB_CARD, "elementary")
    set_rule("elementary", "book", loan_days=21, max_renewals=2)
    set_rule("general", "av", loan_days=0)  # general patrons may not borrow AV
    assert checkout(ALICE_CARD, "T000000001").due_on == TODAY + 14 * DAY  # general book
    bobs = checkout(BOB_CARD, "T000000002")
    assert bobs.due_on == TODAY + 21 * DAY
    with pytest.raises(circulation.NotForLoan):
        checkout(ALICE_CARD, "T000000003")
    assert checkout(BOB_CARD, "T000000003").due_on == TODAY + 7 * DAY  # elementary AV
    # Two renewals for elementary books, from the day of renewal.
    assert renew(lib.bob, bobs.loan_id, NOW + 10 * DAY).due_on == TODAY + 31 * DAY
    assert renew(lib.bob, bobs.loan_id, NOW + 20 * DAY).due_on == TODAY + 41 * DAY
    with pytest.raises(circulation.RenewalRefused) as refused:
        renew(lib.bob, bobs.loan_id, NOW + 30 * DAY)
    assert "延長は2回まで" in in_words(refused.value)


def test_items_of_a_type_stop_at_the_rule_s_limit(lib: Library) -> None:
    set_rule("general", "av", max_items=1)
    avs = add_copies(lib, "AV", 2, "av")
    checkout(ALICE_CARD, avs[0])
    with pytest.raises(circulation.MaterialLimitReached) as refused:
        checkout(ALICE_CARD, avs[1])
    assert not refused.value.confirmable
    assert "視聴覚資料" in in_words(refused.value) and "1点" in in_words(refused.value)
    checkout(ALICE_CARD, "T000000001")  # books are another type
    checkout(BOB_CARD, avs[1])  # the limit is per patron


# --- overdue items and limits at the counter ---------------------------------------------------


def test_a_patron_with_overdue_items_is_refused_saying_how_many(lib: Library) -> None:
    checkout(ALICE_CARD, "T000000003", NOW - 10 * DAY)  # av, due 3 days ago
    checkout(ALICE_CARD, "T000000002", NOW - 20 * DAY)  # book, due 6 days ago
    with pytest.raises(circulation.HasOverdue) as refused:
        checkout(ALICE_CARD, "T000000001")
    assert refused.value.params == {"count": 2} and not refused.value.confirmable
    assert "延滞中の資料が2点" in in_words(refused.value)
    # Confirming does not lend when the rule refuses.
    with pytest.raises(circulation.HasOverdue), engine.write() as conn:
        circulation.checkout(conn, ALICE_CARD, "T000000001", NOW, confirm=True)
    assert len(loans(lib.alice)) == 2
    checkout(BOB_CARD, "T000000001")  # Bob has nothing overdue


def test_a_warn_rule_lends_once_staff_confirm(lib: Library) -> None:
    set_rule("general", "book", enforce="warn")
    checkout(ALICE_CARD, "T000000003", NOW - 10 * DAY)  # overdue av
    with pytest.raises(circulation.HasOverdue) as warned:
        checkout(ALICE_CARD, "T000000001")
    assert warned.value.confirmable
    with engine.write() as conn:
        receipt = circulation.checkout(conn, ALICE_CARD, "T000000001", NOW, confirm=True)
    assert receipt.due_on == TODAY + 14 * DAY
    # The av rule still refuses, confirmed or not.
    avs = add_copies(lib, "AV", 1, "av")
    with pytest.raises(circulation.HasOverdue), engine.write() as conn:
        circulation.checkout(conn, ALICE_CARD, avs[0], NOW, confirm=True)


def test_the_total_limit_holds_across_types(lib: Library) -> None:
    books = add_copies(lib, "BK", rules.LOAN_LIMIT)
    for barcode in books:
        checkout(BOB_CARD, barcode)
    with pytest.raises(circulation.LoanLimitReached) as refused:
        checkout(BOB_CARD, "T000000003")
    assert str(rules.LOAN_LIMIT) in in_words(refused.value)


# --- the managers' screen at the query layer -------------------------------------------------


def _input(view: queries.LoanRuleView, **changes: object) -> queries.LoanRuleInput:
    values: dict[str, object] = {
        "loan_days": view.loan_days,
        "max_items": view.max_items,
        "max_renewals": view.max_renewals,
        "enforce": view.enforce,
        **changes,
    }
    return queries.LoanRuleInput(view.category, view.material_type, **values)  # type: ignore[arg-type]


def _audit() -> list[tuple[str, str, str, object]]:
    with engine.read() as conn:
        return [
            (r.screen, r.action, r.field_groups, r.patron_id)
            for r in conn.execute(
                text("SELECT screen, action, field_groups, patron_id FROM staff_audit ORDER BY id")
            )
        ]


def test_saving_rules_checks_every_field_and_audits_each_change(fresh_db: Database) -> None:
    listed = queries.list_loan_rules()
    first, second = listed[0], listed[1]
    bad = (
        _input(first, loan_days=400),
        _input(second, max_items=None, enforce="maybe"),
    )
    with pytest.raises(StaffFormRefused) as refused:
        queries.save_loan_rules(MANAGER, bad)
    assert set(refused.value.errors) == {
        queries.loan_rule_field(first.category, first.material_type, "loan_days"),
        queries.loan_rule_field(second.category, second.material_type, "max_items"),
        queries.loan_rule_field(second.category, second.material_type, "enforce"),
    }
    assert queries.list_loan_rules() == listed and _audit() == []  # nothing saved

    changes = (
        *(_input(v) for v in listed[2:]),
        _input(first, loan_days=21, max_renewals=2),
        _input(second, enforce="warn"),
    )
    assert queries.save_loan_rules(MANAGER, changes) == 2
    after = {(r.category, r.material_type): r for r in queries.list_loan_rules()}
    assert after[(first.category, first.material_type)].loan_days == 21
    assert after[(second.category, second.material_type)].enforce == "warn"
    screen = "loan_rules:{0.category}/{0.material_type}".format
    assert _audit() == [
        (screen(first), "rule_edit", "loan_days,max_renewals", None),
        (screen(second), "rule_edit", "enforce", None),
    ]


def test_migration_seeds_the_rules_of_an_existing_database(tmp_path: object) -> None:
    """0020 on a database that already has material types gives each pair today's rule."""
    from pathlib import Path

    from db import migrate
    from tests.conftest import _drop_pg_database, new_database

    url, pg_name = new_database(Path(str(tmp_path)))
    try:
        queries.configure(url)
        migrate.upgrade("0019_series_holds")
        with engine.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO material_type (code, names, loan_days, reservable) "
                    "VALUES ('kami', '{}', 10, true)"
                )
            )
        migrate.upgrade()
        with engine.read() as conn:
            seeded = conn.execute(
                text(
                    "SELECT category, loan_days, max_items, max_renewals, enforce "
                    "FROM loan_rule WHERE material_type = 'kami' ORDER BY category"
                )
            ).all()
        assert [tuple(r) for r in seeded] == [
            (c, 10, rules.LOAN_LIMIT, rules.RENEWAL_LIMIT, "block")
            for c in sorted(rules.CATEGORIES)
        ]
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


def test_due_dates_come_from_one_function(lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """The calendar shifts due dates by wrapping `due_date_for`: checkout and renewal both
    go through it."""
    seen: list[tuple[int, date, int]] = []
    plain = circulation.due_date_for

    def spy(conn: object, branch_id: int, start: date, loan_days: int) -> date:
        seen.append((branch_id, start, loan_days))
        return plain(conn, branch_id, start, loan_days)  # type: ignore[arg-type]

    monkeypatch.setattr(circulation, "due_date_for", spy)
    loan = checkout(ALICE_CARD, "T000000001")
    renew(lib.alice, loan.loan_id, NOW + 3 * DAY)
    assert seen[0][1:] == (TODAY, 14)
    assert (TODAY + 3 * DAY, 14) in [(start, days) for _, start, days in seen]


def test_a_confirmed_warning_never_lends_beyond_the_library_s_total_limit(lib: Library) -> None:
    """Staff may confirm what a "warn" rule warns about, not the library's LOAN_LIMIT."""
    set_rule("general", "book", enforce="warn", max_items=rules.LOAN_LIMIT + 5)
    barcodes = add_copies(lib, "Z", rules.LOAN_LIMIT + 1)
    for barcode in barcodes[:-1]:
        checkout(ALICE_CARD, barcode)
    with engine.write() as conn, pytest.raises(circulation.LoanLimitReached) as refused:
        circulation.checkout(conn, ALICE_CARD, barcodes[-1], NOW, confirm=True)
    assert not refused.value.confirmable


def test_a_type_s_limit_cannot_exceed_the_library_s_total(fresh_db: Database) -> None:
    """A per-type limit above LOAN_LIMIT could never be reached: refused, saying the range."""
    first = queries.list_loan_rules()[0]
    with pytest.raises(StaffFormRefused) as refused:
        queries.save_loan_rules(MANAGER, (_input(first, max_items=rules.LOAN_LIMIT + 5),))
    (refusal,) = refused.value.errors.values()
    assert f"0から{rules.LOAN_LIMIT}まで" in in_words(refusal)
