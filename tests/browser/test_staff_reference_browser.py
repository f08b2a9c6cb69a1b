"""A reference question answered at the console in a real browser: the queue, the question,
the catalogue searched as staff type (htmx swaps the picker in place), two titles ticked,
an outside source, the answer sent. The queue and the answer screens pass axe; no CSP
errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_staff_holds_browser import _axe, _enrol_manager
from tests.conftest import Database
from tests.test_web_holds import HANAKO, patron_id

pytestmark = pytest.mark.browser
OUTSIDE = "https://www.city.fujisawa.kanagawa.jp/kyoiku/enoshima.html"


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


def test_a_reference_answer_at_the_console(
    library_db: Database, desk: Page, staff_server: str
) -> None:
    _enrol_manager(desk, staff_server)
    hanako = patron_id(HANAKO[0])
    question_id = queries.ask_reference(
        hanako,
        question="江の島の明治時代の様子がわかる資料はありますか。",
        checked="",
        useful_by=None,
        notify_email=True,
        category="general",
    )
    desk.goto(f"{staff_server}/staff/")
    desk.get_by_role("main").get_by_role("link", name="レファレンス").click()
    expect(desk.get_by_role("heading", name="レファレンス", exact=False)).to_be_visible()
    assert _axe(desk) == []
    desk.get_by_role("link", name=f"質問 {question_id}").click()
    expect(desk.get_by_role("heading", name=f"質問 {question_id}")).to_be_visible()
    assert _axe(desk) == []
    desk.evaluate("window.__stillHere = true")
    desk.locator("#f-answer").fill("明治期の江の島については次の資料があります。")
    desk.get_by_label("所蔵資料を検索（書名・著者・ISBN など）").press_sequentially("の", delay=50)
    found = desk.locator("#source-picker").get_by_role("group", name="見つかった資料")
    expect(found).to_be_visible()
    boxes = found.get_by_role("checkbox")
    boxes.nth(0).check()
    boxes.nth(1).check()
    desk.get_by_label("ウェブページ", exact=False).fill(OUTSIDE)
    assert desk.evaluate("window.__stillHere") is True  # searched in place, never reloaded
    assert _axe(desk) == []
    desk.get_by_role("button", name="回答を送る").click()
    expect(desk.locator("#alerts")).to_contain_text("回答を保存しました")
    [answer] = queries.get_reference_question(hanako, question_id).answers
    assert [s.kind for s in answer.sources] == ["work", "work", "url"]
    expect(desk.locator(".reference-sources").get_by_role("link")).to_have_count(3)
    assert _axe(desk) == []
    assert desk.csp_errors == []  # type: ignore[attr-defined]
