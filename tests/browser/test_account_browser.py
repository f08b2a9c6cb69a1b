"""A patron on a phone: log in, see loans, renew one in place, log out, and Back shows
nothing personal."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_phone_login_loans_renew_logout_back(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/login")
    expect(phone.get_by_role("note")).to_contain_text("パスワードをおたずねすることはありません")
    phone.get_by_label("利用者カード番号").fill("2100000002")
    phone.get_by_label("パスワード", exact=True).fill("tosho-kan-taro-7")
    phone.get_by_role("button", name="ログイン").click()
    phone.wait_for_url("**/my")
    expect(phone.get_by_text("佐藤 太郎 さん")).to_be_visible()
    phone.get_by_role("link", name="貸出状況").first.click()
    phone.wait_for_url("**/my/loans")
    expect(phone.get_by_text("返却期限").first).to_be_visible()
    phone.evaluate("window.__stillHere = true")
    phone.get_by_role("button", name="延長").first.click()
    expect(phone.get_by_text("延長しました").first).to_be_visible()
    assert phone.evaluate("window.__stillHere") is True  # the row was swapped in place
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.get_by_role("button", name="ログアウト").click()
    phone.wait_for_url(live_server + "/?logged_out=1")
    expect(phone.get_by_text("ログアウトしました")).to_be_visible()
    phone.go_back()
    phone.wait_for_load_state()
    assert "佐藤" not in phone.content()
    assert "返却期限" not in phone.content()
    assert "/login" in phone.url
    assert phone.csp_errors == []  # type: ignore[attr-defined]
