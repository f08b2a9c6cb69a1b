"""Issue 12, "Loans", over HTTP: the managers' loan-rules screen, the counter's refusal (or
warning to confirm) for a patron with overdue items, and a renewal that would not move the
due date refused on My Library."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from db.clock import aware_utc
from tests import test_web_staff
from tests.conftest import Database
from tests.test_web_account import HANAKO as HANAKO_LOGIN
from tests.test_web_account import HTMX, csrf_of, log_in
from tests.test_web_staff import HANAKO, Console, available_barcodes, patron_id
from web import cli

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

FIELD = "general.book.loan_days"


def rule(category: str, material: str) -> queries.LoanRuleView:
    return next(
        r
        for r in queries.list_loan_rules()
        if (r.category, r.material_type) == (category, material)
    )


def form_values(page: str, category: str = "general") -> dict[str, str]:
    """The fields of one category's form with their values (inputs and selected options)."""
    form = page.split(f'name="category" value="{category}"', 1)[1].split("</form>", 1)[0]
    values = dict(re.findall(r'name="([a-z_]+\.[a-z_-]+\.[a-z_]+)" value="([^"]*)"', form))
    selects = re.findall(r'<select id="f-[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S)
    for name, select in selects:
        chosen = re.search(r'<option value="(\w+)" selected', select)
        assert chosen, name
        values[name] = chosen.group(1)
    return values


def test_managers_keep_the_loan_rules_and_each_change_is_audited(
    team: dict[str, Console],
) -> None:
    manager = team["manager"]
    assert "/staff/rules" in manager.get("/staff/").text  # type: ignore[attr-defined]
    assert "/staff/rules" not in team["staff"].get("/staff/").text  # type: ignore[attr-defined]
    assert team["staff"].get("/staff/rules").status_code == 403  # type: ignore[attr-defined]
    page = manager.get("/staff/rules")
    assert page.status_code == 200  # type: ignore[attr-defined]
    assert "貸出条件" in page.text and "一般" in page.text and "視聴覚資料" in page.text  # type: ignore[attr-defined]
    assert page.text.count("館内閲覧のみ: 条件にかかわらず貸出しません") == 6  # type: ignore[attr-defined]
    values = form_values(page.text)  # type: ignore[attr-defined]
    assert values[FIELD] == "14" and values["general.book.enforce"] == "block"

    # Full-width digits, as an IME types them, are read as digits.
    assert len(values) == 20  # five material types, four fields each
    saved = manager.post(
        "/staff/rules", "/staff/rules", category="general", **{**values, FIELD: "２１"}
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    assert rule("general", "book").loan_days == 21
    assert "貸出条件を保存しました" in manager.get("/staff/rules").text  # type: ignore[attr-defined]
    with engine.read() as conn:
        audited = conn.execute(
            text(
                "SELECT staff_code, screen, action, field_groups FROM staff_audit "
                "WHERE action = 'rule_edit'"
            )
        ).all()
    assert [tuple(r) for r in audited] == [
        ("M001", "loan_rules:general/book", "rule_edit", "loan_days")
    ]


def test_bad_rule_values_are_refused_next_to_the_field(team: dict[str, Console]) -> None:
    manager = team["manager"]
    values = form_values(manager.get("/staff/rules").text)  # type: ignore[attr-defined]
    refused = manager.post(
        "/staff/rules",
        "/staff/rules",
        category="general",
        **{**values, FIELD: "十四", "general.av.max_items": "999", "general.av.enforce": "x"},
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    body = refused.text  # type: ignore[attr-defined]
    assert "保存していません" in body
    assert f'id="f-{FIELD}" name="{FIELD}" value="十四"' in body  # what was typed stays
    assert f'aria-describedby="{FIELD}-error"' in body
    error = re.search(rf'<p class="field-error" id="{re.escape(FIELD)}-error">([^<]+)</p>', body)
    assert error and "0から365までの整数" in error.group(1)
    assert 'id="general.av.max_items-error"' in body and 'id="general.av.enforce-error"' in body
    assert rule("general", "book").loan_days == 14  # nothing saved


def _make_hanako_overdue() -> None:
    with engine.write() as conn:
        conn.execute(
            text(
                "UPDATE loan SET due_on = :d WHERE id = (SELECT min(id) FROM loan "
                "WHERE patron_id = :p)"
            ),
            {"d": date(2026, 11, 1), "p": patron_id(HANAKO.card_number)},
        )


def test_the_counter_refuses_a_patron_with_overdue_items(team: dict[str, Console]) -> None:
    _make_hanako_overdue()
    staff = team["staff"]
    (barcode,) = available_barcodes(1)
    refused = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=barcode
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "延滞中の資料が1点あります" in refused.text  # type: ignore[attr-defined]
    assert 'name="confirm"' not in refused.text  # type: ignore[attr-defined]
    forced = staff.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=HANAKO.card_number,
        barcode=barcode,
        confirm="1",
    )
    assert forced.status_code == 422  # type: ignore[attr-defined]
    english = staff.speaking("en").get("/staff/counter").text  # type: ignore[attr-defined]
    assert "card: 1. They must be returned first." in english  # ' is escaped in HTML


def test_a_warn_rule_lets_staff_lend_after_confirming(team: dict[str, Console]) -> None:
    _make_hanako_overdue()
    with engine.write() as conn:
        conn.execute(text("UPDATE loan_rule SET enforce = 'warn' WHERE category = 'general'"))
    staff = team["staff"]
    (barcode,) = available_barcodes(1)
    warned = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=barcode
    )
    assert warned.status_code == 422  # type: ignore[attr-defined]
    body = warned.text  # type: ignore[attr-defined]
    assert "貸出前に確認してください" in body and "延滞中の資料が1点あります" in body
    assert "貸出できません" not in body and "処理できません" not in body
    assert 'name="confirm" value="1"' in body and f'name="barcode" value="{barcode}"' in body
    assert "確認のうえ貸出" in body
    lent = staff.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=HANAKO.card_number,
        barcode=barcode,
        confirm="1",
    )
    assert lent.status_code == 200 and "貸出しました" in lent.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        status = conn.execute(
            text("SELECT status FROM item WHERE barcode = :b"), {"b": barcode}
        ).scalar_one()
    assert status == "on_loan"


