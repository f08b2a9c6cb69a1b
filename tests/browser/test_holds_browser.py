"""A patron on a phone reserves a title inline on the record page (htmx), sees it in My
Library and cancels it in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_phone_reserve_inline_then_cancel_in_place(phone: Page, live_server: str) -> None:
    phone.goto(live_server + "/login")
    phone.get_by_label("利用者カード番号").fill("2100000004")
    phone.get_by_label("パスワード", exact=True).fill("misaki-no-hon-99")
    phone.get_by_role("button", name="ログイン").click()
    phone.wait_for_url("**/my")
    phone.goto(live_server + "/search?q=" + "こころ")
    phone.locator("a.hit-title").first.click()
    phone.wait_for_url("**/records/**")
    phone.evaluate("window.__stillHere = true")
    pickup = phone.get_by_label("受取館")
    expect(pickup).to_be_visible()  # the form was loaded into the page by htmx
    expect(pickup).to_have_value("shonan-oba")  # the home branch preselected
    phone.locator("#hold-form").get_by_role("button", name="予約する").click()
    expect(phone.get_by_text("予約済み")).to_be_visible()
    assert phone.evaluate("window.__stillHere") is True
    phone.goto(live_server + "/my/holds")
    expect(phone.get_by_text("あなたは 1 番目").first).to_be_visible()
    phone.evaluate("window.__stillHere = true")
    phone.get_by_role("button", name="予約を取り消す").first.click()
    expect(phone.get_by_text("予約を取り消しますか？")).to_be_visible()  # issue 20: asked first
    phone.get_by_role("button", name="予約を取り消す").first.click()
    expect(phone.get_by_text("予約を取り消しました")).to_be_visible()
    assert phone.evaluate("window.__stillHere") is True
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]
