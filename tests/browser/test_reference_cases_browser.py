"""The public reference collection on a phone: found without logging in, searched with the
catalogue's Japanese matching (with and without JavaScript), axe-clean, fits 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from db import queries
from tests.browser import test_staff_browser
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_calendar_browser import axe_violations
from tests.browser.test_staff_browser import enrol_manager
from tests.conftest import _drop_pg_database, copy_database
from tests.test_queries_reference_cases import GOOD, _question, _staff

pytestmark = pytest.mark.browser
staff_server = test_staff_browser.staff_server  # the small library served, no staff yet


@pytest.fixture(scope="module")
def reference_server(_library_template: str, db_dir: Path) -> Iterator[tuple[str, int]]:
    """The small library with one case published by a second member of staff, served."""
    url, pg_name = copy_database(_library_template, db_dir)
    queries.configure(url)
    author, approver = _staff("BRW01"), _staff("BRW02")
    case_id = queries.new_reference_case(author)
    queries.submit_reference_case(author, case_id, GOOD)
    revision = queries.get_staff_reference_case(approver, case_id).revision
    queries.approve_reference_case(approver, case_id, revision)
    draft = queries.new_reference_case(author)
    queries.save_reference_case(author, draft, queries.CaseInput("下書きの龍", "まだ"))
    queries.dispose()
    proc, base = start_server(url)
    yield base, case_id
    stop_server(proc)
    if pg_name:
        _drop_pg_database(pg_name)


def test_collection_on_a_phone_is_axe_clean_and_fits(
    phone: Page, reference_server: tuple[str, int]
) -> None:
    base, case_id = reference_server
    phone.goto(base + "/")
    phone.get_by_role("contentinfo").get_by_role("link", name="レファレンス事例集").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("レファレンス事例集")
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # htmx swaps the results: 竜 (new form) finds 龍 (old form); drafts never show.
    phone.get_by_label("事例を検索").fill("竜口寺")
    phone.get_by_role("button", name="事例を検索").click()
    hit = phone.get_by_role("link", name="藤沢の龍口寺に伝わる龍の伝説")
    expect(hit).to_be_visible()
    expect(phone.locator(".reference-hits li")).to_have_count(1)
    expect(phone).to_have_url(re.compile(r"/reference\?q="))  # htmx pushed the search
    hit.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        f"レファレンス事例 SHIORI-{case_id:06d}"
    )
    expect(phone.get_by_text("『藤沢の民話』第2集")).to_be_visible()
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]


def test_search_without_javascript_in_english(
    browser: Browser, reference_server: tuple[str, int]
) -> None:
    base, _case_id = reference_server
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="en-GB"
    )
    page = watch_csp(context.new_page())
    page.goto(base + "/reference?q=")
    # Katakana finds the hiragana of the text (and full-width, half-width alike).
    for query, found in (("ﾜﾙ", "1 case"), ("江の島", "0 cases"), ("ワル 民話", "1 case")):
        page.get_by_label("Search the cases").fill(query)
        page.get_by_role("button", name="Search the cases", exact=True).click()
        expect(page.get_by_role("heading", level=2)).to_contain_text(found)
    page.get_by_role("link", name="藤沢の龍口寺に伝わる龍の伝説").click()
    expect(page.get_by_role("term").filter(has_text="How it was researched")).to_be_visible()
    context.close()


def test_writing_a_case_on_a_phone_flags_the_patrons_name(phone: Page, staff_server: str) -> None:
    question_id = _question("山田花子です。龍口寺の龍の伝説の本を探しています。")
    enrol_manager(phone, staff_server)
    phone.get_by_role("link", name="公開用レファレンス事例").first.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("公開用レファレンス事例")
    assert axe_violations(phone) == []
    phone.get_by_label("元にする質問の番号").fill(str(question_id))
    phone.get_by_role("button", name="新しい事例を作成").click()
    original = phone.get_by_role("region", name="元の質問（公開されません）")
    expect(original).to_contain_text("山田花子です")
    phone.get_by_label("回答", exact=True).fill("『藤沢の民話』第2集にある。")
    phone.get_by_role("button", name="承認に回す").click()
    question = phone.get_by_label("質問（書き直したもの")
    expect(question).to_have_attribute("aria-invalid", "true")
    expect(phone.locator("#question-error")).to_contain_text("質問者の名前")
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    question.fill("龍口寺の龍の伝説について書かれた本はあるか。")
    phone.get_by_role("button", name="承認に回す").click()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("承認待ち")
    expect(phone.get_by_text("この事例はあなたが作成しました")).to_be_visible()
    assert axe_violations(phone) == []
    assert phone.csp_errors == []  # type: ignore[attr-defined]
