"""A patron on a phone: log in, see loans, renew one in place, log out, and Back shows
nothing personal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from db import engine
from db.models import TABLES
from tests.browser.conftest import open_site_menu, start_server, stop_server
from tests.conftest import Database

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(library_db: Database) -> Iterator[str]:
    """The demo patrons on their own server. Issue 12: a renewal on the day of the loan is
    refused (it would not move the due date), so Taro's loan was made three days ago."""
    loan, patron = TABLES["loan"], TABLES["patron"]
    with engine.write() as conn:
        taro = select(patron.c.id).where(patron.c.card_number == "2100000002").scalar_subquery()
        for row in conn.execute(select(loan).where(loan.c.patron_id == taro)).all():
            conn.execute(
                loan.update()
                .where(loan.c.id == row.id)
                .values(
                    due_on=row.due_on - timedelta(days=3),
                    checked_out_at=row.checked_out_at - timedelta(days=3),
                )
            )
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


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
    open_site_menu(phone)  # issue 20: the phone header's links are in its menu
    phone.get_by_role("button", name="ログアウト").click()
    phone.wait_for_url(live_server + "/?logged_out=1")
    expect(phone.get_by_text("ログアウトしました")).to_be_visible()
    phone.go_back()
    phone.wait_for_load_state()
    assert "佐藤" not in phone.content()
    assert "返却期限" not in phone.content()
    assert "/login" in phone.url
    assert phone.csp_errors == []  # type: ignore[attr-defined]
