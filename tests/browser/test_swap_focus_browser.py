"""Where keyboard and screen-reader focus goes after an htmx swap (static/js/swap-focus.js,
WCAG 2.4.3): never <body>, but the new message, the question asked, the invalid field, or the
control still in use. Each step is done with the keyboard, on a phone and at the desk."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import text

from db import engine, queries

# Fixtures: staff_server, a server on library_db (for patrons and staff alike); desk.
from tests.browser.test_staff_holds_browser import _enrol_manager, desk, staff_server  # noqa: F401
from tests.conftest import Database
from tests.test_web_holds import HANAKO, patron_id

pytestmark = pytest.mark.browser


def _reserve_for(card: str, count: int) -> list[queries.HoldView]:
    """`count` new reservations for the patron, on titles with a copy to lend."""
    patron = patron_id(card)
    with engine.read() as conn:
        works = conn.execute(
            text(
                "SELECT DISTINCT i.work_id FROM item i "
                "JOIN material_type m ON m.code = i.material_type "
                "WHERE m.reservable AND m.loan_days > 0 ORDER BY i.work_id"
            )
        ).scalars()
        candidates = [int(w) for w in works]
    home = queries.list_branches()[0].code
    placed: list[queries.HoldView] = []
    for work in candidates:
        try:
            placed.append(queries.place_hold(patron, work, home))
        except queries.HoldRefused:
            continue  # reserved already, or on loan to this patron
        if len(placed) == count:
            return placed
    raise AssertionError("not enough reservable titles")


def _login(page: Page, base: str, who: tuple[str, str]) -> None:
    page.goto(base + "/login")
    page.get_by_label("利用者カード番号").fill(who[0])
    page.get_by_label("パスワード", exact=True).fill(who[1])
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/my")


def _press(page: Page, control: Locator, key: str = "Enter") -> None:
    """Focus `control` and press `key`, as with the keyboard."""
    control.focus()
    page.keyboard.press(key)


def _not_body(page: Page) -> None:
    assert page.evaluate("document.activeElement !== document.body")


def _settled(page: Page) -> None:
    """Wait until htmx has settled the swap (it focuses `autofocus` then, 20 ms after the
    swap): a key pressed sooner is a faster typist than any person."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def test_phone_my_library_swaps_keep_focus(
    phone: Page,
    staff_server: str,  # noqa: F811
    browser: Browser,
) -> None:
    first, second = _reserve_for(HANAKO[0], 2)
    # Another device of the same patron, to log out from this one.
    other = browser.new_context(locale="ja-JP")
    _login(other.new_page(), staff_server, HANAKO)
    _login(phone, staff_server, HANAKO)

    # /my/holds: change the pickup library with the keyboard → the row's new status.
    phone.goto(staff_server + "/my/holds")
    row = phone.locator(f"#hold-{first.id}")
    other_branch = next(b for b in queries.list_branches() if b.code != first.pickup_code)
    row.get_by_label("受取館").select_option(other_branch.code)
    _press(phone, row.get_by_role("button", name=re.compile("^受取館を変更")))
    status = row.get_by_role("status")
    expect(status).to_have_text("受取館を変更しました。")
    expect(status).to_be_focused()
    _not_body(phone)

    # Cancel: the question (asked in place), Tab to the confirming button, Enter → the
    # cancelled line's status; Tab to 元に戻す, Enter → the restored row's status.
    _press(phone, row.get_by_role("button", name=re.compile("予約を取り消す")))
    expect(phone.locator(f"#hold-{first.id}-question")).to_be_focused()
    _settled(phone)
    phone.keyboard.press("Tab")
    confirm = row.locator(".confirm").get_by_role("button", name=re.compile("予約を取り消す"))
    expect(confirm).to_be_focused()
    phone.keyboard.press("Enter")
    cancelled = phone.locator(f"#hold-undo-{first.id}")
    expect(cancelled.get_by_role("status")).to_contain_text("予約を取り消しました")
    expect(cancelled.get_by_role("status")).to_be_focused()
    _settled(phone)
    phone.keyboard.press("Tab")
    expect(cancelled.get_by_role("button", name=re.compile("取り消しを元に戻す"))).to_be_focused()
    phone.keyboard.press("Enter")
    restored = phone.locator("#holds").get_by_role("status")  # the row (a new id)
    expect(restored).to_contain_text("予約を元に戻しました")
    expect(restored).to_be_focused()

    # The notice settings: Save → "saved".
    notices = phone.locator("#hold-notices")
    _press(phone, notices.get_by_role("button", name="保存"))
    expect(notices.get_by_role("status")).to_have_text("お知らせの設定を保存しました。")
    expect(notices.get_by_role("status")).to_be_focused()
    assert phone.locator(f"#hold-{second.id}").count() == 1

    # /my/alerts: add with Enter in the field → "saved"; an empty one → the field, invalid;
    # delete → "deleted".
    phone.goto(staff_server + "/my/alerts")
    keyword = phone.locator("#alert-keyword")
    keyword.fill("猫")
    _press(phone, keyword)
    saved = phone.locator("#alerts-region").get_by_role("status")
    expect(saved).to_have_text("お知らせの条件を登録しました。")
    expect(saved).to_be_focused()
    _press(phone, phone.get_by_role("button", name=re.compile(r"^追加\s*:\s*キーワード$")))
    expect(keyword).to_have_attribute("aria-invalid", "true")
    expect(keyword).to_be_focused()
    _press(phone, phone.get_by_role("button", name=re.compile(r"^削除\s*:.*猫$")))
    deleted = phone.locator("#alerts-region").get_by_role("status")
    expect(deleted).to_have_text("お知らせの条件を削除しました。")
    expect(deleted).to_be_focused()

    # /my/sessions: log the other device out → the notice.
    phone.goto(staff_server + "/my/sessions")
    _press(phone, phone.get_by_role("button", name="ログアウトさせる").first)
    notice = phone.locator("#sessions").get_by_role("status")
    expect(notice).to_be_visible()
    expect(notice).to_be_focused()
    other.close()

    # マイブックリストに追加 on a record page: the button keeps focus while it works.
    phone.goto(f"{staff_server}/records/{second.work_id}")
    add = phone.get_by_role("button", name="マイブックリストに追加")
    _press(phone, add)
    expect(phone.locator(".booklist-add-status")).to_have_text(
        re.compile("マイブックリストに(追加しました|入っています)")
    )
    expect(add).to_be_focused()
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_staff_cancelling_a_reservation_keeps_focus(
    library_db: Database,
    desk: Page,  # noqa: F811
    staff_server: str,  # noqa: F811
) -> None:
    [hold] = _reserve_for(HANAKO[0], 1)
    _enrol_manager(desk, staff_server)
    desk.goto(f"{staff_server}/staff/patrons/{patron_id(HANAKO[0])}")
    row = desk.locator(f"#staff-hold-{hold.id}")
    _press(desk, row.get_by_role("button", name=re.compile("予約を取り消す")))
    expect(desk.locator(f"#staff-hold-{hold.id}-question")).to_be_focused()
    _settled(desk)
    desk.keyboard.press("Tab")
    expect(row.locator(".confirm").get_by_role("button")).to_be_focused()
    desk.keyboard.press("Enter")
    status = desk.locator("#patron-holds").get_by_role("status")
    expect(status).to_be_visible()
    expect(status).to_be_focused()
    expect(row).to_have_count(0)
    assert desk.csp_errors == []  # type: ignore[attr-defined]


