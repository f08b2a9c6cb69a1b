"""The managers' loan-rules screen in a real browser: no serious accessibility violations,
before and after a refused save, and the error next to its field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from db import queries
from db.clock import now
from db.queries.second_factor import totp_code, totp_step
from tests.browser.conftest import start_server, stop_server
from tests.conftest import Database

pytestmark = pytest.mark.browser
PASSWORD = "kaunta-no-shokuin-2026"
SAVE_GENERAL = re.compile(r"保存\s*: 一般")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def serious_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    return found


def test_loan_rules_screen_is_accessible_and_says_what_is_wrong(
    phone: Page, staff_server: str
) -> None:
    token = queries.create_first_manager(
        queries.StaffInput("M001", "管理 一郎", "", "sogo", "manager", (), None)
    )
    phone.goto(f"{staff_server}/staff/enrol/{token}")
    phone.get_by_label("新しいパスワード", exact=True).fill(PASSWORD)
    phone.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
    phone.get_by_role("button", name="パスワードを設定").click()
    phone.wait_for_url("**/staff/mfa")
    secret = phone.locator("code.secret").inner_text()
    phone.get_by_label("確認コード").fill(totp_code(secret, totp_step(now())))
    phone.get_by_role("button", name="確認").click()
    phone.get_by_role("link", name="職員用画面へ進む").click()
    phone.get_by_role("link", name="貸出条件").first.click()
    expect(phone.get_by_role("heading", name="貸出条件", exact=True)).to_be_visible()
    assert serious_violations(phone) == []

    field = phone.get_by_label("一般 図書: 貸出期間（日）")
    expect(field).to_have_value("14")
    field.fill("百")
    phone.get_by_role("button", name=SAVE_GENERAL).click()
    expect(phone.locator(".form-errors")).to_contain_text("保存していません")
    field = phone.get_by_label("一般 図書: 貸出期間（日）")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(phone.locator('[id="general.book.loan_days-error"]')).to_contain_text("0から365")
    assert serious_violations(phone) == []

    phone.get_by_label("一般 図書: 貸出期間（日）").fill("２１")
    phone.get_by_role("button", name=SAVE_GENERAL).click()
    expect(phone.locator("#alerts")).to_contain_text("貸出条件を保存しました")
    expect(phone.get_by_label("一般 図書: 貸出期間（日）")).to_have_value("21")
    assert phone.csp_errors == []  # type: ignore[attr-defined]
