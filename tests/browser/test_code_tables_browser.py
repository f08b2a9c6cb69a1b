"""Issue 19's "Done when" for the code tables, in a browser on a phone: from a freshly served
library, a manager renames a branch and adds a closed day in the console, writes an
announcement, and the home page shows the renamed branch's hours today and the
announcement. Every new page is axe-clean (WCAG 2.2 AA) and fits 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from db.clock import library_today, now
from tests.browser import test_staff_browser
from tests.browser.test_calendar_browser import axe_violations
from tests.browser.test_staff_browser import enrol_manager

pytestmark = pytest.mark.browser
staff_server = test_staff_browser.staff_server  # the small library served, no staff yet


def _fits(page: Page) -> None:
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_manager_renames_a_branch_closes_it_today_and_the_home_page_says_so(
    phone: Page, staff_server: str
) -> None:
    today = library_today(now())
    enrol_manager(phone, staff_server)
    phone.get_by_role("link", name="コード管理").first.click()
    expect(phone.get_by_role("heading", name="コード管理", level=1)).to_be_visible()
    _fits(phone)

    # Rename 南市民図書館; a wrong phone number first: said next to the field, nothing saved.
    phone.get_by_role("link", name="館", exact=True).click()
    _fits(phone)
    phone.get_by_role("link", name=re.compile("変更する.*南市民図書館")).click()
    phone.get_by_label("名称 (日本語)").fill("藤沢市南図書館")
    phone.get_by_label("電話番号").fill("12-34")
    phone.get_by_role("button", name="保存").click()
    phone_field = phone.get_by_label("電話番号")
    expect(phone_field).to_have_attribute("aria-invalid", "true")
    expect(phone.get_by_label("名称 (日本語)")).to_have_value("藤沢市南図書館")
    _fits(phone)
    phone_field.fill("０４６６－２２－００００")
    phone.get_by_role("button", name="保存").click()
    expect(phone.get_by_role("alert")).to_contain_text("館の情報を保存しました")
    expect(phone.get_by_role("link", name=re.compile("変更する.*藤沢市南図書館"))).to_be_visible()

    # A closed day today for that branch, in the calendar the section links to.
    phone.get_by_role("link", name="開館日カレンダー").first.click()
    phone.get_by_label("館", exact=True).select_option("minami")
    phone.get_by_label("理由").select_option("other")
    phone.get_by_label("休館の初日").fill(today.isoformat())
    phone.get_by_label("休館の最終日").fill(today.isoformat())
    phone.get_by_role("button", name="休館期間を追加").click()
    expect(phone.get_by_role("alert")).to_contain_text("保存しました")

    # An announcement from today (和暦 typed for its end).
    phone.goto(staff_server + "/staff/codes/announcements")
    _fits(phone)
    phone.get_by_label("本文 (日本語)").fill("本日は南図書館を臨時休館します。")
    phone.get_by_label("掲載終了日").fill(f"令和{today.year - 2018}年{today.month}月{today.day}日")
    phone.get_by_role("button", name="保存").click()
    expect(phone.get_by_role("alert")).to_contain_text("お知らせを保存しました")
    expect(phone.get_by_role("cell", name="掲載中")).to_be_visible()

    # The home page: the search box first, the announcement, the renamed branch closed today.
    phone.goto(staff_server + "/")
    search = phone.get_by_role("searchbox")
    expect(search).to_be_visible()
    notice = phone.get_by_text("本日は南図書館を臨時休館します。")
    expect(notice).to_be_visible()
    assert search.bounding_box()["y"] < notice.bounding_box()["y"]  # type: ignore[index]
    hours = phone.get_by_role("region", name=re.compile("本日の開館時間"))
    expect(hours.get_by_role("listitem").filter(has_text="藤沢市南図書館")).to_contain_text("休館")
    expect(hours).not_to_contain_text("南市民図書館")
    _fits(phone)

    # The ways in: the guide and the privacy notice, generated from the tables and rules.
    phone.get_by_role("link", name="利用案内").click()
    expect(phone.get_by_role("heading", name="利用案内", level=1)).to_be_visible()
    expect(phone.get_by_text("0466-22-0000")).to_be_visible()
    _fits(phone)
    phone.get_by_role("link", name="個人情報の取扱いについて").first.click()
    expect(phone.get_by_role("heading", name="個人情報の取扱いについて", level=1)).to_be_visible()
    expect(phone.get_by_role("main")).to_contain_text("継続して3年間貸出しを受けなかったとき")
    _fits(phone)
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_every_code_page_is_axe_clean_on_a_phone(phone: Page, staff_server: str) -> None:
    enrol_manager(phone, staff_server)
    for path in (
        "/staff/codes/shelf-locations",
        "/staff/codes/material-types",
        "/staff/codes/material-types/book",
        "/staff/codes/categories",
        "/staff/codes/categories/general",
        "/staff/codes/card-rule",
        "/staff/codes/identity",
    ):
        phone.goto(staff_server + path)
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        _fits(phone)
    # A category in use: not deleted, and the page says where it is used.
    phone.goto(staff_server + "/staff/codes/categories/general")
    phone.get_by_role("button", name="このコードを削除する").click()
    expect(phone.get_by_role("alert")).to_contain_text("削除していません")
    expect(phone.get_by_role("alert")).to_contain_text("利用者")
    assert phone.csp_errors == []  # type: ignore[attr-defined]
