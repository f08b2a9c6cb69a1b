"""The counter's return scan checks in any copy found in the building (a copy on a pull
list, a missing one), saying what happened; and "Lend anyway" over a warning is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import engine, queries, rules
from db.patrons import DEMO_PATRONS
from tests import test_web_staff
from tests.conftest import Database
from tests.test_web_loan_rules import _make_hanako_overdue
from tests.test_web_pull_list import MISAKI, item_status, shelf_copy
from tests.test_web_staff import (
    COUNTER_BRANCH,
    HANAKO,
    Console,
    audit_rows,
    available_barcodes,
    patron_id,
    personal_values,
)
from web import cli

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team


def return_scan(staff: Console, barcode: str) -> str:
    """The counter's return scan (htmx) → the swapped counter region."""
    back = staff.htmx_post("/staff/counter/return", "/staff/counter?mode=return", barcode=barcode)
    assert back.status_code == 200  # type: ignore[attr-defined]
    return str(back.text)  # type: ignore[attr-defined]


def test_a_return_scan_of_a_copy_on_the_pull_list_makes_it_ready(
    team: dict[str, Console],
) -> None:
    # Before: "貸出中ではありません" (not on loan), and the copy stayed on the list.
    staff = team["staff"]
    work_id, barcode, title = shelf_copy(COUNTER_BRANCH, only_here=True)
    misaki = patron_id(MISAKI.card_number)
    queries.place_hold(misaki, work_id, COUNTER_BRANCH)
    staff.bodies.clear()
    body = return_scan(staff, barcode)
    assert f"返却処理しました：{title}（予約の抜き取りリストに載っていた資料です）" in body
    assert "予約棚へ置いてください（南市民図書館）" in body and "発見：抜き取りリストの資料" in body
    [hold] = queries.list_holds(misaki)
    assert hold.state == "ready" and item_status(barcode) == rules.ON_HOLD_SHELF
    leaked = [v for v in personal_values() for b in staff.bodies if v in b]
    assert not leaked, leaked


def test_a_return_scan_of_a_missing_copy_puts_it_back_in_circulation(
    team: dict[str, Console],
) -> None:
    staff = team["staff"]
    _, barcode, title = shelf_copy(COUNTER_BRANCH, only_here=True)
    with engine.write() as conn:
        conn.execute(text("UPDATE item SET status = 'missing' WHERE barcode = :b"), {"b": barcode})
    body = return_scan(staff, barcode)
    assert f"返却処理しました：{title}（所在不明だった資料を利用可能に戻しました）" in body
    assert "書架へ戻してください" in body
    assert item_status(barcode) == rules.AVAILABLE
    # Now it can be lent again.
    lent = staff.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=DEMO_PATRONS[2].patron.card_number,
        barcode=barcode,
    )
    assert lent.status_code == 200, lent.text  # type: ignore[attr-defined]


def test_lending_despite_a_warning_is_in_the_audit_log(team: dict[str, Console]) -> None:
    _make_hanako_overdue()
    with engine.write() as conn:
        conn.execute(text("UPDATE loan_rule SET enforce = 'warn' WHERE category = 'general'"))
    staff, manager = team["staff"], team["manager"]
    hanako = patron_id(HANAKO.card_number)
    one, two = available_barcodes(2)
    before = len(audit_rows())
    warned = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=one
    )
    assert warned.status_code == 422  # type: ignore[attr-defined]
    assert audit_rows()[before:] == []  # a warning alone decides nothing
    lent = staff.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=HANAKO.card_number,
        barcode=one,
        confirm="1",
    )
    assert lent.status_code == 200  # type: ignore[attr-defined]
    assert audit_rows()[before:] == [("STA01", hanako, "loans", "checkout_override", "allowed")]
    # A confirmed checkout nothing warned about is no override.
    with engine.write() as conn:
        conn.execute(
            text("UPDATE loan SET due_on = '2099-01-01' WHERE patron_id = :p"), {"p": hanako}
        )
    plain = staff.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=HANAKO.card_number,
        barcode=two,
        confirm="1",
    )
    assert plain.status_code == 200  # type: ignore[attr-defined]
    assert len(audit_rows()) == before + 1
    audit = manager.get("/staff/audit").text  # type: ignore[attr-defined]
    assert "カウンター: 警告を確認のうえ貸出" in audit and "checkout_override" not in audit


def test_the_command_line_checks_in_a_missing_copy(
    library_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", library_db.url)
    (barcode,) = available_barcodes(1)
    with engine.write() as conn:
        conn.execute(text("UPDATE item SET status = 'missing' WHERE barcode = :b"), {"b": barcode})
    assert cli.main(["circ", "return", barcode]) == 0
    assert "it was missing: back in circulation" in capsys.readouterr().out
    assert item_status(barcode) == rules.AVAILABLE


def test_a_copy_of_another_branch_returned_here_is_sent_home(team: dict[str, Console]) -> None:
    # Before: `available` at its own branch (在架 there) while it stood here, and no word.
    staff = team["staff"]  # at COUNTER_BRANCH (minami)
    _, barcode, title = shelf_copy("sogo", only_here=True)
    queries.checkout(MISAKI.card_number, barcode)
    body = return_scan(staff, barcode)
    assert f"返却しました：{title}" in body
    assert "予約はありません。所蔵館（総合市民図書館）へ回送してください" in body
    assert item_status(barcode) == rules.IN_TRANSIT
