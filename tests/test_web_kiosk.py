"""Library kiosks over HTTP: the managers' terminal screens (only managers; CSRF; unknown
ids), the enrolment link (forged, reused, expired; the token leaves the address), the
terminal cookie (signed, HttpOnly, SameSite, Secure on https; a forged or revoked one makes
no kiosk), the terminal deciding kiosk logins, "Continue" moving the server's idle clock,
kiosk networks, the start page, the shelf slip and the pickup branch on a kiosk."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import text
from starlette.requests import Request
from starlette.testclient import TestClient

from db import engine, queries
from tests import kiosk, test_web_staff
from tests.conftest import Database, app_settings
from tests.test_web_account import HANAKO, log_in
from tests.test_web_holds import patron_id
from tests.test_web_i18n import _works_to_reserve
from tests.test_web_staff import Console
from web import access_log, terminals
from web.app import create_app
from web.settings import SettingsError, load

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

LINK = re.compile(r'<p class="enrol-link"><code>([^<]+)</code>')


def register(manager: Console, **fields: str) -> tuple[int, str]:
    """A terminal registered on the manager's screen: (its id, the enrolment link shown)."""
    values = {"name": "南 OPAC 1", "branch": "minami", "location": "1階", "floor_guide": ""}
    response = manager.post("/staff/terminals/new", "/staff/terminals/new", **values | fields)
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    found = LINK.search(response.text)  # type: ignore[attr-defined]
    assert found
    return queries.list_terminals()[-1].id, found.group(1)


def enrol_with(client: TestClient, link: str) -> TestClient:
    return kiosk.enrol(client, link.rsplit("/", 1)[1])


def csrf_header(client: TestClient, page: str = "/my") -> dict[str, str]:
    return {"X-CSRF-Token": kiosk.csrf_of(client.get(page).text)}


# --- the managers' screens -----------------------------------------------------------------


def test_only_managers_reach_the_terminal_screens(team: dict[str, Console]) -> None:
    terminal_id, _ = register(team["manager"])
    for role in ("staff", "temporary", "intern"):
        member = team[role]
        assert member.get("/staff/terminals").status_code == 403  # type: ignore[attr-defined]
        for action in ("revoke", "enrol-link"):
            url = f"/staff/terminals/{terminal_id}/{action}"
            response = member.post(url, "/staff/")
            assert response.status_code == 403  # type: ignore[attr-defined]
            assert "/kiosk/enrol/" not in response.text  # type: ignore[attr-defined]
    assert queries.get_terminal(terminal_id).state == "waiting"
    page = team["manager"].get("/staff/terminals")
    assert "南 OPAC 1" in page.text  # type: ignore[attr-defined]
    home = team["manager"].get("/staff/").text  # type: ignore[attr-defined]
    assert "/staff/terminals" in home
    assert "/staff/terminals" not in team["staff"].get("/staff/").text  # type: ignore[attr-defined]


def test_terminal_screens_need_the_csrf_token(team: dict[str, Console]) -> None:
    manager = team["manager"]
    terminal_id, _ = register(manager)
    for url in (
        "/staff/terminals/new",
        f"/staff/terminals/{terminal_id}",
        f"/staff/terminals/{terminal_id}/revoke",
        f"/staff/terminals/{terminal_id}/enrol-link",
    ):
        response = manager.post(url, "", name="乗っ取り", branch="sogo")
        assert response.status_code == 403, url  # type: ignore[attr-defined]
    view = queries.get_terminal(terminal_id)
    assert (view.name, view.state) == ("南 OPAC 1", "waiting")
    assert len(queries.list_terminals()) == 1


def test_unknown_terminals_are_404(team: dict[str, Console]) -> None:
    manager = team["manager"]
    assert manager.get("/staff/terminals/999999").status_code == 404  # type: ignore[attr-defined]
    for action in ("revoke", "enrol-link"):
        response = manager.post(f"/staff/terminals/999999/{action}", "/staff/")
        assert response.status_code == 404  # type: ignore[attr-defined]


