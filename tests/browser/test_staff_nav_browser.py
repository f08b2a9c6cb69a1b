"""The staff navigation on a phone: every screen the manager may use, reachable with the
keyboard, wrapping inside the screen with room to tap, and axe finds no serious
violations (WCAG 2.2 AA), with no CSP errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import start_server, stop_server
from tests.browser.test_staff_mail_browser import AXE, enrolled_manager
from tests.conftest import Database

pytestmark = pytest.mark.browser
SCREENS = (
    "カウンター業務",
    "予約資料の抜き取りリスト",
    "届かなかったメール",
    "開館日カレンダー",
    "貸出条件",
    "閲覧記録",
)


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def test_the_navigation_on_a_phone_by_keyboard(phone: Page, staff_server: str) -> None:
    enrolled_manager(phone, staff_server)
    nav = phone.locator("header.staff-header nav")
    for name in SCREENS:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    # Nothing runs off the side of a phone, and every link is a target of at least 24 px.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    heights = phone.evaluate(
        "[...document.querySelectorAll('header nav a')].map(a => a.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 24
    # By keyboard: Tab reaches the loan rules, Enter opens them, and the page says so.
    for _ in range(30):
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.textContent") == "貸出条件":
            break
    else:
        pytest.fail("Tab never reached the loan rules link")
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/staff/rules")
    expect(nav.get_by_role("link", name="貸出条件", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    phone.evaluate(AXE.read_text("utf-8"))
    violations = phone.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == []
    assert phone.csp_errors == []  # type: ignore[attr-defined]
