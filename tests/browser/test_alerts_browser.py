"""/new and /my/alerts in a real browser: htmx swaps the results and the condition list,
errors sit next to their field, and both pages pass axe (WCAG 2.2 AA, serious/critical)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from tests.arrivals_data import FIRST_AUTHOR, FIRST_TITLE, marc_with_copies
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_my_summary_browser import _axe
from tests.conftest import Database
from tests.test_web_holds import HANAKO

pytestmark = pytest.mark.browser


@pytest.fixture
def server(library_db: Database, tmp_path: Path) -> Iterator[str]:
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today, branch="minami"))
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1200, "height": 900})
    yield watch_csp(context.new_page())
    context.close()


def test_new_arrivals_filters_swap_and_pass_axe(page: Page, server: str) -> None:
    page.goto(server + "/")
    page.get_by_role("link", name="新着資料").first.click()
    page.wait_for_url("**/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("新着資料")
    results = page.locator("#results")
    expect(results).to_contain_text(FIRST_TITLE)
    assert _axe(page) == []
    with page.expect_response(lambda r: "/new?" in r.url):
        page.get_by_label("館", exact=True).select_option("tsujido")
    expect(results).not_to_contain_text(FIRST_TITLE)
    expect(page).to_have_url(f"{server}/new?days=14&branch=tsujido&type=&ndc=")
    feed = page.locator('link[rel="alternate"][type="application/atom+xml"]')
    expect(feed).to_have_attribute("href", "/new.atom?branch=tsujido")  # follows the filter
    with page.expect_response(lambda r: "/new?" in r.url):
        page.get_by_label("館", exact=True).select_option("minami")
    expect(results).to_contain_text(FIRST_TITLE)
    expect(feed).to_have_attribute("href", "/new.atom?branch=minami")
    expect(feed).to_have_count(1)
    assert _axe(page) == []
    assert page.csp_errors == []  # type: ignore[attr-defined]


def test_my_alerts_add_refuse_delete_and_pass_axe(page: Page, server: str) -> None:
    page.goto(server + "/login?next=%2Fmy%2Falerts")
    page.get_by_label("利用者カード番号").fill(HANAKO[0])
    page.get_by_label("パスワード", exact=True).fill(HANAKO[1])
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/my/alerts")
    expect(page.get_by_role("heading", level=1)).to_have_text("新着図書お知らせメール")
    assert _axe(page) == []

    page.get_by_label("著者").fill(FIRST_AUTHOR)
    page.get_by_role("button", name=re.compile(r"^追加\s*:\s*著者$")).click()
    saved = page.locator(".alert-conditions")
    expect(saved).to_contain_text(FIRST_AUTHOR)

    page.get_by_role("button", name=re.compile(r"^追加\s*:\s*分類（NDC）$")).click()
    error = page.locator("#ndc-error")
    expect(error).to_contain_text("NDC分類番号")
    expect(page.get_by_label("分類（NDC）")).to_have_attribute("aria-invalid", "true")
    assert _axe(page) == []

    page.get_by_role("button", name=re.compile(rf"^削除\s*:\s*著者 {FIRST_AUTHOR}$")).click()
    expect(page.locator(".alert-conditions")).to_have_count(0)
    expect(page.locator("#alerts-region")).to_contain_text("お知らせの条件はまだありません")
    assert page.csp_errors == []  # type: ignore[attr-defined]
