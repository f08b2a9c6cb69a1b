"""My data in a real browser (issue 16): /my/data, the notice settings and the deletion
page pass axe (WCAG 2.2 AA, serious and critical), keep the CSP, fit a 390 px phone; a
wrong phone number is refused next to its field and a download arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_my_summary_browser import _axe
from tests.conftest import Database
from tests.test_web_holds import HANAKO, patron_id

pytestmark = pytest.mark.browser


@pytest.fixture
def patron_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def _log_in(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("利用者カード番号").fill(HANAKO[0])
    page.get_by_label("パスワード", exact=True).fill(HANAKO[1])
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/my")


def test_my_data_on_a_phone(library_db: Database, phone: Page, patron_server: str) -> None:
    queries.request_address_change(patron_id(HANAKO[0]), "2510052", "藤沢市藤沢1-1")
    _log_in(phone, patron_server)
    phone.get_by_role("link", name="わたしの登録情報（図書館が保有している情報のすべて）").click()
    phone.wait_for_url("**/my/data")
    expect(phone.get_by_role("heading", level=1)).to_have_text("わたしの登録情報")
    expect(phone.get_by_text("神奈川県藤沢市朝日町1-1").first).to_be_visible()
    expect(phone.get_by_text("に削除されます").first).to_be_visible()
    expect(phone.get_by_role("heading", name="貸出状況", exact=True)).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(phone) == []

    # A wrong phone number: the message stands next to the field, the typed value kept.
    phone.get_by_role("textbox", name="電話番号").fill("12-34")
    phone.get_by_role("button", name="電話番号を変更する").click()
    field = phone.get_by_role("textbox", name="電話番号")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("12-34")
    expect(phone.locator("#phone-error")).to_be_visible()
    assert _axe(phone) == []
    field.fill("０４６６－２５－９９９９")
    phone.get_by_role("button", name="電話番号を変更する").click()
    phone.wait_for_url("**/my/data")
    expect(phone.get_by_role("alert")).to_contain_text("電話番号を変更しました")
    assert queries.get_my_data(patron_id(HANAKO[0])).phone == "0466-25-9999"

    for path in ("/my/notices", "/my/data/delete"):
        phone.goto(patron_server + path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert _axe(phone) == [], path
    # Hanako has loans: the deletion page lists them instead of a password field.
    expect(phone.get_by_label("パスワード", exact=True)).to_have_count(0)
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_notice_settings_and_download_on_a_desktop(
    library_db: Database, browser: Browser, patron_server: str
) -> None:
    context = browser.new_context(locale="ja-JP", accept_downloads=True)
    page = watch_csp(context.new_page())
    try:
        _log_in(page, patron_server)
        page.goto(patron_server + "/my/notices")
        ready = page.get_by_role("group", name="予約資料の用意ができたとき")
        ready.get_by_label("メールに資料名を書く").check()
        page.get_by_role("group", name="返却期限が近いとき").get_by_label("連絡不要").check()
        page.get_by_role("button", name="保存").click()
        page.wait_for_url("**/my/notices")
        expect(page.get_by_role("alert")).to_contain_text("保存しました")
        settings = {s.kind: s for s in queries.get_notice_settings(patron_id(HANAKO[0])).settings}
        assert settings["ready"].titles and not settings["due_soon"].email
        assert _axe(page) == []

        page.goto(patron_server + "/my/data")
        with page.expect_download() as download:
            page.get_by_role("link", name="すべてダウンロード（JSON）").click()
        data = json.loads(download.value.path().read_text(encoding="utf-8"))
        assert data["registration"]["card_number"] == HANAKO[0]
        assert _axe(page) == []
        assert page.csp_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
