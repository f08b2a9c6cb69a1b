"""The counter side of pre-registration in a real browser: the queue, the receipt number
scanned (keyboard input into the focused field, ending with Enter), the application, the
card slip with its activation code (printing leaves the forms out), and the walk-in form —
each screen without serious axe violations (WCAG 2.2 AA) and without CSP errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_staff_mail_browser import enrolled_manager
from tests.conftest import Database
from tests.test_queries_registration import FORM

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


@pytest.fixture
def counter(browser: Browser) -> Iterator[Page]:
    """A counter PC's browser (the barcode scanner types into it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    yield watch_csp(context.new_page())
    context.close()


def no_serious_violations(page: Page) -> None:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == [], page.url


def test_scan_confirm_and_print_the_card_slip(counter: Page, staff_server: str) -> None:
    receipt = queries.submit_application(
        replace(FORM, phone="０９０－１２３４－５６７８"),
        client="192.0.2.1",
        days=30,
        lang="ja",
        make_link=lambda token: token,
    )
    enrolled_manager(counter, staff_server)
    counter.get_by_role("link", name="利用者仮登録申請").click()
    expect(counter.get_by_role("heading", name="利用者仮登録申請")).to_be_visible()
    expect(counter.get_by_role("cell", name="藤沢 一葉")).to_be_visible()
    no_serious_violations(counter)
    # The field has the focus: the scanner's keystrokes and its Enter go straight in.
    expect(counter.get_by_label("仮登録番号")).to_be_focused()
    counter.keyboard.type(receipt.receipt_number)
    counter.keyboard.press("Enter")
    number = queries.format_receipt_number(receipt.receipt_number)
    expect(counter.get_by_role("heading", name=f"仮登録申請 {number}")).to_be_visible()
    expect(counter.get_by_text("090-1234-5678")).to_be_visible()
    no_serious_violations(counter)
    counter.get_by_role("button", name="本登録してカードを作成").click()
    expect(counter.get_by_role("heading", name="Webパスワードの設定")).to_be_visible()
    code = counter.locator(".slip-code").inner_text()
    assert len(code) == 14 and counter.locator(".slip-card").inner_text().startswith("21")
    no_serious_violations(counter)
    counter.emulate_media(media="print")
    expect(counter.locator(".slip-code")).to_be_visible()
    expect(counter.get_by_role("link", name="利用者情報に戻る")).to_be_hidden()
    counter.emulate_media(media="screen")
    assert counter.csp_errors == []  # type: ignore[attr-defined]


def test_the_walk_in_form_keeps_what_was_typed(counter: Page, staff_server: str) -> None:
    enrolled_manager(counter, staff_server)
    counter.goto(f"{staff_server}/staff/registrations/new")
    no_serious_violations(counter)
    counter.get_by_label("氏名").fill("辻堂　海")
    counter.get_by_label("ふりがな").fill("Umi")
    counter.get_by_label("生年月日").fill("平成2年4月1日")
    counter.get_by_label("郵便番号").fill("２５１－００５２")
    counter.get_by_label("住所").fill("神奈川県藤沢市辻堂1-1")
    counter.get_by_label("電話番号").fill("０４６６－３３－９９９９")
    counter.get_by_role("button", name="登録してカードを作成").click()
    expect(counter.get_by_label("ふりがな")).to_have_attribute("aria-invalid", "true")
    expect(counter.get_by_label("氏名")).to_have_value("辻堂　海")
    no_serious_violations(counter)
    assert counter.csp_errors == []  # type: ignore[attr-defined]
