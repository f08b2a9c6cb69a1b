"""もしかして after a few hits, in a browser (issue 18, speed): the results come first, the
suggestions appear just after without moving focus; without JavaScript, a link to them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import violations

pytestmark = pytest.mark.browser
ONE_HIT = "蜘蛛の糸"


def test_suggestions_appear_after_a_one_hit_search(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/")
    phone.get_by_label("キーワード").fill(ONE_HIT)
    phone.get_by_role("button", name="検索", exact=True).click()
    expect(phone.locator(".results .count")).to_have_text("1件")
    later = phone.locator(".suggestions-later")
    expect(later.get_by_role("heading", name="もしかして：")).to_be_visible()
    expect(later).to_have_attribute("aria-live", "polite")
    expect(later.get_by_role("link", name="ほかの候補を探す")).to_have_count(0)
    # Fetched on load: focus was not taken from where the patron is.
    assert phone.evaluate("document.activeElement.id") != "suggestions-heading"
    assert violations(phone) == []
    later.get_by_role("link", name="蜘蛛の夢", exact=True).click()
    expect(phone.get_by_role("link", name="蜘蛛の夢", exact=True).first).to_be_visible()
    # The page the link without JavaScript leads to (axe needs JavaScript to run).
    phone.goto(live_server + "/search/suggestions?q=" + quote(ONE_HIT))
    expect(phone.get_by_role("heading", level=1)).to_have_text("ほかの表記の候補")
    assert violations(phone) == []
    assert phone.csp_errors == []  # type: ignore[attr-defined]


@pytest.fixture
def no_script(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, locale="ja-JP")
    yield context.new_page()
    context.close()


def test_without_javascript_a_link_leads_to_the_suggestions(
    no_script: Page, live_server: str
) -> None:
    no_script.goto(live_server + "/search?q=" + quote(ONE_HIT))
    link = no_script.get_by_role("link", name="ほかの候補を探す")
    expect(link).to_be_visible()
    link.click()
    expect(no_script.get_by_role("heading", level=1)).to_have_text("ほかの表記の候補")
    expect(no_script.get_by_role("link", name="蜘蛛の夢", exact=True)).to_be_visible()
    no_script.get_by_role("link", name="蜘蛛の夢", exact=True).click()
    expect(no_script.get_by_role("link", name="蜘蛛の夢", exact=True).first).to_be_visible()
