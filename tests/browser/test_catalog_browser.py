"""What only a browser shows: a phone-sized search, htmx swaps, CSP, accessibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.parametrize("typed", ["わがはいはねこ", "ﾜｶﾞﾊｲ", "夏目漱石"])
def test_newcomer_finds_wagahai_on_a_phone(phone: Page, live_server: str, typed: str) -> None:
    phone.goto(live_server + "/")
    phone.get_by_label("キーワード").fill(typed)
    phone.get_by_role("button", name="検索", exact=True).click()
    phone.wait_for_url("**/search?*")
    link = phone.get_by_role("link", name="吾輩は猫である", exact=True).first
    # An author search lists all of the author's works: page on until it shows up.
    for _ in range(10):
        if link.count():
            break
        current = phone.locator(".pagination [aria-current=page]")
        before = current.inner_text()
        phone.get_by_role("link", name="次へ").click()
        expect(current).not_to_have_text(before)
    expect(link).to_be_visible()
    # Nothing sticks out sideways on a 390 px screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    link.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("吾輩は猫である")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_refining_swaps_results_in_place_and_updates_the_url(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/search?q=%E5%AE%AE%E6%B2%A2%E8%B3%A2%E6%B2%BB")
    before = phone.locator(".results .count").inner_text()
    phone.evaluate("window.__stillHere = true")
    phone.locator("details.advanced summary").click()
    phone.get_by_label("分類", exact=True).select_option("K")
    expect(phone.locator(".results .count")).not_to_have_text(before)
    assert phone.evaluate("window.__stillHere") is True  # swapped, not reloaded
    assert "ndc_class=K" in phone.url
    phone.go_back()
    expect(phone.locator(".results .count")).to_have_text(before)
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_pages_work_without_javascript(browser: object, live_server: str) -> None:
    # A Japanese browser: the page language follows Accept-Language on a first visit.
    context = browser.new_context(java_script_enabled=False, locale="ja-JP")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(live_server + "/")
    page.get_by_label("キーワード").fill("銀河鉄道")
    page.get_by_role("button", name="検索", exact=True).click()
    expect(page.get_by_role("link", name="銀河鉄道の夜", exact=True).first).to_be_visible()
    context.close()


def test_keyboard_only_search(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/")
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="本文へ移動")).to_be_focused()
    phone.get_by_label("キーワード").focus()
    phone.keyboard.type("羅生門")
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("link", name="羅生門", exact=True).first).to_be_visible()


@pytest.mark.parametrize("path", ["/", "/search?q=%E7%8C%AB", "/about"])
def test_no_serious_accessibility_violations(phone: Page, live_server: str, path: str) -> None:
    phone.goto(live_server + path)
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    phone.evaluate(AXE.read_text("utf-8"))
    violations = phone.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == []


def test_record_page_copies_fit_a_phone(phone: Page, live_server: str) -> None:
    phone.goto(
        live_server + "/search?q=%E5%90%BE%E8%BC%A9%E3%81%AF%E7%8C%AB%E3%81%A7%E3%81%82%E3%82%8B"
    )
    phone.get_by_role("link", name="吾輩は猫である", exact=True).first.click()
    expect(phone.get_by_role("heading", name="所蔵")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
