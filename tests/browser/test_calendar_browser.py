"""The public library calendar on a phone: readable without colour, axe-clean, fits 390 px,
and month to month without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from tests.browser import test_staff_browser
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_staff_browser import enrol_manager
from tests.conftest import _drop_pg_database, copy_database

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
staff_server = test_staff_browser.staff_server  # the small library served, no staff yet


@pytest.fixture(scope="module")
def calendar_server(_library_template: str, db_dir: Path) -> Iterator[str]:
    """The small library with the demo calendar, served."""
    url, pg_name = copy_database(_library_template, db_dir)
    queries.configure(url)
    queries.ensure_demo_calendar()
    queries.dispose()
    proc, base = start_server(url)
    yield base
    stop_server(proc)
    if pg_name:
        _drop_pg_database(pg_name)


def axe_violations(page: Page) -> list[str]:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ':' + v.impact)"
    )
    return found


@pytest.mark.parametrize("query", ["?month=2026-12", "?month=2026-12&branch=sogo"])
def test_calendar_on_a_phone_is_axe_clean_and_fits(
    phone: Page, calendar_server: str, query: str
) -> None:
    phone.goto(calendar_server + "/calendar" + query)
    expect(phone.get_by_role("heading", level=1)).to_contain_text("2026年12月")
    table = phone.get_by_role("table", name="総合市民図書館: 2026年12月")
    expect(table).to_be_visible()
    # Closed days are said in words, not only by the row's tint.
    expect(table.get_by_role("row", name="12月28日(月) 休館（年末年始）")).to_be_visible()
    expect(table.get_by_role("row", name="12月7日(月) 休館（定期休館日）")).to_be_visible()
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_months_and_branches_without_javascript(browser: Browser, calendar_server: str) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="en-GB"
    )
    page = watch_csp(context.new_page())
    page.goto(calendar_server + "/calendar?month=2026-12")
    page.get_by_label("Branch").select_option("tsujido")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("December 2026")
    assert page.get_by_role("table", name="Tsujido Civic Library: December 2026").is_visible()
    page.get_by_role("link", name="Next month (January 2027)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("January 2027")
    expect(page.get_by_role("row", name="Thu 7 Jan Closed (regular closing day)")).to_be_visible()
    assert page.get_by_role("table", name="Central Civic Library: January 2027").count() == 0
    context.close()


def test_manager_keeps_the_calendar_on_a_phone(phone: Page, staff_server: str) -> None:
    enrol_manager(phone, staff_server)
    phone.get_by_role("link", name="開館日カレンダー").first.click()
    expect(phone.get_by_role("heading", name="開館日カレンダー", level=1)).to_be_visible()
    assert axe_violations(phone) == []
    phone.get_by_label("館", exact=True).select_option("tsujido")
    phone.get_by_label("理由").select_option("stocktaking")
    phone.get_by_label("休館の初日").fill("令和９年２月１５日")
    phone.get_by_label("休館の最終日").fill("2027-02-14")
    phone.get_by_role("button", name="休館期間を追加").click()
    end = phone.get_by_label("休館の最終日")
    expect(end).to_have_attribute("aria-invalid", "true")
    expect(end).to_have_accessible_description(re.compile("終了日が開始日より前です"))
    expect(phone.get_by_label("休館の初日")).to_have_value("令和９年２月１５日")
    assert axe_violations(phone) == []
    end.fill("R9.2.21")
    phone.get_by_role("button", name="休館期間を追加").click()
    expect(phone.get_by_role("alert")).to_contain_text("保存しました")
    expect(phone.get_by_role("cell", name="休館（特別整理期間）")).to_be_visible()
    assert phone.csp_errors == []  # type: ignore[attr-defined]
