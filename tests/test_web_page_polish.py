"""Issue 20, pages: GET /logout offers the logout button, the login error is one short line
in the page's language, the header's menu, the icons, the material-type marks on result
rows, and the audit log's branches in words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from scripts.make_icons import touch_icon
from tests import test_web_staff
from tests.test_web_account import HANAKO, csrf_of, log_in
from tests.test_web_staff import Console
from web import cli
from web.settings import load as load_settings

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

ROOT = Path(__file__).resolve().parents[1]


def _main(page: str) -> str:
    return page.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def test_get_logout_offers_the_button_and_the_post_logs_out(web: TestClient) -> None:
    assert log_in(web, *HANAKO).status_code == 303  # type: ignore[attr-defined]
    page = web.get("/logout")
    assert page.status_code == 200
    main = _main(page.text)
    assert "ログアウトしますか" in main
    form = re.search(r'<form method="post" action="/logout"[^>]*>(.*?)</form>', main, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert page.headers["cache-control"] == "no-store"
    # GET changed nothing: the patron is still logged in until the button is pressed.
    assert web.get("/my", follow_redirects=False).status_code == 200
    done = web.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    assert web.get("/my", follow_redirects=False).status_code == 303


def test_get_logout_without_a_login_says_so_in_the_page_language(web: TestClient) -> None:
    page = web.get("/logout")
    assert page.status_code == 200
    assert "ログインしていません" in _main(page.text)
    assert 'action="/logout"' not in _main(page.text)
    web.cookies.set("shiori_lang", "en")
    english = _main(web.get("/logout").text)
    assert "You are not logged in on this browser." in english
    assert "ログイン" not in english  # one language per page


def test_login_error_is_one_short_line_in_the_page_language(web: TestClient) -> None:
    for lang, short, other in (
        ("ja", "カード番号またはパスワードが違います。", "wrong"),
        ("en", "The card number or password is wrong.", "パスワード"),
    ):
        web.cookies.set("shiori_lang", lang)
        page = log_in(web, HANAKO[0], "not-the-password")
        assert page.status_code == 422  # type: ignore[attr-defined]
        error = re.search(r'<p class="form-errors">([^<]*)</p>', page.text)  # type: ignore[attr-defined]
        assert error and error.group(1) == short
        assert len(short) <= 40  # one line on a 390 px phone
        block = page.text.split('id="login-error"', 1)[1].split("</div>", 1)[0]  # type: ignore[attr-defined]
        assert other not in block


def test_header_menu_favicon_and_touch_icon(web: TestClient) -> None:
    page = web.get("/")
    header = page.text.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]
    # One <details> menu (works without JavaScript); the language switch outside it.
    assert header.count("<details") == 1 and "<summary>" in header
    assert header.index('class="site-lang"') < header.index("<details")
    assert 'href="/login"' in header.split("<details", 1)[1]
    # Static files are linked under the release's fingerprint (web/static_version.py).
    assert re.search(r'rel="icon" href="/static/[0-9a-f]{12}/favicon.svg"', page.text)
    assert re.search(
        r'rel="apple-touch-icon" href="/static/[0-9a-f]{12}/apple-touch-icon.png"', page.text
    )
    svg = web.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    png = web.get("/static/apple-touch-icon.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # The committed icon is what our own script draws (scripts/make_icons.py).
    assert png.content == touch_icon()


def test_result_rows_name_their_material_type_with_a_mark(client: TestClient) -> None:
    web = client
    page = web.get("/search", params={"q": "夏目漱石"})
    marks = re.findall(r'<li class="material-mark">(.*?)</li>', page.text)
    assert marks, "no material-type marks on the result rows"
    assert all(re.search(r'<use href="/static/[0-9a-f]{12}/icons.svg#mt-', m) for m in marks)
    words = {re.sub(r"<svg.*?</svg>", "", m).strip() for m in marks}
    assert words <= {"図書", "文庫", "児童書", "参考図書（館内のみ）", "視聴覚資料"}, words
    web.cookies.set("shiori_lang", "en")
    english = web.get("/search", params={"q": "夏目漱石"}).text
    assert "Paperback (bunko)" in english or "Book" in english


def test_advanced_search_panel_has_a_disclosure_marker() -> None:
    css = (ROOT / "static" / "site.css").read_text("utf-8")
    assert 'details.advanced summary::before { content: "▶"' in css
    assert "details.advanced[open] summary::before { transform: rotate(90deg); }" in css


def test_staff_get_logout_offers_the_button(team: dict[str, Console], app: object) -> None:
    manager = team["manager"]
    page = manager.get("/staff/logout")
    assert page.status_code == 200  # type: ignore[attr-defined]
    main = _main(page.text)  # type: ignore[attr-defined]
    assert 'action="/staff/logout"' in main and 'name="csrf_token"' in main
    assert manager.get("/staff/").status_code == 200  # type: ignore[attr-defined]
    assert manager.post("/staff/logout", "/staff/logout").status_code == 303  # type: ignore[attr-defined]
    again = manager.get("/staff/logout")
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert "ログインしていません" in _main(again.text)  # type: ignore[attr-defined]
    anonymous = TestClient(app)  # type: ignore[arg-type]
    anonymous.cookies.set("shiori_lang", "en")
    assert "You are not logged in" in anonymous.get("/staff/logout").text


def test_audit_log_names_branches_in_the_page_language(team: dict[str, Console]) -> None:
    manager = team["manager"]
    page = manager.get("/staff/audit")
    cells = re.findall(
        r'<tr class="audit-row">\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>(.*?)</td>', page.text, re.S
    )  # type: ignore[attr-defined]
    assert cells, "no audit rows to look at"
    assert "総合市民図書館" in cells and "sogo" not in cells
    english = manager.speaking("en").get("/staff/audit").text  # type: ignore[attr-defined]
    assert "sogo</td>" not in english


def test_public_url_defaults_to_the_served_host_and_port() -> None:
    base = {"SHIORI_DATABASE_URL": "sqlite:////tmp/x.db"}
    assert load_settings(base).public_url == "http://127.0.0.1:8000"
    served = load_settings(base | {"SHIORI_PORT": "8123"})
    assert served.public_url == "http://127.0.0.1:8123" and not served.public_url_configured
    lan = load_settings(base | {"SHIORI_HOST": "192.168.10.5", "SHIORI_PORT": "8123"})
    assert lan.public_url == "http://192.168.10.5:8123"
    everywhere = load_settings(base | {"SHIORI_HOST": "0.0.0.0", "SHIORI_PORT": "8123"})
    assert everywhere.public_url == "http://127.0.0.1:8123"
    given = load_settings(base | {"SHIORI_PUBLIC_URL": "https://opac.example.jp/"})
    assert given.public_url == "https://opac.example.jp" and given.public_url_configured


def test_enrolment_link_page_says_when_the_public_url_is_missing(
    team: dict[str, Console],
) -> None:
    response = team["manager"].post(
        "/staff/accounts/new",
        "/staff/accounts/new",
        staff_code="LNK01",
        name="職員 LNK01",
        affiliation="奉仕係",
        branch="minami",
        role="staff",
    )
    assert response.status_code == 200  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    link = re.search(r'<p class="enrol-link"><code>([^<]+)</code>', page)
    assert link and link.group(1).startswith("http://127.0.0.1:8000/staff/enrol/")
    assert "SHIORI_PUBLIC_URL が設定されていないため" in page
    assert "http://127.0.0.1:8000" in page.split('role="note"', 1)[1]


def test_create_manager_says_which_address_its_link_names(
    library_db: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", library_db.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("SHIORI_PORT", "8123")
    monkeypatch.delenv("SHIORI_PUBLIC_URL", raising=False)
    argv = ["staff", "create-manager", "--staff-id", "M009", "--name", "管理 九郎"]
    assert cli.main([*argv, "--branch", "sogo"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1].startswith("http://127.0.0.1:8123/staff/enrol/")
    assert "SHIORI_PUBLIC_URL is not set" in err and "http://127.0.0.1:8123" in err


def test_about_page_is_in_one_language(web: TestClient) -> None:
    japanese = _main(web.get("/about").text)
    assert "「青空文庫」" in japanese and "国立国会図書館書誌データをもとに作成" in japanese
    assert 'lang="en"' not in japanese and "Library of Congress" not in japanese
    web.cookies.set("shiori_lang", "en")
    english = _main(web.get("/about").text)
    assert "Library of Congress catalog records" in english
    # The credits the sources ask for stay as they ask, marked as Japanese.
    assert '<span lang="ja">「青空文庫」</span>' in english
    assert "作家別作品一覧" not in english and "掲載しています" not in english
