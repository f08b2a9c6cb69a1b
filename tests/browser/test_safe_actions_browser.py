"""Issue 20 on a 390 px phone: a full-width card number logs in; cancelling a reservation
asks first and can be undone in place (htmx), the count follows; removing a booklist entry
can be undone. Each state passes axe (any impact)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from db import queries
from tests.browser.conftest import start_server, stop_server
from tests.browser.test_catalog_browser import AXE
from tests.conftest import Database
from tests.test_web_holds import HANAKO, MISAKI, patron_id, taros_loan

pytestmark = pytest.mark.browser
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture
def patron_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def _axe(page: Page) -> list[str]:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return found


def _log_in(phone: Page, base: str, card: str, password: str) -> None:
    phone.goto(base + "/login")
    phone.get_by_label("利用者カード番号").fill(card)
    phone.get_by_label("パスワード", exact=True).fill(password)
    phone.get_by_role("button", name="ログイン").click()
    phone.wait_for_url("**/my")


def test_phone_empty_login_then_full_width_card(phone: Page, patron_server: str) -> None:
    phone.goto(patron_server + "/login")
    phone.get_by_role("button", name="ログイン").click()
    expect(phone.locator("#card-error")).to_have_text("利用者カード番号を入力してください。")
    expect(phone.locator("#password-error")).to_have_text("パスワードを入力してください。")
    assert _axe(phone) == []
    card = HANAKO[0]
    _log_in(phone, patron_server, f"{card[:4]}ー{card[4:]}".translate(WIDE), HANAKO[1])
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_phone_confirm_then_undo_a_cancellation(phone: Page, patron_server: str) -> None:
    work_id, _, branch = taros_loan()
    queries.place_hold(patron_id(MISAKI[0]), work_id, branch)  # Misaki waits first
    _log_in(phone, patron_server, *HANAKO)
    phone.goto(f"{patron_server}/records/{work_id}")
    phone.locator("#hold-form").get_by_role("button", name="予約する").click()
    expect(phone.get_by_text("予約済み")).to_be_visible()
    phone.goto(patron_server + "/my/holds")
    [hold] = queries.list_holds(patron_id(HANAKO[0]))
    row = phone.locator(f"#hold-{hold.id}")
    expect(row).to_contain_text("あなたは 2 番目")
    expect(phone.locator("#holds-count")).to_contain_text("1件予約しています")
    phone.evaluate("window.__stillHere = true")
    label = f"『{hold.title}』の予約を取り消す"
    # The first tap only asks, in the row; the question takes the focus.
    row.get_by_role("button", name=label).click()
    question = phone.locator(f"#hold-{hold.id}-question")
    expect(question).to_contain_text("予約を取り消しますか？")
    expect(question).to_be_focused()
    assert queries.list_holds(patron_id(HANAKO[0])), "nothing cancelled yet"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(phone) == []
    # 取り消さない: the row as it was.
    row.get_by_role("button", name="取り消さない").click()
    expect(question).to_have_count(0)  # the row as it was, swapped in
    row.get_by_role("button", name=label).click()
    expect(question).to_be_focused()
    row.locator(".confirm").get_by_role("button", name=label).click()  # confirmed
    undo_line = phone.locator(f"#hold-undo-{hold.id}")
    expect(undo_line).to_contain_text(f"「{hold.title}」の予約を取り消しました。")
    expect(phone.locator("#holds-count")).to_have_text("予約している資料はありません。")
    assert queries.list_holds(patron_id(HANAKO[0])) == ()
    assert _axe(phone) == []
    undo_line.get_by_role("button", name=f"『{hold.title}』の予約の取り消しを元に戻す").click()
    expect(phone.get_by_text(f"『{hold.title}』の予約を元に戻しました。")).to_be_visible()
    expect(phone.locator("#holds-count")).to_contain_text("1件予約しています")
    [back] = queries.list_holds(patron_id(HANAKO[0]))
    assert back.position == 2  # behind Misaki, as before
    expect(phone.locator(f"#hold-{back.id}")).to_contain_text("あなたは 2 番目")
    assert phone.evaluate("window.__stillHere") is True  # all in place, no page load
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(phone) == []
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_phone_remove_a_booklist_entry_and_undo(phone: Page, patron_server: str) -> None:
    _log_in(phone, patron_server, *HANAKO)
    phone.goto(patron_server + "/search?q=の")
    for i in range(2):
        hit = phone.locator("li.hit").nth(i)
        hit.get_by_role("button", name="マイブックリストに追加").click()
        expect(hit.locator(".booklist-add-status")).to_have_text("マイブックリストに追加しました。")
    phone.goto(patron_server + "/my/booklist")  # the login kept the list's key
    phone.locator("#booklist-main").wait_for(state="visible")
    entries = phone.locator("#booklist-entries > li")
    expect(entries).to_have_count(2)
    first = entries.first
    title = first.locator(".entry-title").inner_text()
    first.get_by_label("メモ").fill("あとで読む")
    first.get_by_role("button", name="保存").click()
    expect(phone.locator("#booklist-status")).to_have_text("保存しました。")
    first.get_by_role("button", name=f"『{title}』を削除").click()
    expect(phone.locator("#booklist-status")).to_have_text(
        f"『{title}』をマイブックリストから削除しました。"
    )
    expect(entries).to_have_count(1)
    expect(phone.locator("#booklist-count")).to_have_text("1件")
    undo = phone.get_by_role("button", name=f"『{title}』の削除を元に戻す")
    expect(undo).to_be_focused()
    assert _axe(phone) == []
    undo.click()
    expect(phone.locator("#booklist-status")).to_have_text(f"『{title}』を元に戻しました。")
    expect(entries).to_have_count(2)
    expect(undo).to_be_hidden()
    restored = phone.locator("#booklist-entries > li", has_text=title)
    expect(restored.get_by_label("メモ")).to_have_value("あとで読む")  # as it was
    phone.reload()  # saved, not only shown
    expect(phone.locator("#booklist-entries > li")).to_have_count(2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]
