"""My Booklist in real Chromium: encrypted in the browser, synced between devices, kept
through a password change, lost (with a warning first) or restored on a reset, merged when
two devices save at once — and nothing readable ever reaches the server or its database.

These tests run their own server (module scope) on a private copy of the demo catalog, so
they can read its database and sign password-reset links with its secret key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import queries
from tests import kiosk as kiosk_helpers
from tests.browser.conftest import open_site_menu, start_server, stop_server, watch_csp
from tests.conftest import _drop_pg_database, copy_database

pytestmark = pytest.mark.browser

SECRET = "booklist-browser-test-secret-key-0123456789"
HANAKO = ("2100000001", "hon-wo-yomu-2026")
TARO = ("2100000002", "tosho-kan-taro-7")
MISAKI = ("2100000004", "misaki-no-hon-99")
XSS_NOTE = '<img src=x onerror="window.__xss=1">メモ-SECRETNOTE-7f3a'
GROUP = "読みたい-SECRETGROUP-91c2"


@dataclass
class Server:
    base: str
    db_url: str
    sqlite_path: Path | None


@dataclass
class Spy:
    """Every request body the browser sent (what could carry plaintext to the server)."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __call__(self, request: Request) -> None:
        self.bodies.append((request.url, request.post_data_buffer or b""))
        self.requests.append(request)

    def availability_headers(self) -> list[dict[str, str]]:
        """The headers the browser really sent with each availability lookup."""
        return [r.all_headers() for r in self.requests if r.url.endswith("/booklist/availability")]


@pytest.fixture(scope="module")
def server(_catalog_template: str, db_dir: Path) -> Iterator[Server]:
    url, pg_name = copy_database(_catalog_template, db_dir)
    sqlite_path = None if pg_name else Path(make_url(url).database or "")
    proc, base = start_server(url, SHIORI_SECRET_KEY=SECRET)
    queries.configure(url)
    yield Server(base, url, sqlite_path)
    stop_server(proc)
    if pg_name:
        _drop_pg_database(pg_name)
    queries.dispose()


def _context(browser: Browser, phone: bool = False) -> BrowserContext:
    if phone:
        return browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="ja-JP",
        )
    return browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")


def _page(context: BrowserContext) -> Page:
    return watch_csp(context.new_page())


def _login(page: Page, base: str, who: tuple[str, str], keep_key: bool = True) -> None:
    page.goto(base + "/login")
    page.get_by_label("利用者カード番号").fill(who[0])
    page.get_by_label("パスワード", exact=True).fill(who[1])
    keep = page.locator("#booklist_remember")
    expect(keep).to_be_visible()  # shown by booklist-login.js
    if not keep_key:
        keep.uncheck()
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/my")


def _logout(page: Page) -> None:
    open_site_menu(page)
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url("**/?logged_out=1")


def _hits(page: Page, base: str, query: str, n: int) -> list[tuple[int, str]]:
    page.goto(f"{base}/search?q={query}")
    links = page.locator("li.hit a.hit-title")
    out = []
    for i in range(n):
        href = links.nth(i).get_attribute("href") or ""
        out.append((int(href.split("/records/")[1].split("?")[0]), links.nth(i).inner_text()))
    return out


def _add_hit(page: Page, index: int) -> None:
    hit = page.locator("li.hit").nth(index)
    hit.get_by_role("button", name="マイブックリストに追加").click()
    expect(hit.locator(".booklist-add-status")).to_have_text("マイブックリストに追加しました。")


def _titles(page: Page) -> list[str]:
    page.locator("#booklist-main").wait_for(state="visible")
    return sorted(page.locator("#booklist-entries .entry-title").all_inner_texts())


def _entry(page: Page, record_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f'#booklist-entries li[data-record-id="{record_id}"]')


def _patron_id(card: str) -> int:
    hit = [p for p in (HANAKO, TARO, MISAKI) if p[0] == card]
    assert hit
    from db import engine

    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def _reset_link(server: Server, card: str) -> str:
    """What the patron would get by email: a link with a random token (as web.password
    makes it)."""
    pid = _patron_id(card)
    email = queries.get_my_account(pid).email
    assert email, "this demo patron needs an email address"
    links: list[str] = []

    def make(token: str) -> str:
        links.append(f"{server.base}/password/reset?token={token}")
        return links[-1]

    queries.request_password_reset(card, email, "127.0.0.9", make)
    assert links
    return links[-1]