@pytest.fixture
def on_the_loan_day(library_db: Database) -> Iterator[None]:
    """The clock on the day the demo loans were lent: the session's template database may
    be built before midnight in Japan and a test run after it."""
    with engine.read() as conn:
        lent = conn.execute(text("SELECT max(checked_out_at) FROM loan")).scalar_one()
    moment = aware_utc(lent if isinstance(lent, datetime) else datetime.fromisoformat(lent))
    queries.set_clock(lambda: moment + timedelta(minutes=1))
    try:
        yield
    finally:
        queries.set_clock(None)


def test_renewing_on_the_loan_day_is_refused_with_the_reason(
    web: TestClient, on_the_loan_day: None
) -> None:
    """The demo loans were lent today: renewing would not move their due dates."""
    log_in(web, *HANAKO_LOGIN)
    page = web.get("/my/loans").text
    assert re.findall(r'action="/my/loans/\d+/renew"', page) == []
    assert "今日延長しても返却期限" in page
    loan_id = re.findall(r'id="loan-(\d+)"', page)[-1]
    refused = web.post(
        f"/my/loans/{loan_id}/renew", headers={**HTMX, "X-CSRF-Token": csrf_of(page)}
    )
    assert refused.status_code == 422 and "今日延長しても返却期限" in refused.text
    with engine.read() as conn:
        renewals = conn.execute(
            text("SELECT renewals FROM loan WHERE id = :id"), {"id": int(loan_id)}
        ).scalar_one()
    assert renewals == 0


def test_the_command_line_lends_after_a_warning_only_with_confirm(
    library_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", library_db.url)
    monkeypatch.setenv("SHIORI_PASSWORD_HASHING", "test")  # the demo's 山田 花子: 1 overdue
    one, two = available_barcodes(2)
    assert cli.main(["circ", "checkout", HANAKO.card_number, one, "--confirm"]) == 2
    assert "延滞中の資料が1点" in capsys.readouterr().err  # "block": confirming is not enough
    with engine.write() as conn:
        conn.execute(text("UPDATE loan_rule SET enforce = 'warn'"))
    assert cli.main(["circ", "checkout", HANAKO.card_number, two]) == 2
    assert cli.main(["circ", "checkout", HANAKO.card_number, two, "--confirm"]) == 0
    assert "貸出" in capsys.readouterr().out


def test_a_counter_renewal_that_would_not_move_the_date_is_refused(
    team: dict[str, Console],
) -> None:
    """The list keeps the refusal with its date (stored as a code and parameters)."""
    with engine.read() as conn:
        barcode, due_on, renewals = conn.execute(
            text(
                "SELECT i.barcode, l.due_on, l.renewals FROM loan l JOIN item i "
                "ON i.id = l.item_id ORDER BY l.due_on DESC LIMIT 1"
            )
        ).one()
    staff = team["staff"]
    refused = staff.htmx_post("/staff/counter/renew", "/staff/counter?mode=renew", barcode=barcode)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "今日延長しても返却期限" in refused.text  # type: ignore[attr-defined]
    english = staff.speaking("en").get("/staff/counter?mode=renew").text  # type: ignore[attr-defined]
    assert "Renewing today would not move the due date" in english
    assert str(due_on)[:4] in english.split("would not move the due date", 1)[1][:40]
    with engine.read() as conn:
        after = conn.execute(
            text(
                "SELECT l.due_on, l.renewals FROM loan l JOIN item i ON i.id = l.item_id "
                "WHERE i.barcode = :b"
            ),
            {"b": barcode},
        ).one()
    assert tuple(after) == (due_on, renewals)
