"""The pull list in a real browser: axe, a scan swapped in by htmx with the cursor kept in
the barcode field, and the print stylesheets (forms left out; A4 and 80 mm pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import text

from db import engine, queries
from db.clock import now
from db.patrons import DEMO_PATRONS
from db.queries.second_factor import totp_code, totp_step
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.conftest import Database

pytestmark = pytest.mark.browser
PASSWORD = "nukitori-risuto-2026"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
MM = 72 / 25.4  # PDF points per millimetre


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="ja-JP")
    yield watch_csp(context.new_page())
    context.close()


def enrol_manager(page: Page, base: str) -> None:
    token = queries.create_first_manager(
        queries.StaffInput("M001", "管理 一郎", "", "sogo", "manager", (), None)
    )
    page.goto(f"{base}/staff/enrol/{token}")
    page.get_by_label("新しいパスワード", exact=True).fill(PASSWORD)
    page.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
    page.get_by_role("button", name="パスワードを設定").click()
    page.wait_for_url("**/staff/mfa")
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("確認コード").fill(totp_code(secret, totp_step(now())))
    page.get_by_role("button", name="確認").click()
    expect(page.get_by_role("heading", name="回復コード")).to_be_visible()


def reserve_two_on_sogo_shelves() -> list[str]:
    """Two titles with one copy each on sogo's shelf, reserved by Misaki. → barcodes."""
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT i.work_id, i.barcode FROM item i JOIN branch b ON b.id = i.branch_id "
                "WHERE b.code = 'sogo' AND i.status = 'available' AND i.material_type = 'book' "
                "AND NOT EXISTS (SELECT 1 FROM item o WHERE o.work_id = i.work_id "
                "AND o.id <> i.id) ORDER BY i.id LIMIT 2"
            )
        ).all()
        misaki = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"),
            {"c": DEMO_PATRONS[3].patron.card_number},
        ).scalar_one()
    for row in rows:
        assert queries.place_hold(misaki, row.work_id, "sogo").state == "pulling"
    return [row.barcode for row in rows]


def page_sizes(pdf: bytes) -> set[tuple[int, int]]:
    """Every page's MediaBox in whole millimetres."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert boxes, "no page in the PDF"
    return {(round(float(w) / MM), round(float(h) / MM)) for w, h in boxes}


def test_scan_and_print_the_pull_list(desk: Page, staff_server: str) -> None:
    enrol_manager(desk, staff_server)
    first, second = reserve_two_on_sogo_shelves()
    desk.goto(f"{staff_server}/staff/")
    desk.get_by_role("link", name="予約資料の抜き取りリスト").first.click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("総合市民図書館")
    expect(desk.locator(".pull-table tbody tr")).to_have_count(2)
    desk.evaluate(AXE.read_text("utf-8"))
    violations = desk.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == []

    # Scanned: htmx swaps the list, says what to do, and the cursor stays for the next scan.
    barcode = desk.get_by_label("見つけた資料の資料番号")
    barcode.fill(first)
    barcode.press("Enter")
    expect(desk.locator("#pull-status")).to_contain_text("予約棚に置いてください")
    expect(desk.locator(".pull-table tbody tr")).to_have_count(1)
    assert desk.evaluate("document.activeElement.id") == "pull-barcode"
    assert "/staff/pull-list" in desk.url

    # Printed: only the list, on A4 or on an 80 mm receipt.
    desk.emulate_media(media="print")
    expect(desk.locator(".scan-form")).to_be_hidden()
    expect(desk.locator(".site-header")).to_be_hidden()
    expect(desk.get_by_role("cell", name=second)).to_be_visible()
    a4 = desk.pdf(prefer_css_page_size=True)
    assert page_sizes(a4) == {(210, 297)}
    desk.emulate_media(media="screen")
    desk.get_by_label("印刷の用紙").select_option("receipt")
    desk.get_by_role("button", name="表示").click()
    expect(desk.locator(".pull-page.pull-receipt")).to_be_visible()
    desk.emulate_media(media="print")
    receipt = desk.pdf(prefer_css_page_size=True)
    assert page_sizes(receipt) == {(80, 297)}
    assert desk.csp_errors == []  # type: ignore[attr-defined]
