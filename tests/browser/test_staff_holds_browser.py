"""Staff take a telephone reservation at the console: find the title, reserve it for the
patron (htmx swaps the reservations section in place), change the pickup library; the patron
page passes axe and has no CSP errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from db.clock import now
from db.queries.second_factor import totp_code, totp_step
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_catalog_browser import AXE
from tests.conftest import Database
from tests.test_web_holds import HANAKO, patron_id
from tests.test_web_staff_holds import title_with_copy

pytestmark = pytest.mark.browser
PASSWORD = "denwa-yoyaku-no-shokuin-2026"


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    yield watch_csp(context.new_page())
    context.close()


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def _enrol_manager(page: Page, base: str) -> None:
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


def _axe(page: Page) -> list[str]:
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    return found


def test_a_telephone_reservation_at_the_console(
    library_db: Database, desk: Page, staff_server: str
) -> None:
    _enrol_manager(desk, staff_server)
    hanako = patron_id(HANAKO[0])
    desk.goto(f"{staff_server}/staff/patrons/{hanako}")
    section = desk.locator("#patron-holds")
    expect(section.get_by_role("heading", name="予約状況")).to_be_visible()
    assert _axe(desk) == []
    desk.evaluate("window.__stillHere = true")
    _work_id, title, _barcode = title_with_copy()
    desk.get_by_label("書名・ISBN・資料バーコード").fill(title)
    desk.get_by_role("button", name="検索", exact=True).click()
    choices = desk.get_by_role("list", name="見つかった資料")
    expect(choices).to_be_visible()
    choices.get_by_role("listitem").first.get_by_role("button", name="予約する").click()
    expect(section.get_by_role("status")).to_contain_text("利用者の予約を受け付けました")
    [hold] = queries.list_holds(hanako)
    row = desk.locator(f"#staff-hold-{hold.id}")
    expect(row).to_contain_text(hold.title)
    other = next(b for b in queries.list_branches() if b.code != hold.pickup_code)
    row.get_by_label("受取館").select_option(other.code)
    row.get_by_role("button", name="受取館を変更").click()
    expect(section.get_by_role("status")).to_contain_text("受取館を変更しました")
    assert queries.list_holds(hanako)[0].pickup_code == other.code
    assert desk.evaluate("window.__stillHere") is True  # swapped in place, never reloaded
    assert _axe(desk) == []
    assert desk.csp_errors == []  # type: ignore[attr-defined]
