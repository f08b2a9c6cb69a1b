"""The staff console in a real browser: TOTP enrolment with the QR code, then scanning at
the counter keeps the cursor in the barcode field and speaks errors, with no CSP errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from db import engine, queries
from db.clock import now
from db.queries.second_factor import totp_code, totp_step
from tests.browser.conftest import start_server, stop_server
from tests.conftest import Database

pytestmark = pytest.mark.browser
PASSWORD = "kaunta-no-shokuin-2026"


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def enrol_manager(phone: Page, base: str) -> None:
    """The first manager (M001) enrols in this browser: password, TOTP, recovery codes,
    and arrives at the console's home."""
    token = queries.create_first_manager(
        queries.StaffInput("M001", "管理 一郎", "", "sogo", "manager", (), None)
    )
    phone.goto(f"{base}/staff/enrol/{token}")
    phone.get_by_label("新しいパスワード", exact=True).fill(PASSWORD)
    phone.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
    phone.get_by_role("button", name="パスワードを設定").click()
    phone.wait_for_url("**/staff/mfa")
    qr = phone.get_by_role("img", name="認証アプリ登録用のQRコード")
    expect(qr).to_be_visible()
    assert phone.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    secret = phone.locator("code.secret").inner_text()
    phone.get_by_label("確認コード").fill(totp_code(secret, totp_step(now())))
    phone.get_by_role("button", name="確認").click()
    expect(phone.get_by_role("heading", name="回復コード")).to_be_visible()
    phone.get_by_role("link", name="職員用画面へ進む").click()


def test_enrol_and_scan_at_the_counter(phone: Page, staff_server: str) -> None:
    enrol_manager(phone, staff_server)
    phone.get_by_role("link", name="カウンター業務").first.click()
    with engine.read() as conn:
        barcode = conn.execute(
            text(
                "SELECT barcode FROM item WHERE status = 'available' AND material_type = 'book' "
                "ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    phone.get_by_label("利用者カード番号").fill("2100000004")
    phone.get_by_label("資料番号（バーコード）").fill(barcode)
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("status")).to_contain_text("貸出しました")
    assert phone.evaluate("document.activeElement.id") == "barcode"
    phone.keyboard.type("NO-SUCH-ITEM")
    phone.keyboard.press("Enter")
    expect(phone.locator("#counter-status")).to_contain_text("この資料番号は登録されていません")
    expect(phone.locator("li.scan-ok")).to_have_count(1)
    assert phone.evaluate("document.activeElement.id") == "barcode"
    assert re.search(r"2100000004", phone.locator("#card").input_value())
    assert phone.csp_errors == []  # type: ignore[attr-defined]
