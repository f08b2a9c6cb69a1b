"""/staff/stats in a real browser (issue 16): a manager sees this month's loans as a chart,
axe finds no serious violations (WCAG 2.2 AA), the inline SVG charts break no rule of the
CSP, a wrong date is said next to its field, and the CSV downloads with its BOM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from db import engine, queries
from tests.browser.conftest import start_server, stop_server
from tests.browser.test_staff_mail_browser import AXE, enrolled_manager
from tests.conftest import Database

pytestmark = pytest.mark.browser


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def lend_five() -> None:
    with engine.read() as conn:
        barcodes = list(
            conn.execute(
                text(
                    "SELECT barcode FROM item WHERE status = 'available' AND material_type "
                    "IN ('book', 'bunko', 'children') ORDER BY id LIMIT 5"
                )
            ).scalars()
        )
    for barcode in barcodes:
        queries.checkout("2100000002", barcode, confirm=True)


def axe_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    return found


def test_a_manager_sees_this_months_loans_as_a_chart_and_downloads_the_csv(
    phone: Page, staff_server: str
) -> None:
    lend_five()
    enrolled_manager(phone, staff_server)
    phone.get_by_role("link", name="業務統計").first.click()
    expect(phone.get_by_role("heading", name="業務統計", exact=True)).to_be_visible()
    chart = phone.get_by_role("img", name="折れ線グラフ：期間中の貸出・返却・延長・予約の件数。")
    expect(chart.first).to_be_visible()
    # Measured once the page's chart stylesheet (/staff/stats/charts.css) is in force: a
    # layout forced before it arrived (a loaded machine) had the figure's default margins.
    expect(phone.locator("figure.stats-chart").first).to_have_css(
        "margin-left", "0px", timeout=30_000
    )
    box = chart.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100  # styled, scaled
    table = phone.get_by_role("table", name="貸出・登録")
    expect(table).to_be_visible()
    expect(table.get_by_role("row").last).to_contain_text("合計")
    assert axe_violations(phone) == []
    with phone.expect_download() as download:
        phone.locator("a[href*='table=circulation']").click()
    body = download.value.path().read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and "合計".encode() in body
    # A wrong date: said next to the field, the rest kept; still accessible.
    phone.get_by_label("開始日").fill("きのう")
    phone.get_by_role("button", name="表示").click()
    expect(phone.locator("#from-error")).to_be_visible()
    expect(phone.get_by_label("開始日")).to_have_attribute("aria-invalid", "true")
    assert axe_violations(phone) == []
    assert phone.csp_errors == []  # type: ignore[attr-defined]