def _raw_database(server: Server) -> bytes:
    """Every byte the database holds: the SQLite file and its WAL, or every PostgreSQL row."""
    if server.sqlite_path is not None:
        data = server.sqlite_path.read_bytes()
        wal = server.sqlite_path.with_name(server.sqlite_path.name + "-wal")
        return data + (wal.read_bytes() if wal.exists() else b"")
    engine = create_engine(server.db_url)
    chunks = []
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        for table in list(tables):
            rows = conn.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
            chunks.extend(r.encode() for r in rows)
    engine.dispose()
    return b"\n".join(chunks)


def _booklist_row_bytes(server: Server) -> bytes:
    engine = create_engine(server.db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM booklist")).all()
    engine.dispose()
    out = b""
    for row in rows:
        for value in row:
            out += bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
    return out


def test_phone_three_books_second_browser_ciphertext_only_then_reset_loses_it(
    browser: Browser, server: Server
) -> None:
    spy = Spy()
    phone_ctx = _context(browser, phone=True)
    phone = _page(phone_ctx)
    phone.on("request", spy)
    _login(phone, server.base, HANAKO)
    hits = _hits(phone, server.base, "の", 3)
    for i in range(3):
        _add_hit(phone, i)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.goto(server.base + "/my/booklist")
    assert _titles(phone) == sorted(t for _, t in hits)
    first = _entry(phone, hits[0][0])
    first.get_by_label("メモ").fill(XSS_NOTE)
    first.get_by_label("グループ").fill(GROUP)
    first.get_by_role("button", name="保存").click()
    expect(phone.locator("#booklist-status")).to_have_text("保存しました。")
    expect(phone.locator("#booklist-entries .entry-availability").first).to_contain_text("所蔵")
    # The lookup is sent without cookies: the server cannot tie the titles to the session.
    lookups = spy.availability_headers()
    assert lookups and all("cookie" not in headers for headers in lookups), lookups
    assert phone.context.cookies(), "the browser does hold the login cookie"

    phone.reload()
    assert _titles(phone) == sorted(t for _, t in hits)
    first = _entry(phone, hits[0][0])
    expect(first.get_by_label("メモ")).to_have_value(XSS_NOTE)  # the text itself…
    assert phone.locator("#booklist img").count() == 0  # …never HTML
    assert phone.evaluate("window.__xss") is None
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    # A second browser: an ordinary login, then the booklist page asks for the password.
    desk_ctx = _context(browser)
    desk = _page(desk_ctx)
    desk.on("request", spy)
    _login(desk, server.base, HANAKO, keep_key=False)
    desk.goto(server.base + "/my/booklist")
    desk.get_by_label("パスワード", exact=True).fill(HANAKO[1])
    desk.locator("#booklist-keep").uncheck()
    desk.get_by_role("button", name="開く").click()
    assert _titles(desk) == sorted(t for _, t in hits)
    expect(_entry(desk, hits[0][0]).get_by_label("メモ")).to_have_value(XSS_NOTE)
    desk_state = desk.evaluate("fetch('/my/booklist/state').then(r => r.text())")

    # Nothing readable left the browsers or reached the database.
    secrets = [XSS_NOTE, "SECRETNOTE-7f3a", "SECRETGROUP-91c2"]
    for url, body in spy.bodies:
        for secret in secrets:
            assert secret.encode() not in body, url
        if "/my/booklist/" in url:
            for _, title in hits:
                assert title.encode() not in body, url
    assert any("/my/booklist/save" in url for url, _ in spy.bodies)
    for secret in ["SECRETNOTE-7f3a", "SECRETGROUP-91c2", *(t for _, t in hits)]:
        assert secret not in desk_state
    raw = _raw_database(server)
    for secret in secrets:
        assert secret.encode() not in raw
    row = _booklist_row_bytes(server)
    assert row
    for _, title in hits:
        assert title.encode() not in row
    assert phone.csp_errors == [] and desk.csp_errors == []  # type: ignore[attr-defined]
    desk_ctx.close()

    # Forgotten password, no recovery key: the reset page says so before anything happens.
    _logout(phone)
    phone.goto(_reset_link(server, HANAKO[0]))
    warning = phone.locator("#booklist-loss-warning")
    expect(warning).to_contain_text("マイブックリストは消去されます")
    phone.get_by_label("新しいパスワード", exact=True).fill("sora-no-hon-2027")
    phone.get_by_label("新しいパスワード（確認）").fill("sora-no-hon-2027")
    phone.get_by_role("button", name="パスワードを登録").click()
    expect(phone.locator("#booklist-loss-warning .field-error")).to_be_visible()
    assert queries.get_booklist(_patron_id(HANAKO[0])) is not None  # not yet
    phone.get_by_label("マイブックリストが消去されることを理解しました").check()
    phone.get_by_label("新しいパスワード", exact=True).fill("sora-no-hon-2027")
    phone.get_by_label("新しいパスワード（確認）").fill("sora-no-hon-2027")
    phone.get_by_role("button", name="パスワードを登録").click()
    phone.wait_for_url("**/login")
    assert queries.get_booklist(_patron_id(HANAKO[0])) is None
    _login(phone, server.base, (HANAKO[0], "sora-no-hon-2027"))
    phone.goto(server.base + "/my/booklist")
    expect(phone.locator("#booklist-empty")).to_be_visible()
    assert _titles(phone) == []
    phone_ctx.close()


def test_two_devices_saving_at_once_lose_nothing(browser: Browser, server: Server) -> None:
    a_ctx, b_ctx = _context(browser), _context(browser, phone=True)
    a, b = _page(a_ctx), _page(b_ctx)
    _login(a, server.base, TARO)
    hits = _hits(a, server.base, "夏目", 4)
    _add_hit(a, 0)
    _login(b, server.base, TARO)  # the list exists: its key is unlocked at login
    a.goto(server.base + "/my/booklist")
    b.goto(server.base + "/my/booklist")
    assert _titles(a) == _titles(b) == [hits[0][1]]
    # Both pages hold the same version; A saves first, B's save is stale and is merged.
    _entry(a, hits[0][0]).get_by_label("メモ").fill("A のメモ")
    _entry(a, hits[0][0]).get_by_role("button", name="保存").click()
    expect(a.locator("#booklist-status")).to_have_text("保存しました。")
    _entry(b, hits[0][0]).get_by_label("グループ").fill("読んだ")
    _entry(b, hits[0][0]).get_by_role("button", name="保存").click()
    expect(b.locator("#booklist-status")).to_have_text("ほかの端末での変更とまとめて保存しました。")
    # And truly at once: each device adds different records without waiting for the other.
    for page in (a, b):
        page.goto(f"{server.base}/search?q=夏目")
    a.locator("li.hit").nth(1).get_by_role("button", name="マイブックリストに追加").click()
    b.locator("li.hit").nth(2).get_by_role("button", name="マイブックリストに追加").click()
    a.locator("li.hit").nth(3).get_by_role("button", name="マイブックリストに追加").click()
    for page, index in ((a, 1), (b, 2), (a, 3)):
        expect(page.locator("li.hit").nth(index).locator(".booklist-add-status")).to_have_text(
            "マイブックリストに追加しました。"
        )
    for page in (a, b):
        page.goto(server.base + "/my/booklist")
        assert _titles(page) == sorted(t for _, t in hits)
        entry = _entry(page, hits[0][0])
        expect(entry.get_by_label("メモ")).to_have_value("A のメモ")
        expect(entry.get_by_label("グループ")).to_have_value("読んだ")
    a_ctx.close()
    b_ctx.close()

    # A shared terminal keeps the key only in the page's memory: never in IndexedDB. Issue 15:
    # a library terminal is a browser a manager enrolled, not a box ticked at login, and its
    # login form offers no "keep the key" at all.
    kiosk_ctx = _context(browser)
    kiosk = _page(kiosk_ctx)
    kiosk.goto(f"{server.base}/kiosk/enrol/{kiosk_helpers.new_terminal()}")
    kiosk.get_by_role("button", name="このブラウザを館内端末にする").click()
    kiosk.wait_for_url(server.base + "/kiosk")
    kiosk.goto(server.base + "/login")
    kiosk.get_by_label("利用者カード番号").fill(TARO[0])
    kiosk.get_by_label("パスワード", exact=True).fill(TARO[1])
    expect(kiosk.locator("#booklist_remember")).to_have_count(0)
    kiosk.get_by_role("button", name="ログイン").click()
    kiosk.wait_for_url("**/my")
    kiosk.goto(server.base + "/my/booklist")
    expect(kiosk.locator("#booklist-keep")).to_be_hidden()
    kiosk.get_by_label("パスワード", exact=True).fill(TARO[1])
    kiosk.get_by_role("button", name="開く").click()
    assert _titles(kiosk) == sorted(t for _, t in hits)
    assert kiosk.evaluate("indexedDB.databases().then(d => d.map(x => x.name))") == []
    kiosk.reload()
    expect(kiosk.locator("#booklist-unlock")).to_be_visible()  # gone with the page
    assert kiosk.csp_errors == []  # type: ignore[attr-defined]
    kiosk_ctx.close()


def test_password_change_keeps_the_list_and_the_recovery_key_restores_it(
    browser: Browser, server: Server
) -> None:
    ctx = _context(browser, phone=True)
    page = _page(ctx)
    # A refused login through the script shows the server's answer, and a retry works.
    page.goto(server.base + "/login")
    page.get_by_label("利用者カード番号").fill(MISAKI[0])
    page.get_by_label("パスワード", exact=True).fill("not-the-password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("#login-error")).to_contain_text("パスワードが違います")
    assert page.url.endswith("/login")
    _login(page, server.base, MISAKI)
    hits = _hits(page, server.base, "宮沢", 1)
    page.goto(f"{server.base}/records/{hits[0][0]}")
    page.get_by_role("button", name="マイブックリストに追加").click()
    expect(page.locator(".booklist-add-status")).to_have_text("マイブックリストに追加しました。")

    page.goto(server.base + "/my/password")
    page.get_by_label("現在のパスワード").fill(MISAKI[1])
    page.get_by_label("新しいパスワード", exact=True).fill("umi-no-hon-2028")
    page.get_by_label("新しいパスワード（確認）").fill("umi-no-hon-2028")
    page.get_by_role("button", name="変更する").click()
    page.wait_for_url("**/my")
    expect(page.get_by_text("パスワードを変更しました")).to_be_visible()
    _logout(page)
    assert page.evaluate("indexedDB.databases().then(d => d.map(x => x.name))") == []
    _login(page, server.base, (MISAKI[0], "umi-no-hon-2028"))
    page.goto(server.base + "/my/booklist")
    assert _titles(page) == [hits[0][1]]

    # A recovery key, shown once; then a forgotten password and a reset.
    page.locator("#booklist-recovery-password").fill("umi-no-hon-2028")
    page.get_by_role("button", name="リカバリーキーを作る").click()
    shown = page.locator("#booklist-recovery-code")
    expect(shown).to_have_text(re.compile(r"^([A-Z2-9]{4}-){7}[A-Z2-9]{4}$"))
    code = shown.inner_text()
    expect(page.locator("#booklist-recovery-set")).to_be_visible()
    page.get_by_role("button", name="保存しました（キーを隠す）").click()
    expect(page.locator("#booklist-recovery-code")).to_have_text("")
    _logout(page)
    page.goto(_reset_link(server, MISAKI[0]))
    expect(page.locator("#booklist-loss-warning")).to_contain_text("リカバリーキー")
    page.get_by_label("新しいパスワード", exact=True).fill("yama-no-hon-2029")
    page.get_by_label("新しいパスワード（確認）").fill("yama-no-hon-2029")
    page.get_by_role("button", name="パスワードを登録").click()
    page.wait_for_url("**/login")
    _login(page, server.base, (MISAKI[0], "yama-no-hon-2029"))
    page.goto(server.base + "/my/booklist")
    restore = page.locator("#booklist-restore")
    expect(restore).to_be_visible()
    restore.get_by_label("リカバリーキー").fill("XXXX-" + code[5:])
    restore.get_by_label("現在のパスワード").fill("yama-no-hon-2029")
    page.get_by_role("button", name="戻す").click()
    expect(page.locator("#booklist-restore-error")).to_contain_text("リカバリーキーが違います")
    restore.get_by_label("リカバリーキー").fill(code.lower())
    page.get_by_role("button", name="戻す").click()
    assert _titles(page) == [hits[0][1]]
    # Restored for good: a fresh login on another browser opens it with the new password.
    other = _page(_context(browser))
    _login(other, server.base, (MISAKI[0], "yama-no-hon-2029"))
    other.goto(server.base + "/my/booklist")
    assert _titles(other) == [hits[0][1]]
    assert page.csp_errors == [] and other.csp_errors == []  # type: ignore[attr-defined]
    other.context.close()
    ctx.close()
