"""A demo patron on a 390 px phone asks a reference question, later reads the answer with
its sources (links to our records, an outside web page), asks a follow-up; every page fits
the screen and passes axe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from db import engine, queries, reference
from db.reference import SourceInput
from tests.browser.conftest import start_server, stop_server
from tests.browser.test_my_summary_browser import _axe
from tests.conftest import Database
from tests.test_web_holds import HANAKO, patron_id

pytestmark = pytest.mark.browser


@pytest.fixture
def patron_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(page) == []


def _answer(question_id: int, base: str) -> list[int]:
    queries.create_first_manager(
        queries.StaffInput("R001", "参考 係", "", "sogo", "manager", (), None)
    )
    with engine.read() as conn:
        staff_id = conn.execute(
            text("SELECT id FROM staff_account WHERE staff_code = 'R001'")
        ).scalar_one()
        works = [
            int(w) for w in conn.execute(text("SELECT id FROM work ORDER BY id LIMIT 2")).scalars()
        ]
    with engine.write() as conn:
        reference.record_answer(
            conn,
            datetime.now(UTC),
            question_id=question_id,
            staff_id=staff_id,
            body="郷土資料室の次の資料に、藤沢宿の絵図が載っています。",
            sources=[
                SourceInput("work", work_id=works[0]),
                SourceInput("work", work_id=works[1]),
                SourceInput("url", "https://www.city.fujisawa.kanagawa.jp/bunsho/index.html"),
            ],
            make_link=f"{base}/my/reference/{{}}".format,
        )
    return works


def test_phone_patron_asks_and_reads_the_answer(
    library_db: Database, phone: Page, patron_server: str
) -> None:
    phone.goto(patron_server + "/login")
    phone.get_by_label("利用者カード番号").fill(HANAKO[0])
    phone.get_by_label("パスワード", exact=True).fill(HANAKO[1])
    phone.get_by_role("button", name="ログイン").click()
    phone.wait_for_url("**/my")
    phone.get_by_role("link", name="レファレンス（調べもの相談）").click()
    phone.wait_for_url("**/my/reference")
    _fits(phone)
    phone.get_by_role("link", name="質問する").click()
    phone.wait_for_url("**/my/reference/new")
    expect(phone.get_by_label("質問者の区分")).to_have_value("general")  # from her record
    _fits(phone)

    # A date that is not one: the message is next to the field, what was typed stays.
    phone.get_by_label("ご質問").fill("江戸時代の藤沢宿の様子がわかる絵図を見たい")
    phone.get_by_label("回答が必要な期限（任意）").fill("いつか")
    phone.get_by_role("button", name="質問を送信").click()
    expect(phone.locator("#useful_by-error")).to_be_visible()
    expect(phone.get_by_label("ご質問")).to_have_value("江戸時代の藤沢宿の様子がわかる絵図を見たい")
    _fits(phone)

    phone.get_by_label("すでに調べたこと（任意）").fill("藤沢市史 第5巻")
    phone.get_by_label("回答が必要な期限（任意）").fill("令和９年１月３１日")
    phone.get_by_label("メールで知らせる（メールには回答ができたことだけを記載します）").check()
    phone.get_by_role("button", name="質問を送信").click()
    phone.wait_for_url(re.compile(r".*/my/reference/\d+$"))
    expect(phone.get_by_text("ご質問を受け付けました。")).to_be_visible()
    expect(phone.locator("#reference-thread .reference-status")).to_have_text("受付")
    expect(phone.get_by_text("2027年1月31日")).to_be_visible()
    _fits(phone)
    question_id = int(phone.url.rsplit("/", 1)[1])
    [mine] = queries.list_reference_questions(patron_id(HANAKO[0]))
    assert mine.id == question_id

    # Later: the library answers; she opens the thread again.
    works = _answer(question_id, patron_server)
    phone.goto(patron_server + "/my/reference")
    expect(phone.locator(".reference-list .reference-status")).to_have_text("回答済")
    phone.get_by_role("link", name=re.compile("江戸時代の藤沢宿")).click()
    thread = phone.locator("#reference-thread")
    expect(thread).to_contain_text("藤沢宿の絵図が載っています")
    record_links = thread.locator("a[href^='/records/']")
    expect(record_links).to_have_count(2)
    outside = thread.locator("a.reference-url")
    expect(outside).to_have_attribute("rel", "noopener noreferrer nofollow")
    _fits(phone)

    # A follow-up (htmx swaps the thread) reopens the question.
    phone.get_by_label("追加で質問する").fill("明治時代のものもありますか")
    phone.get_by_role("button", name="追加の質問を送信").click()
    expect(thread).to_contain_text("明治時代のものもありますか")
    expect(phone.locator("#reference-thread .reference-status")).to_have_text("受付")
    _fits(phone)

    # The record links work.
    record_links.first.click()
    phone.wait_for_url(f"**/records/{works[0]}")
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
