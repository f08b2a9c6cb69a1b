"""Helping the patron in a browser (issue 18): もしかして links, facets swapped by htmx, the
record page's author links, and axe on each of those pages."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text("utf-8"))
    return page.evaluate(  # type: ignore[no-any-return]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )


def test_a_mistyped_title_offers_a_link_that_finds_it(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/")
    phone.get_by_label("キーワード").fill("吾輩は描である")
    phone.get_by_role("button", name="検索", exact=True).click()
    expect(phone.get_by_role("heading", name="もしかして：")).to_be_visible()
    assert serious_violations(phone) == []
    phone.get_by_role("link", name="吾輩は猫である", exact=True).click()
    expect(phone.get_by_role("link", name="吾輩は猫である", exact=True).first).to_be_visible()
    expect(phone.get_by_label("キーワード")).to_have_value("吾輩は猫である")
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_a_facet_narrows_the_results_in_place(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/search?q=" + quote("夏目漱石"))
    facets = phone.get_by_role("navigation", name="絞り込み")
    expect(facets.get_by_role("heading", name="分類")).to_be_visible()
    assert serious_violations(phone) == []
    literature = facets.get_by_role("link", name=re.compile(r"^9 文学"))
    count = re.search(r"（(\d+)）", literature.inner_text())
    assert count
    phone.evaluate("window.__stillHere = true")
    literature.click()
    expect(phone.locator(".results .count")).to_have_text(f"{count.group(1)}件")
    assert phone.evaluate("window.__stillHere") is True  # swapped, not reloaded
    assert "ndc_class=9" in phone.url
    # The advanced fields show the filter now in force, so the next search keeps it.
    expect(phone.locator("#f-ndc_class")).to_have_value("9")
    chosen = phone.get_by_role("navigation", name="絞り込み").locator("a[aria-current=true]")
    expect(chosen).to_contain_text("9 文学")
    assert serious_violations(phone) == []
    chosen.click()
    expect(phone.locator("#f-ndc_class")).to_have_value("")
    assert "ndc_class" not in phone.url
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_the_record_page_links_the_author(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/search?q=" + quote("羅生門"))
    phone.get_by_role("link", name="羅生門", exact=True).first.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("羅生門")
    assert serious_violations(phone) == []
    phone.get_by_role("link", name=re.compile(r"の資料$")).first.click()
    phone.wait_for_url("**/search?author=*")
    expect(phone.locator(".results .count")).to_be_visible()