def test_phone_a_bad_year_is_told_next_to_its_field_after_the_htmx_swap(
    phone: Page,
    staff_server: str,  # noqa: F811
) -> None:
    phone.goto(staff_server + "/search?q=" + "の")
    phone.locator("#advanced-summary").click()
    year_to = phone.locator("#f-year_to")
    expect(phone.locator("#years-help")).to_contain_text("平成2")
    year_to.fill("19x")
    with phone.expect_response(lambda r: "/search?" in r.url and r.status == 422):
        year_to.press("Tab")  # the change searches at once
    expect(year_to).to_have_attribute("aria-invalid", "true")
    error = phone.locator("#year_to-error")
    expect(error).to_contain_text("和暦")
    assert "year_to-error" in (year_to.get_attribute("aria-describedby") or "")
    expect(phone.locator("#f-sort")).to_be_focused()  # Tab went on; the swap left it there
    # Sent again with Enter: focus goes to the field to correct.
    with phone.expect_response(lambda r: "/search?" in r.url and r.status == 422):
        _press(phone, phone.locator("#advanced-apply"))
    expect(year_to).to_be_focused()
    year_to.fill("平成2")
    with phone.expect_response(lambda r: "/search?" in r.url and r.status == 200):
        year_to.press("Tab")
    expect(year_to).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_have_count(0)
    expect(year_to).to_have_value("平成2")
    assert phone.csp_errors == []  # type: ignore[attr-defined]
