"""/staff/mail in a real browser: axe finds no serious violations (WCAG 2.2 AA), and
re-sending a given-up mail announces itself, in Japanese, with no CSP errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from db import engine, outbox, queries
from db.clock import now
from db.queries import mail
from db.queries.second_factor import totp_code, totp_step
from tests.browser.conftest import start_server, stop_server
from tests.conftest import Database
from tests.smtp_sink import free_port, listed_for_staff, settings_for

pytestmark = pytest.mark.browser
PASSWORD = "mail-no-kanrisha-2026"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def staff_server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def given_up_mail() -> int:
    """A notice the relay never took within the retry period (its text kept)."""
    with engine.write() as conn:
        mail_id = outbox.enqueue(
            conn,
            kind="hold_ready",
            to_addr="hanako@example.jp",
            subject="【藤沢市図書館】ご案内",
            body="本文\n",
            now=now() - timedelta(days=3),
        )
    down = settings_for(free_port())
    assert mail.send_due(down, now() - timedelta(days=1)).deferred == 1
    mail.send_due(down, now())
    assert [f.id for f in listed_for_staff()] == [mail_id]
    return mail_id


def enrolled_manager(phone: Page, base: str) -> None:
    token = queries.create_first_manager(
        queries.StaffInput("M001", "管理 一郎", "", "sogo", "manager", (), None)
    )
    phone.goto(f"{base}/staff/enrol/{token}")
    phone.get_by_label("新しいパスワード", exact=True).fill(PASSWORD)
    phone.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
    phone.get_by_role("button", name="パスワードを設定").click()
    phone.wait_for_url("**/staff/mfa")
    secret = phone.locator("code.secret").inner_text()
    phone.get_by_label("確認コード").fill(totp_code(secret, totp_step(now())))
    phone.get_by_role("button", name="確認").click()
    phone.get_by_role("link", name="職員用画面へ進む").click()


def test_the_mail_screen_is_accessible_and_resends(phone: Page, staff_server: str) -> None:
    mail_id = given_up_mail()
    enrolled_manager(phone, staff_server)
    phone.get_by_role("link", name="届かなかったメール").first.click()
    expect(phone.get_by_role("heading", name="届かなかったメール")).to_be_visible()
    expect(phone.locator(f"#mail-{mail_id}")).to_contain_text("予約資料のご用意")
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    phone.evaluate(AXE.read_text("utf-8"))
    violations = phone.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == []
    phone.get_by_role("button", name=f"メール {mail_id} を再送").click()
    expect(phone.get_by_role("alert")).to_contain_text(f"メール {mail_id} を再送します")
    expect(phone.get_by_text("未達のメールはありません。")).to_be_visible()
    assert phone.csp_errors == []  # type: ignore[attr-defined]