def test_bad_input_is_said_next_to_the_field(team: dict[str, Console]) -> None:
    manager = team["manager"]
    response = manager.post(
        "/staff/terminals/new", "/staff/terminals/new", name=" ", branch="x", location="1階"
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    body = response.text  # type: ignore[attr-defined]
    assert 'id="name-error">端末名を入力してください。' in body
    assert 'id="branch-error">' in body and 'value="1階"' in body  # what was typed stays
    assert queries.list_terminals() == ()


def test_the_link_is_on_the_configured_public_url(team: dict[str, Console]) -> None:
    manager = team["manager"]
    public = manager.client.app.state.settings.public_url  # type: ignore[attr-defined]
    page = manager.client.get("/staff/terminals/new", headers={"Host": "opac.example:8443"})
    response = manager.client.post(
        "/staff/terminals/new",
        data={"csrf_token": kiosk.csrf_of(page.text), "name": "総合 OPAC", "branch": "sogo"},
        headers={"Host": "opac.example:8443"},
    )
    assert response.status_code == 200
    found = LINK.search(response.text)
    assert found and found.group(1).startswith(f"{public}/kiosk/enrol/")
    assert "opac.example" not in found.group(1)  # the Host header is the client's to choose
    assert "24 時間以内に1回だけ" in response.text


def test_changes_and_links_are_audited(team: dict[str, Console]) -> None:
    manager = team["manager"]
    terminal_id, _ = register(manager)
    url = f"/staff/terminals/{terminal_id}"
    edited = manager.post(url, url, name="南 OPAC 2", branch="minami", location="1階")
    assert edited.status_code == 303  # type: ignore[attr-defined]
    again = manager.post(f"{url}/enrol-link", "/staff/terminals")
    assert LINK.search(again.text)  # type: ignore[attr-defined]
    manager.post(f"{url}/revoke", "/staff/terminals")
    page = manager.get("/staff/audit?staff_code=M001").text  # type: ignore[attr-defined]
    for words in ("登録", "変更", "の登録リンクを発行", "解除"):
        assert f"館内端末{words}" in page or f"館内端末を{words}" in page
    assert "端末名" in page and "terminal_name" not in page


# --- the enrolment link and the terminal cookie --------------------------------------------


def test_a_link_enrols_once_and_leaves_the_address_bar(web: TestClient) -> None:
    token = kiosk.new_terminal()
    first = web.get(f"/kiosk/enrol/{token}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/kiosk/enrol"
    page = web.get("/kiosk/enrol")
    assert page.headers["cache-control"] == "no-store"
    assert token not in page.text and "総合 OPAC 1" in page.text
    # No state change on GET: the link still works until the POST.
    assert queries.check_terminal_link(token).state == "waiting"
    done = web.post(
        "/kiosk/enrol", data={"csrf_token": kiosk.csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303
    cookie = next(c for c in done.headers.get_list("set-cookie") if "shiori_terminal=" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=34560000" in cookie
    assert "Secure" not in cookie  # plain-http demo
    assert 'id="kiosk-idle"' in web.get("/kiosk").text
    # Used: another browser with the same link gets a clear refusal, and no terminal.
    other = TestClient(web.app)
    other.get(f"/kiosk/enrol/{token}")
    refused = other.get("/kiosk/enrol")
    assert refused.status_code == 404 and "この登録リンクは使えません" in refused.text
    token_page = other.get("/login").text
    again = other.post("/kiosk/enrol", data={"csrf_token": kiosk.csrf_of(token_page)})
    assert again.status_code == 404 and "shiori_terminal=" not in again.headers.get(
        "set-cookie", ""
    )
    assert 'id="kiosk-idle"' not in other.get("/kiosk").text
    assert access_log._redacted(f"/kiosk/enrol/{token}?x=1") == "/kiosk/enrol/-"


def test_forged_and_expired_links_are_refused(web: TestClient) -> None:
    web.get("/kiosk/enrol/forged-token-0123456789")
    assert web.get("/kiosk/enrol").status_code == 404
    token = kiosk.new_terminal()
    later = queries.get_terminal(queries.list_terminals()[-1].id).created_at + timedelta(hours=2)
    queries.set_clock(lambda: later)
    try:
        web.get(f"/kiosk/enrol/{token}")
        page = web.get("/kiosk/enrol")
        assert page.status_code == 404 and "期限切れ" in page.text
    finally:
        queries.set_clock(None)


def test_enrolling_needs_the_csrf_token(web: TestClient) -> None:
    token = kiosk.new_terminal()
    web.get(f"/kiosk/enrol/{token}")
    response = web.post("/kiosk/enrol", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert queries.check_terminal_link(token).state == "waiting"  # still usable


def test_a_forged_or_foreign_terminal_cookie_makes_no_kiosk(web: TestClient) -> None:
    kiosk.enrol(web)
    terminal_id = queries.list_terminals()[-1].id
    secret = web.app.state.settings.secret_key  # type: ignore[attr-defined]
    stranger = TestClient(web.app)
    for value in (
        URLSafeSerializer("another-secret", salt="shiori.terminal").dumps([terminal_id, "k"]),
        URLSafeSerializer(secret, salt="shiori.terminal").dumps([terminal_id, "wrong-key"]),
        URLSafeSerializer(secret, salt="shiori.csrf").dumps([terminal_id, "k"]),
        "not-even-signed",
    ):
        stranger.cookies.set("shiori_terminal", value)
        assert 'id="kiosk-idle"' not in stranger.get("/kiosk").text
        assert "booklist-remember-field" in stranger.get("/login").text


def test_the_terminal_cookie_is_secure_and_host_only_on_https(library_db: Database) -> None:
    settings = app_settings(library_db.url, SHIORI_PUBLIC_URL="https://opac.example.jp")
    with TestClient(create_app(settings), base_url="https://opac.example.jp") as client:
        token = kiosk.new_terminal()
        client.get(f"/kiosk/enrol/{token}")
        page = client.get("/kiosk/enrol")
        done = client.post(
            "/kiosk/enrol",
            data={"csrf_token": kiosk.csrf_of(page.text)},
            headers={"Origin": "https://opac.example.jp"},
            follow_redirects=False,
        )
        cookie = next(c for c in done.headers.get_list("set-cookie") if "terminal=" in c)
        assert cookie.startswith("__Host-shiori_terminal=")
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_a_revoked_terminal_is_a_home_pc_again(team: dict[str, Console], app: object) -> None:
    terminal_id, link = register(team["manager"])
    browser = enrol_with(TestClient(app), link)  # type: ignore[arg-type]
    assert "kiosk-login-note" in browser.get("/login").text
    team["manager"].post(f"/staff/terminals/{terminal_id}/revoke", "/staff/terminals")
    page = browser.get("/login").text
    assert "kiosk-login-note" not in page and "booklist-remember-field" in page
    login = log_in(browser, *HANAKO)
    assert "shiori_device=" in login.headers.get("set-cookie", "")  # type: ignore[attr-defined]


# --- kiosk logins --------------------------------------------------------------------------


def test_on_a_kiosk_every_login_is_shared_and_the_box_is_gone(web: TestClient) -> None:
    home = TestClient(web.app)
    page = home.get("/login").text
    assert 'name="kiosk"' not in page and 'autocomplete="username"' in page
    kiosk.enrol(web)
    page = web.get("/login").text
    assert 'name="kiosk"' not in page and "booklist-remember-field" not in page
    assert 'id="card" name="card" value="" inputmode="numeric" autocomplete="off"' in page
    assert 'autocomplete="off" required maxlength="1024"' in page  # the password
    assert "120 秒操作がないと" in page
    login = log_in(web, *HANAKO)
    assert "shiori_device" not in login.headers.get("set-cookie", "")  # type: ignore[attr-defined]
    [session] = queries.list_my_sessions(patron_id(HANAKO[0]), "")
    assert session.kiosk
    my = web.get("/my")
    assert my.headers["cache-control"] == "no-store"
    dialog = re.search(r'<dialog id="kiosk-idle"[^>]*>', my.text)
    assert dialog
    assert 'data-idle="120"' in dialog.group(0) and 'data-warning="30"' in dialog.group(0)
    assert 'data-left="109"' in dialog.group(0) and 'data-session="1"' in dialog.group(0)
    assert web.get("/kiosk").headers["cache-control"] == "no-store"
    # Logging out keeps the terminal: no "cookies" in Clear-Site-Data, no terminal cookie
    # deleted, and the browser lands on the kiosk's start page.
    out = web.post("/logout", data={"csrf_token": kiosk.csrf_of(my.text)}, follow_redirects=False)
    assert out.headers["clear-site-data"] == '"cache", "storage"'
    assert out.headers["location"] == "/kiosk?logged_out=1"
    assert "shiori_terminal" not in out.headers.get("set-cookie", "")
    assert "ログアウトしました。" in web.get("/kiosk?logged_out=1").text


def test_continue_moves_the_servers_idle_clock(web: TestClient) -> None:
    kiosk.enrol(web)
    log_in(web, *HANAKO)
    headers = csrf_header(web)
    start = queries.list_my_sessions(patron_id(HANAKO[0]), "")[0].last_seen_at
    base = start.replace(tzinfo=start.tzinfo or UTC)
    try:
        queries.set_clock(lambda: base + timedelta(seconds=100))
        assert web.post("/kiosk/continue", headers=headers).status_code == 204
        queries.set_clock(lambda: base + timedelta(seconds=200))  # 100 s after "Continue"
        assert web.get("/my", follow_redirects=False).status_code == 200
        queries.set_clock(lambda: base + timedelta(seconds=321))  # 121 s idle: over
        assert web.get("/my", follow_redirects=False).status_code == 303
        # The session is over: its CSRF token with it; the browser leaves on anything but 204.
        assert web.post("/kiosk/continue", headers=headers).status_code in (401, 403)
    finally:
        queries.set_clock(None)
    # Without the token: refused like every other state change.
    assert web.post("/kiosk/continue").status_code == 403


def test_every_response_on_a_kiosk_is_no_store(web: TestClient, library_db: Database) -> None:
    work_id, _ = _work_in_two_branches()
    paths = ("/", "/search?q=猫", f"/records/{work_id}", "/calendar", "/kiosk", "/nowhere")
    home = TestClient(web.app)
    for path in ("/search?q=猫", f"/records/{work_id}", "/static/site.css"):
        assert home.get(path).headers.get("cache-control") != "no-store", path
    kiosk.enrol(web)
    for path in (*paths, "/static/site.css", "/static/js/kiosk.js"):
        assert web.get(path).headers["cache-control"] == "no-store", path
    log_in(web, *HANAKO)
    for path in paths:
        assert web.get(path).headers["cache-control"] == "no-store", path
    # A browser on a kiosk network, without a terminal cookie, too.
    settings = app_settings(library_db.url, SHIORI_KIOSK_NETWORKS="127.0.0.0/8")
    with TestClient(create_app(settings), client=("127.0.0.5", 40000)) as lan:
        for path in paths:
            assert lan.get(path).headers["cache-control"] == "no-store", path


def test_kiosk_htmx_swaps_replace_the_address_rather_than_push_it(web: TestClient) -> None:
    work_id, _ = _work_in_two_branches()

    def swap(client: TestClient, path: str, page: str) -> str | None:
        headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        return response.headers.get("hx-replace-url")

    next_page = "/search?q=%E7%8C%AB&page=2"
    assert swap(TestClient(web.app), next_page, "/search?q=%E7%8C%AB") is None  # a home PC
    kiosk.enrol(web)
    # The next results page, a facet, the search form: the page's own address, replaced.
    assert swap(web, next_page, "/search?q=%E7%8C%AB") == next_page
    assert swap(web, "/search?q=%E7%8C%AB", "/") is None  # another page: not its address
    # A fragment loaded into a page from another address is never the page's address.
    log_in(web, *HANAKO)
    assert swap(web, f"/records/{work_id}/hold", f"/records/{work_id}") is None


# --- kiosk networks and settings -----------------------------------------------------------


def _request_from(address: str, settings_env: dict[str, str], db: Database) -> Request:
    application = create_app(app_settings(db.url, **settings_env))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": b"",
        "client": (address, 40000),
        "app": application,
    }
    return Request(scope)


def test_browsers_on_a_kiosk_network_are_kiosks(library_db: Database) -> None:
    env = {"SHIORI_KIOSK_NETWORKS": "192.168.10.0/24, 2001:db8:10::/48"}
    for address, expected in (
        ("192.168.10.7", True),
        ("2001:db8:10::5", True),
        ("192.168.11.7", False),
        ("testclient", False),
    ):
        found = terminals.kiosk(_request_from(address, env, library_db))
        assert (found is not None) == expected, address
        assert found is None or found.terminal is None
    assert terminals.kiosk(_request_from("192.168.10.7", {}, library_db)) is None


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SHIORI_KIOSK_NETWORKS": "192.168.10.1/24"}, "SHIORI_KIOSK_NETWORKS"),
        ({"SHIORI_KIOSK_NETWORKS": "library"}, "CIDR"),
        ({"SHIORI_KIOSK_IDLE_SECONDS": "10"}, "30〜3600"),
        ({"SHIORI_KIOSK_IDLE_SECONDS": "60", "SHIORI_KIOSK_WARNING_SECONDS": "60"}, "短く"),
        ({"SHIORI_KIOSK_IDLE_MINUTES": "3"}, "SHIORI_KIOSK_IDLE_SECONDS"),
    ],
)
def test_kiosk_settings_are_checked_at_startup(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        load(env)


def test_kiosk_settings_defaults() -> None:
    settings = load({})
    assert (settings.kiosk_idle_seconds, settings.kiosk_warning_seconds) == (120, 30)
    assert settings.kiosk_networks == ()
    assert len(load({"SHIORI_KIOSK_NETWORKS": "10.1.0.0/16,10.2.0.0/16"}).kiosk_networks) == 2


# --- what a kiosk adds ---------------------------------------------------------------------


def test_the_start_page_has_the_floor_guide_and_todays_hours(web: TestClient) -> None:
    plain = web.get("/kiosk")
    assert plain.status_code == 200 and 'id="kiosk-idle"' not in plain.text
    kiosk.enrol(web, kiosk.new_terminal(floor_guide="一般開架: 2階\n\n児童書: 1階"))
    page = web.get("/kiosk").text
    assert "<li>一般開架: 2階</li><li>児童書: 1階</li>" in page
    assert "本日の開館時間" in page and "この端末の場所：2階 階段の横" in page
    assert re.search(r"\d\d:\d\d–\d\d:\d\d|休館|開館", page)


def _work_in_two_branches() -> tuple[int, str]:
    with engine.read() as conn:
        row = conn.execute(
            text(
                "SELECT i.work_id, min(i.call_number) AS call FROM item i "
                "JOIN branch b ON b.id = i.branch_id GROUP BY i.work_id "
                "HAVING count(DISTINCT b.code) > 1 AND sum(CASE WHEN b.code = 'sogo' "
                "THEN 1 ELSE 0 END) > 0 ORDER BY i.work_id LIMIT 1"
            )
        ).one()
    return int(row.work_id), str(row.call)


def test_the_shelf_slip_shows_this_branchs_copies_and_a_qr_code(web: TestClient) -> None:
    work_id, _ = _work_in_two_branches()
    record = queries.get_record(work_id)
    everywhere = web.get(f"/kiosk/slip/{work_id}").text
    assert everywhere.count("<li>") >= len(record.copies)
    kiosk.enrol(web)  # at sogo
    page = web.get(f"/kiosk/slip/{work_id}").text
    sogo = [c for c in record.copies if c.branch_code == "sogo"]
    assert page.count('<span class="slip-call">') == len(sogo) < len(record.copies)
    assert 'class="slip-qr"' in page and 'role="img"' in page
    assert f"http://127.0.0.1:8000/records/{work_id}" in page  # the public address
    for copy in sogo:
        if copy.shelf_location == "一般開架":
            assert "一般開架 (2階)" in page
    assert f'href="/kiosk/slip/{work_id}"' in web.get(f"/records/{work_id}").text
    assert "/kiosk/slip/" not in TestClient(web.app).get(f"/records/{work_id}").text


def test_a_reservation_on_a_kiosk_is_picked_up_at_its_branch(web: TestClient) -> None:
    [work_id] = _works_to_reserve(1, HANAKO[0])
    home = TestClient(web.app)
    log_in(home, *HANAKO)  # Hanako's home branch is sogo
    assert re.search(r'<option value="sogo" selected>', home.get(f"/records/{work_id}/hold").text)
    kiosk.enrol(web, kiosk.new_terminal(branch="minami"))
    log_in(web, *HANAKO)
    page = web.get(f"/records/{work_id}/hold").text
    assert re.search(r'<option value="minami" selected>', page)
    assert not re.search(r'<option value="sogo" selected>', page)
