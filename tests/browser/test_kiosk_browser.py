"""Library kiosks in a real browser, with the page's clock under the test's control (no
real waiting): an enrolled terminal's patron walks away and the browser leaves by itself;
"Continue" keeps the session; a browser that is not enrolled is a home PC; the shelf slip
prints on an 80 mm page; a manager enrols a terminal from the console and revokes it."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pypdf import PdfReader
from sqlalchemy import text

from db import engine
from db.patrons import DEMO_PATRONS
from tests import kiosk
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_pull_list_browser import enrol_manager, page_sizes
from tests.conftest import Database

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
HANAKO = (DEMO_PATRONS[0].patron.card_number, DEMO_PATRONS[0].password)
TARO = (DEMO_PATRONS[1].patron.card_number, DEMO_PATRONS[1].password)
FIRST_SEARCH = "吾輩は猫である"  # what the first person searched for
# A countdown is due 120 s (the idle timeout) - 11 s (the server's touch interval + 1)
# - 30 s (the warning) after the page loaded.
BEFORE_COUNTDOWN_MS = 78_000
TO_COUNTDOWN_MS = 80_000


@pytest.fixture
def server(library_db: Database) -> Iterator[str]:
    proc, base = start_server(library_db.url)
    yield base
    stop_server(proc)


def _context(browser: Browser) -> BrowserContext:
    return browser.new_context(
        viewport={"width": 1080, "height": 1400}, has_touch=True, locale="ja-JP"
    )


@pytest.fixture
def terminal(browser: Browser) -> Iterator[Page]:
    context = _context(browser)
    page = watch_csp(context.new_page())
    page.clock.install()
    yield page
    context.close()


@pytest.fixture
def home_pc(browser: Browser) -> Iterator[Page]:
    context = _context(browser)
    page = watch_csp(context.new_page())
    page.clock.install()
    yield page
    context.close()


def axe(page: Page) -> list[str]:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return found


def enrol_here(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/kiosk/enrol/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("このブラウザを館内端末にする")
    assert "/kiosk/enrol" in page.url and token not in page.url  # the token left the address
    assert axe(page) == []
    page.get_by_role("button", name="このブラウザを館内端末にする").click()
    page.wait_for_url(f"{base}/kiosk")


def log_in(page: Page, base: str, card: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#card").fill(card)
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(f"{base}/my")


def stored(page: Page) -> dict[str, str]:
    """What the site keeps in this browser's storage, but htmx's note of the page it is on."""
    found: dict[str, str] = page.evaluate(
        "() => Object.fromEntries([sessionStorage, localStorage].flatMap(s => Object.entries(s)))"
    )
    found.pop("htmx-current-path-for-history", None)
    return found


def sessions_of(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM web_session s JOIN patron p ON p.id = s.patron_id "
                    "WHERE p.card_number = :c"
                ),
                {"c": card},
            ).scalar_one()
        )


def test_a_patron_walks_away_and_the_kiosk_leaves_by_itself(terminal: Page, server: str) -> None:
    enrol_here(terminal, server, kiosk.new_terminal())
    # The start page: a big search box, today's hours, the floor guide; big targets.
    expect(terminal.get_by_role("heading", name="本日の開館時間", exact=False)).to_be_visible()
    expect(terminal.get_by_text("一般書架: 2階")).to_be_visible()
    for target in terminal.locator(".kiosk-links a, .kiosk-search button, #kiosk-q").all():
        box = target.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44
    assert axe(terminal) == []

    # The first person searches, anonymously, then logs in: a shared-terminal login.
    terminal.locator("#kiosk-q").fill(FIRST_SEARCH)
    terminal.locator("#kiosk-q").press("Enter")
    terminal.wait_for_url(re.compile(r".*/search\?q=.*"))
    terminal.goto(f"{server}/login")
    expect(terminal.locator("#kiosk-login-note")).to_contain_text("自動的にログアウト")
    expect(terminal.locator("#booklist-remember-field")).to_have_count(0)
    assert terminal.locator("#card").get_attribute("autocomplete") == "off"
    assert terminal.locator("#password").get_attribute("autocomplete") == "off"
    assert axe(terminal) == []
    log_in(terminal, server, *HANAKO)
    assert not [c for c in terminal.context.cookies() if c["name"] == "shiori_device"]
    terminal.goto(f"{server}/my/loans")
    expect(terminal.get_by_text("返却期限").first).to_be_visible()
    assert sessions_of(HANAKO[0]) == 1

    # Walks away. Just before the countdown nothing shows; then it is announced, with the
    # focus in the dialog.
    terminal.clock.run_for(BEFORE_COUNTDOWN_MS)
    expect(terminal.locator("#kiosk-idle")).not_to_be_visible()
    terminal.clock.run_for(TO_COUNTDOWN_MS - BEFORE_COUNTDOWN_MS)
    dialog = terminal.get_by_role("dialog", name="まだお使いですか？")
    expect(dialog).to_be_visible()
    expect(terminal.locator("#kiosk-idle-live")).to_have_attribute("aria-live", "assertive")
    expect(terminal.locator("#kiosk-idle-live")).to_contain_text("秒でログアウトします")
    assert terminal.evaluate("document.activeElement.id") == "kiosk-continue"
    assert axe(terminal) == []

    # Nothing touched: the browser logs out and shows the start page.
    terminal.clock.run_for(31_000)
    terminal.wait_for_url(f"{server}/kiosk?logged_out=1")
    expect(terminal.get_by_role("status")).to_have_text("ログアウトしました。")
    assert sessions_of(HANAKO[0]) == 0  # the server session is gone
    assert stored(terminal) == {}
    # Back shows no personal page: the loans page was replaced in the history, and what
    # lies behind it is asked for again (no-store) and needs a login.
    terminal.go_back()
    expect(terminal.locator("main")).not_to_contain_text("返却期限")
    assert "/my" not in terminal.url.split("?")[0]
    assert "山田" not in terminal.content()

    # The next person logs in: nothing of the first person's searches anywhere.
    terminal.goto(f"{server}/kiosk")
    assert terminal.locator("#kiosk-q").input_value() == ""
    log_in(terminal, server, *TARO)
    for path in ("/my", "/", "/kiosk", "/my/loans"):
        terminal.goto(server + path)
        assert FIRST_SEARCH not in terminal.content()
        assert FIRST_SEARCH not in str(stored(terminal))
        for field in terminal.locator("input[type=search], input[type=text]").all():
            assert field.input_value() == ""
    assert stored(terminal) == {}
    assert terminal.csp_errors == []  # type: ignore[attr-defined]


def test_back_after_a_kiosk_leaves_finds_nothing_of_the_person_before(
    terminal: Page, server: str
) -> None:
    with engine.read() as conn:
        title = (
            conn.execute(
                text("SELECT w.title FROM work w JOIN item i ON i.work_id = w.id ORDER BY w.id")
            )
            .scalars()
            .first()
        )
    assert title
    enrol_here(terminal, server, kiosk.new_terminal())
    # The first person moves about by the site's own links and forms, as a person would:
    # a search, a second one on the results page (an htmx swap that pushes its address
    # elsewhere), a record, the login, the loans.
    terminal.locator("#kiosk-q").fill(FIRST_SEARCH)
    terminal.locator("#kiosk-q").press("Enter")
    terminal.wait_for_url(re.compile(".*/search\\?q=" + re.escape(quote(FIRST_SEARCH))))
    terminal.locator("#q").fill(title)
    terminal.locator("#q").press("Enter")
    terminal.wait_for_url(re.compile(".*/search\\?q=" + re.escape(quote(title)) + ".*"))
    terminal.get_by_role("link", name=title, exact=True).first.click()
    terminal.wait_for_url(re.compile(r".*/records/\d+.*"))
    expect(terminal.get_by_role("heading", level=1)).to_have_text(title)
    terminal.locator(".site-header a[href='/login']").click()
    terminal.wait_for_url(f"{server}/login")
    terminal.locator("#card").fill(HANAKO[0])
    terminal.locator("#password").fill(HANAKO[1])
    terminal.locator("form[action='/login'] button[type=submit]").click()
    terminal.wait_for_url(re.compile(rf"{re.escape(server)}/(my|records/).*"))
    terminal.goto(f"{server}/my")  # where a person would go next (the login may return)
    terminal.locator("main a[href='/my/loans']").first.click()
    terminal.wait_for_url(f"{server}/my/loans")
    expect(terminal.get_by_text("返却期限").first).to_be_visible()

    # Walks away: the kiosk returns to its start page.
    terminal.clock.run_for(TO_COUNTDOWN_MS + 31_000)
    terminal.wait_for_url(f"{server}/kiosk?logged_out=1")

    # The next person presses Back until there is nowhere left to go: no page and no
    # address shows the first person's search, record or anything personal.
    seen = []
    for _ in range(20):
        if terminal.go_back() is None:
            break
        seen.append(terminal.url)
        words = terminal.content()
        for secret in (FIRST_SEARCH, title, "山田", "返却期限"):
            assert secret not in words, (terminal.url, secret)
        assert "/search" not in terminal.url and "/records/" not in terminal.url
        assert "/my" not in terminal.url
    else:
        pytest.fail(f"Back never ran out: {seen}")
    assert terminal.csp_errors == []  # type: ignore[attr-defined]


def test_continue_keeps_the_session(terminal: Page, server: str) -> None:
    enrol_here(terminal, server, kiosk.new_terminal())
    log_in(terminal, server, *HANAKO)
    terminal.clock.run_for(TO_COUNTDOWN_MS)
    expect(terminal.locator("#kiosk-idle")).to_be_visible()
    terminal.keyboard.press("Enter")  # the focus is on "Continue"
    expect(terminal.locator("#kiosk-idle")).not_to_be_visible()
    # Past the moment the first countdown would have ended: still here, still logged in.
    terminal.clock.run_for(60_000)
    assert terminal.url == f"{server}/my"
    assert sessions_of(HANAKO[0]) == 1
    # Touch works too: the countdown again (counted from "Continue"), a tap on "Continue".
    terminal.clock.run_for(TO_COUNTDOWN_MS - 60_000)
    expect(terminal.locator("#kiosk-idle")).to_be_visible()
    terminal.locator("#kiosk-continue").tap()
    expect(terminal.locator("#kiosk-idle")).not_to_be_visible()
    terminal.reload()
    expect(terminal.get_by_text("山田 花子").first).to_be_visible()
    # "Log out now" leaves at once.
    terminal.clock.run_for(TO_COUNTDOWN_MS)
    terminal.get_by_role("button", name="今すぐログアウト").click()
    terminal.wait_for_url(f"{server}/kiosk?logged_out=1")
    assert sessions_of(HANAKO[0]) == 0


def test_an_anonymous_kiosk_goes_back_to_its_start_page(terminal: Page, server: str) -> None:
    enrol_here(terminal, server, kiosk.new_terminal())
    terminal.locator("#kiosk-q").fill(FIRST_SEARCH)
    terminal.locator("#kiosk-q").press("Enter")
    terminal.wait_for_url(re.compile(r".*/search\?q=.*"))
    terminal.clock.run_for(90_000)  # 120 s with nobody there: the countdown
    expect(terminal.get_by_role("dialog")).to_be_visible()
    expect(terminal.locator("#kiosk-idle-live")).to_contain_text("はじめの画面に戻ります")
    terminal.clock.run_for(31_000)
    terminal.wait_for_url(f"{server}/kiosk")
    assert terminal.locator("#kiosk-q").input_value() == ""
    # The bare start page is where it would go anyway: no countdown there.
    terminal.clock.run_for(300_000)
    expect(terminal.get_by_role("dialog")).not_to_be_visible()
    # Someone typing and walking away: back to a clean start page.
    terminal.locator("#kiosk-q").fill("途中まで")
    terminal.clock.run_for(121_000)
    expect(terminal.locator("#kiosk-q")).to_have_value("")


def test_a_browser_that_is_not_enrolled_is_a_home_pc(home_pc: Page, server: str) -> None:
    home_pc.goto(f"{server}/login")
    expect(home_pc.locator("#kiosk-login-note")).to_have_count(0)
    expect(home_pc.locator("#booklist-remember-field")).to_be_visible()
    assert home_pc.locator("#card").get_attribute("autocomplete") == "username"
    log_in(home_pc, server, *HANAKO)
    assert [c for c in home_pc.context.cookies() if c["name"] == "shiori_device"]
    expect(home_pc.locator("#kiosk-idle")).to_have_count(0)
    home_pc.clock.run_for(300_000)  # five minutes: nothing happens in the browser
    assert home_pc.url == f"{server}/my"
    home_pc.reload()
    expect(home_pc.get_by_text("山田 花子").first).to_be_visible()
    assert sessions_of(HANAKO[0]) == 1
    # A forged terminal cookie makes no kiosk.
    home_pc.context.add_cookies(
        [{"name": "shiori_terminal", "value": "WzEsICJ4Il0.forged", "url": server}]
    )
    home_pc.goto(f"{server}/kiosk")
    expect(home_pc.locator("#kiosk-idle")).to_have_count(0)


def test_the_shelf_slip_prints_on_80_mm(terminal: Page, server: str) -> None:
    with engine.read() as conn:
        work_id, title, call_number = conn.execute(
            text(
                "SELECT w.id, w.title, i.call_number FROM work w JOIN item i ON i.work_id = w.id "
                "JOIN branch b ON b.id = i.branch_id WHERE b.code = 'sogo' "
                "AND i.call_number <> '' ORDER BY w.id LIMIT 1"
            )
        ).one()
    enrol_here(terminal, server, kiosk.new_terminal())
    terminal.goto(f"{server}/records/{work_id}")
    terminal.get_by_role("link", name="棚案内票（印刷・QRコード）").click()
    expect(terminal.get_by_role("heading", level=1)).to_have_text(title)
    expect(terminal.get_by_role("img", name=re.compile("QRコード"))).to_be_visible()
    expect(terminal.get_by_role("button", name="案内票を印刷")).to_be_visible()
    assert axe(terminal) == []
    terminal.emulate_media(media="print")
    expect(terminal.locator(".site-header")).to_be_hidden()
    pdf = terminal.pdf(prefer_css_page_size=True)
    assert page_sizes(pdf) == {(80, 200)}
    words = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)

    def flat(value: str) -> str:  # the PDF's fonts name some kanji by their radical (⽂)
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))

    assert flat(title) in flat(words)
    assert flat(call_number) in flat(words)
    assert "棚案内票" in flat(words) and "総合市" in flat(words)
    assert "ログアウト" not in flat(words)  # neither the header nor the countdown is printed
    assert terminal.csp_errors == []  # type: ignore[attr-defined]


def test_a_manager_enrols_a_terminal_and_revokes_it(
    browser: Browser, terminal: Page, server: str
) -> None:
    desk_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    desk = watch_csp(desk_context.new_page())
    enrol_manager(desk, server)
    desk.goto(f"{server}/staff/")
    desk.get_by_role("link", name="館内端末").click()
    assert axe(desk) == []
    desk.get_by_role("link", name="館内端末を登録").click()
    desk.get_by_label("端末名").fill("南 OPAC 2")
    desk.get_by_label("館").select_option("minami")
    desk.get_by_label("設置場所").fill("1階 入口")
    desk.get_by_label("フロア案内").fill("児童書: 1階\n一般開架: 2階")
    assert axe(desk) == []
    desk.get_by_role("button", name="保存").click()
    link = desk.locator(".enrol-link code").inner_text()
    assert link.startswith(f"{server}/kiosk/enrol/")  # the configured public URL
    assert axe(desk) == []

    terminal.goto(link)
    terminal.get_by_role("button", name="このブラウザを館内端末にする").click()
    terminal.wait_for_url(f"{server}/kiosk")
    expect(terminal.get_by_text("児童書: 1階")).to_be_visible()
    expect(terminal.locator("#kiosk-idle")).to_have_count(1)
    terminal.goto(link)  # single use
    expect(terminal.locator("main")).to_contain_text("この登録リンクは使えません")

    desk.goto(f"{server}/staff/terminals")
    expect(desk.get_by_role("cell", name=re.compile("登録済み"))).to_be_visible()
    desk.get_by_role("button", name=re.compile("^解除.*南 OPAC 2$")).click()
    expect(desk.get_by_role("cell", name=re.compile("解除済み"))).to_be_visible()
    terminal.goto(f"{server}/login")  # a home PC again
    expect(terminal.locator("#kiosk-idle")).to_have_count(0)
    expect(terminal.locator("#booklist-remember-field")).to_be_visible()
    with engine.read() as conn:
        actions = conn.execute(
            text("SELECT action FROM staff_audit WHERE screen = 'terminals' ORDER BY id")
        ).scalars()
        assert list(actions) == ["terminal_create", "terminal_revoke"]
    assert desk.csp_errors == [] and terminal.csp_errors == []  # type: ignore[attr-defined]
    desk_context.close()
