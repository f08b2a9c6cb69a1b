"""A patron on a 390 px phone: My Library's first page leads with the book waiting and the
overdue loan, fits the screen and passes axe; so does the record page with its due dates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from db import queries
from tests.browser.conftest import start_server, stop_server
from tests.browser.test_catalog_browser import AXE
from tests.conftest import Database
from tests.test_web_holds import HANAKO, patron_id, taros_loan

pytestmark = pytest.mark.browser


@pytest.fixture
def patron_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def _axe(page: Page) -> list[str]:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    return found


def test_phone_my_library_says_a_book_is_waiting(
    library_db: Database, phone: Page, patron_server: str
) -> None:
    work_id, barcode, branch = taros_loan()
    hanako = patron_id(HANAKO[0])
    queries.place_hold(hanako, work_id, branch)
    queries.return_item(barcode)  # Taro returns it: ready for Hanako at that branch
    [ready] = queries.list_holds(hanako)
    assert ready.state == "ready" and ready.ready_until is not None
    overdue = next(v for v in queries.list_loans(hanako) if v.overdue)

    phone.goto(patron_server + "/login")
    phone.get_by_label("利用者カード番号").fill(HANAKO[0])
    phone.get_by_label("パスワード", exact=True).fill(HANAKO[1])
    phone.get_by_role("button", name="ログイン").click()
    phone.wait_for_url("**/my")
    headings = phone.get_by_role("heading", level=3)
    expect(headings.first).to_have_text("受け取りできます")
    waiting = phone.get_by_role("list", name="受け取りできます")
    expect(waiting.get_by_role("listitem")).to_have_count(1)
    expect(waiting).to_contain_text(ready.title)
    expect(waiting).to_contain_text(ready.pickup.get("ja"))
    expect(waiting).to_contain_text(f"{ready.ready_until.month}月{ready.ready_until.day}日")
    late = phone.get_by_role("list", name="延滞")
    expect(late).to_contain_text(overdue.title)
    # What needs action comes before the counts and the card details.
    order = phone.evaluate(
        "['actions-heading', 'counts-heading', 'account-heading']"
        ".map(id => document.getElementById(id).getBoundingClientRect().top)"
    )
    assert order == sorted(order)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(phone) == []

    # The waiting book's record page: its copies' due dates and the reservations, on a phone.
    phone.get_by_role("link", name=overdue.title).first.click()
    phone.wait_for_url("**/my/loans**")
    phone.goto(f"{patron_server}/records/{overdue.work_id}")
    due = overdue.due_on
    # On a phone each copy is a card whose cells are labelled (the table head is hidden).
    cell = phone.locator('td[data-label="返却予定日"]', has_text=f"{due.month}月{due.day}日")
    expect(cell).to_be_visible()
    expect(phone.get_by_text("この資料に予約はありません。")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(phone) == []
    phone.goto(f"{patron_server}/records/{work_id}")
    expect(phone.get_by_text("この資料の予約は 1件です。")).to_be_visible()
    assert phone.csp_errors == []  # type: ignore[attr-defined]
