"""Issue 20, what only a browser shows: after 次へ on a phone focus is on the results
heading and the results' top is in view, Back and Forward restore the right page, the phone
header is one row whose menu opens without JavaScript, and a printed loan list has no
navigation."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.browser.conftest import watch_csp

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
HANAKO = ("2100000001", "hon-wo-yomu-2026")
SOSEKI = "/search?q=%E5%A4%8F%E7%9B%AE%E6%BC%B1%E7%9F%B3"  # 夏目漱石: several pages


def _page_label(page: Page) -> str:
    return page.locator(".pagination [aria-current=page]").inner_text()


def _results_top(page: Page) -> float:
    return float(page.evaluate("document.getElementById('results').getBoundingClientRect().top"))


def test_next_page_focuses_the_results_heading_at_the_top(phone: Page, live_server: str) -> None:
    phone.goto(live_server + SOSEKI)
    first = _page_label(phone)
    phone.evaluate("window.__stillHere = true")
    next_link = phone.get_by_role("link", name="次へ")
    next_link.scroll_into_view_if_needed()
    assert phone.evaluate("window.scrollY") > 844  # at the bottom of a long list
    next_link.click()
    expect(phone.locator(".pagination [aria-current=page]")).not_to_have_text(first)
    assert phone.evaluate("window.__stillHere") is True  # swapped by htmx, not reloaded
    heading = phone.locator("#results-heading")
    expect(heading).to_be_focused()
    assert heading.get_attribute("tabindex") == "-1"
    assert abs(_results_top(phone)) <= 2, _results_top(phone)  # the results' top, in view
    second = _page_label(phone)
    assert "page=2" in phone.url
    # Back and Forward: each restores the page it names.
    phone.go_back()
    expect(phone.locator(".pagination [aria-current=page]")).to_have_text(first)
    assert "page=2" not in phone.url
    phone.go_forward()
    expect(phone.locator(".pagination [aria-current=page]")).to_have_text(second)
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_choosing_a_filter_leaves_focus_in_the_form(phone: Page, live_server: str) -> None:
    phone.goto(live_server + SOSEKI)
    before = phone.locator(".results .count").inner_text()
    phone.locator("details.advanced summary").click()
    choice = phone.get_by_label("並び順")
    choice.focus()
    choice.select_option("title")
    expect(phone.locator(".results .count")).to_have_text(before)
    expect(phone).to_have_url(re.compile(r"[?&]sort=title"))
    expect(choice).to_be_focused()


def test_phone_header_is_one_row_with_a_menu(browser: Browser, live_server: str) -> None:
    for lang, menu, my_library, switch in (
        ("ja-JP", "メニュー", "マイライブラリ", "English"),
        ("en-US", "Menu", "My Library", "日本語"),
    ):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale=lang
        )
        phone = watch_csp(context.new_page())
        phone.goto(live_server + "/login")
        phone.locator("#card").fill(HANAKO[0])
        phone.locator("#password").fill(HANAKO[1])
        phone.locator("main button[type=submit]").click()
        phone.wait_for_url("**/my")
        header = phone.locator(".site-header")
        box = header.bounding_box()
        assert box is not None and box["height"] <= 72, box  # one row (it was three)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        # Logged in, the language switch is a button (it saves the choice for the mail).
        expect(header.get_by_role("button", name=switch)).to_be_visible()
        expect(header.get_by_role("link", name=my_library)).to_be_hidden()
        header.get_by_text(menu).click()
        expect(header.get_by_role("link", name=my_library)).to_be_visible()
        header.get_by_role("link", name=my_library).click()
        phone.wait_for_url("**/my")
        assert phone.csp_errors == []  # type: ignore[attr-defined]
        context.close()


def test_header_menu_opens_without_javascript_and_desktop_shows_the_links(
    browser: Browser, live_server: str
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="ja-JP"
    )
    phone = context.new_page()
    phone.goto(live_server + "/")
    login = phone.locator(".site-header").get_by_role("link", name="ログイン")
    expect(login).to_be_hidden()
    phone.locator(".site-menu summary").click()
    expect(login).to_be_visible()
    context.close()
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ja-JP")
    desk = context.new_page()
    desk.goto(live_server + "/")
    expect(desk.locator(".site-menu summary")).to_be_hidden()
    for name in ("資料検索", "新着資料", "ログイン", "English"):
        expect(desk.locator(".site-header").get_by_role("link", name=name)).to_be_visible()
    box = desk.locator(".site-header").bounding_box()
    assert box is not None and box["height"] <= 80
    context.close()


def _flat(value: str) -> str:  # the PDF's fonts name some kanji by their radical (⽂)
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))


def test_printed_loan_list_has_no_navigation(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/login")
    phone.locator("#card").fill(HANAKO[0])
    phone.locator("#password").fill(HANAKO[1])
    phone.locator("main button[type=submit]").click()
    phone.wait_for_url("**/my")
    phone.goto(live_server + "/my/loans")
    # The server is shared by the session's browser tests: at least her overdue loan is there.
    titles = phone.locator(".loan-title").all_inner_texts()
    assert titles
    phone.emulate_media(media="print")
    expect(phone.locator(".site-header")).to_be_hidden()
    pdf = phone.pdf(format="A4")
    words = _flat("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    for title in titles:
        assert _flat(title) in words
    assert _flat("返却期限") in words
    for navigation in (
        "資料検索",
        "新着資料",
        "レファレンス事例",
        "このサイトについて",
        "ログアウト",
        "マイライブラリ",
        "English",
        "メニュー",
        "延長",
        "本文へ移動",
        "開館日カレンダー",
    ):
        assert _flat(navigation) not in words, navigation


def test_printed_record_shows_its_permanent_address(phone: Page, live_server: str) -> None:
    phone.goto(live_server + SOSEKI)
    phone.locator(".hit-title").first.click()
    phone.wait_for_url("**/records/*")
    canonical = phone.locator("link[rel=canonical]").get_attribute("href")
    assert canonical
    phone.emulate_media(media="print")
    expect(phone.locator(".print-url")).to_have_text(canonical)
    words = _flat("".join(p.extract_text() for p in PdfReader(io.BytesIO(phone.pdf())).pages))
    assert _flat(canonical) in words
    assert _flat("予約する") not in words and _flat("資料検索") not in words


def _axe(page: Page) -> list[str]:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return found


def test_new_and_changed_pages_pass_axe(phone: Page, live_server: str) -> None:
    """The header (menu closed and open), the logout page, results with their marks."""
    for path in ("/", "/logout", SOSEKI, "/about"):
        phone.goto(live_server + path)
        assert _axe(phone) == [], path
    phone.locator(".site-menu summary").click()
    assert _axe(phone) == []
    phone.goto(live_server + "/login")
    phone.locator("#card").fill(HANAKO[0])
    phone.locator("#password").fill("not-her-password")
    phone.locator("main button[type=submit]").click()
    expect(phone.locator("#login-error")).to_be_visible()
    assert _axe(phone) == []
    phone.locator("#password").fill(HANAKO[1])
    phone.locator("main button[type=submit]").click()
    phone.wait_for_url("**/my")
    for path in ("/logout", "/my/loans", SOSEKI):
        phone.goto(live_server + path)
        assert _axe(phone) == [], path
