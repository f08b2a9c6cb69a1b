"""Accounts over HTTP: login, logout, sessions, CSRF, enumeration, password paths, loans."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from tests import kiosk as kiosk_helpers
from tests import mailbox
from tests.conftest import Database, app_settings
from web.app import create_app

HANAKO = ("2100000001", "hon-wo-yomu-2026")  # 3 loans, 1 overdue, has email
TARO = ("2100000002", "tosho-kan-taro-7")  # 1 loan, English, no email
ICHIRO = "2100000003"  # no password yet
HTMX = {"HX-Request": "true"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, card: str, password: str, **extra: str) -> object:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"card": card, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


def post(client: TestClient, url: str, page: str, **data: str) -> object:
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def test_login_shows_my_library_with_loans(web: TestClient) -> None:
    response = log_in(web, *HANAKO)
    assert response.status_code == 303 and response.headers["location"] == "/my"
    my = web.get("/my")
    assert "山田 花子" in my.text
    assert "3冊借りています（延滞 1冊）" in my.text
    loans = web.get("/my/loans")
    assert len(re.findall(r'<li class="loan[ "]', loans.text)) == 3
    assert "延滞" in loans.text and "返却期限" in loans.text


def test_personal_pages_need_a_login(web: TestClient) -> None:
    for url in ("/my", "/my/loans", "/my/sessions", "/my/password"):
        response = web.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_personal_pages_are_never_cached(web: TestClient) -> None:
    log_in(web, *HANAKO)
    for url in ("/my", "/my/loans", "/login", "/", "/search?q=a"):
        assert web.get(url).headers["cache-control"] == "no-store", url


def test_logout_replay_is_refused(web: TestClient) -> None:
    log_in(web, *HANAKO)
    stolen = dict(web.cookies)
    assert web.get("/my", follow_redirects=False).status_code == 200
    response = post(web, "/logout", "/my")
    assert response.status_code == 303 and response.headers["location"] == "/?logged_out=1"
    # The patron's own browser keeps its device cookie (lockouts); the session cookie goes.
    assert response.headers["clear-site-data"] == '"cache", "storage"'
    assert 'shiori_session=""' in response.headers["set-cookie"]
    replay = TestClient(web.app)
    for name, value in stolen.items():
        replay.cookies.set(name, value)
    assert replay.get("/my", follow_redirects=False).status_code == 303
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_session")).scalar_one() == 0


def test_logout_keeps_only_the_device_cookie_and_a_kiosk_keeps_nothing(web: TestClient) -> None:
    log_in(web, *HANAKO)
    assert web.cookies.get("shiori_device")
    response = post(web, "/logout", "/my")
    assert "shiori_device" not in response.headers["set-cookie"]  # type: ignore[attr-defined]
    # Issue 15: a kiosk is an enrolled terminal (no "shared computer" box any more). It never
    # gets a device cookie and loses its session, cache and storage, but keeps the terminal
    # cookie, so Clear-Site-Data no longer says "cookies" there.
    kiosk = kiosk_helpers.enrol(TestClient(web.app))
    login = log_in(kiosk, *HANAKO)
    assert "shiori_device" not in login.headers.get("set-cookie", "")  # type: ignore[attr-defined]
    response = post(kiosk, "/logout", "/my")
    assert response.headers["clear-site-data"] == '"cache", "storage"'  # type: ignore[attr-defined]
    assert response.headers["location"] == "/kiosk?logged_out=1"  # type: ignore[attr-defined]
    assert 'shiori_session=""' in response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert kiosk.get("/my", follow_redirects=False).status_code == 303
    # A browser that logs out without a session of its own keeps nothing either.
    response = post(TestClient(web.app), "/logout", "/login")
    assert response.headers["clear-site-data"] == '"cache", "cookies", "storage"'  # type: ignore[attr-defined]


def test_login_gives_a_new_session_id_each_time(web: TestClient) -> None:
    log_in(web, *HANAKO)
    first = web.cookies.get("shiori_session")
    other = TestClient(web.app)
    log_in(other, *HANAKO)
    assert first and other.cookies.get("shiori_session") not in (None, first)


def test_another_patrons_loan_is_404(web: TestClient) -> None:
    log_in(web, *TARO)
    with engine.read() as conn:
        hanako_loan = (
            conn.execute(
                text(
                    "SELECT l.id FROM loan l JOIN patron p ON p.id = l.patron_id "
                    "WHERE p.card_number = :c"
                ),
                {"c": HANAKO[0]},
            )
            .scalars()
            .first()
        )
    response = post(web, f"/my/loans/{hanako_loan}/renew", "/my/loans")
    assert response.status_code == 404
    with engine.read() as conn:
        renewals = conn.execute(
            text("SELECT renewals FROM loan WHERE id = :id"), {"id": hanako_loan}
        ).scalar_one()
    assert renewals == 0


@pytest.fixture
def two_days_later() -> Iterator[None]:
    """Issue 12: on the day of a loan a renewal would not move the due date and is refused;
    the demo loans were made today, so these tests renew two days later."""
    later = datetime.now(UTC) + timedelta(days=2)
    queries.set_clock(lambda: later)
    try:
        yield
    finally:
        queries.set_clock(None)


@pytest.mark.usefixtures("two_days_later")
def test_renew_one_then_refused_with_a_reason(web: TestClient) -> None:
    log_in(web, *HANAKO)
    page = web.get("/my/loans").text
    loan_id = re.findall(r'action="/my/loans/(\d+)/renew"', page)[0]
    renewed = post(web, f"/my/loans/{loan_id}/renew", "/my/loans")
    assert renewed.status_code == 303
    assert "延長しました" in web.get("/my/loans").text
    again = web.get("/my/loans").text
    assert f'action="/my/loans/{loan_id}/renew"' not in again
    assert "延長は1回までです" in again


@pytest.mark.usefixtures("two_days_later")
def test_renew_with_htmx_updates_the_row(web: TestClient) -> None:
    log_in(web, *HANAKO)
    page = web.get("/my/loans").text
    loan_id = re.findall(r'action="/my/loans/(\d+)/renew"', page)[0]
    response = web.post(
        f"/my/loans/{loan_id}/renew", headers={**HTMX, "X-CSRF-Token": csrf_of(page)}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<li class="loan" id="loan-{loan_id}">')
    assert "延長しました" in response.text
    refused = web.post(
        f"/my/loans/{loan_id}/renew", headers={**HTMX, "X-CSRF-Token": csrf_of(page)}
    )
    assert refused.status_code == 422 and "延長は1回までです" in refused.text


@pytest.mark.usefixtures("two_days_later")
def test_renew_all_reports_each(web: TestClient) -> None:
    log_in(web, *HANAKO)
    response = post(web, "/my/loans/renew-all", "/my/loans")
    assert response.status_code == 303
    assert "2冊を延長しました。1冊は延長できませんでした。" in web.get("/my/loans").text


@pytest.mark.parametrize("url", ["/login", "/logout", "/my/loans/renew-all", "/password/first"])
def test_csrf_missing_or_foreign_token_is_refused(web: TestClient, url: str) -> None:
    log_in(web, *HANAKO) if url != "/login" and url != "/password/first" else None
    missing = web.post(url, data={"card": HANAKO[0], "password": HANAKO[1]})
    assert missing.status_code == 403
    other = TestClient(web.app)
    foreign = csrf_of(other.get("/login").text)
    forged = web.post(url, data={"card": HANAKO[0], "password": HANAKO[1], "csrf_token": foreign})
    assert forged.status_code == 403


def test_cross_site_post_is_refused_even_with_a_token(web: TestClient) -> None:
    token = csrf_of(web.get("/login").text)
    data = {"card": HANAKO[0], "password": HANAKO[1], "csrf_token": token}
    evil = web.post("/login", data=data, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    cross = web.post("/login", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403


def test_no_state_change_on_get(web: TestClient) -> None:
    for url in ("/my/loans/renew-all", "/my/sessions/end-others"):
        assert web.get(url).status_code in (404, 405)
    # Issue 20: GET /logout is a page offering the logout button (a POST); it logs no one out.
    log_in(web, *HANAKO)
    assert 'action="/logout"' in web.get("/logout").text
    assert web.get("/my", follow_redirects=False).status_code == 200


def _without_tokens(html: str) -> str:
    return re.sub(r'value="[^"]{20,}"', 'value="…"', html)


def test_unknown_card_and_wrong_password_answer_alike(web: TestClient) -> None:
    unknown = log_in(web, "2999999999", "whatever-password")
    wrong = log_in(TestClient(web.app), HANAKO[0], "whatever-password")
    no_password = log_in(TestClient(web.app), ICHIRO, "whatever-password")
    assert unknown.status_code == wrong.status_code == no_password.status_code == 422
    normalised = {
        _without_tokens(r.text).replace(card, "CARD")
        for r, card in ((unknown, "2999999999"), (wrong, HANAKO[0]), (no_password, ICHIRO))
    }
    assert len(normalised) == 1


def test_throttled_card_answers_like_a_wrong_password(web: TestClient) -> None:
    for _ in range(6):
        response = log_in(web, HANAKO[0], "not-the-password")
    assert response.status_code == 422
    locked = log_in(web, *HANAKO)  # right password, but the card must wait
    assert locked.status_code == 422
    assert _without_tokens(locked.text) == _without_tokens(response.text)


def test_throttle_wait_grows_but_ends(web: TestClient, library_db: Database) -> None:
    start = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    queries.set_clock(lambda: start)
    try:
        for _ in range(6):
            log_in(web, HANAKO[0], "not-the-password")
        assert log_in(web, *HANAKO).status_code == 422
        queries.set_clock(lambda: start + timedelta(hours=2))
        assert log_in(web, *HANAKO).status_code == 303
    finally:
        queries.set_clock(None)


def test_sessions_page_lists_and_ends_other_devices(web: TestClient) -> None:
    log_in(web, *HANAKO)
    phone = TestClient(
        web.app, headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/130"}
    )
    log_in(phone, *HANAKO)
    page = web.get("/my/sessions").text
    assert "Chrome / Android" in page and "この端末" in page
    post(web, "/my/sessions/end-others", "/my/sessions")
    assert phone.get("/my", follow_redirects=False).status_code == 303
    assert web.get("/my", follow_redirects=False).status_code == 200


def test_idle_timeout_ends_the_session(web: TestClient) -> None:
    log_in(web, *HANAKO)
    later = datetime.now(UTC) + timedelta(minutes=31)
    queries.set_clock(lambda: later)
    try:
        assert web.get("/my", follow_redirects=False).status_code == 303
    finally:
        queries.set_clock(None)


def test_kiosk_login_times_out_sooner(web: TestClient) -> None:
    # Issue 15: the terminal decides, so the kiosk is an enrolled browser, and its idle
    # timeout is in seconds (default 120).
    home = TestClient(web.app)
    log_in(home, *TARO)
    kiosk_helpers.enrol(web)
    log_in(web, *HANAKO)
    later = datetime.now(UTC) + timedelta(seconds=125)
    queries.set_clock(lambda: later)
    try:
        assert web.get("/my", follow_redirects=False).status_code == 303
        assert home.get("/my", follow_redirects=False).status_code == 200
    finally:
        queries.set_clock(None)


def first_password(client: TestClient, new: str, phone: str = "0466-33-3333") -> object:
    page = client.get("/password/first").text
    return client.post(
        "/password/first",
        data={
            "csrf_token": csrf_of(page),
            "card": ICHIRO,
            "birth_year": "2014",
            "birth_month": "6",
            "birth_day": "20",
            "phone": phone,
            "new_password": new,
            "new_password_again": new,
        },
        follow_redirects=False,
    )


def test_first_password_from_the_web_then_login_shows_when(web: TestClient) -> None:
    response = first_password(web, "本を読むのが好きです")
    assert response.status_code == 303
    assert log_in(web, ICHIRO, "本を読むのが好きです").status_code == 303
    assert "ウェブサイト（初回登録）から設定されました" in web.get("/my").text


def test_first_password_cannot_be_used_twice(web: TestClient) -> None:
    assert first_password(web, "本を読むのが好きです").status_code == 303
    again = first_password(TestClient(web.app), "ほかの人が知っている情報")
    assert again.status_code == 422
    assert log_in(TestClient(web.app), ICHIRO, "ほかの人が知っている情報").status_code == 422


def test_first_password_with_wrong_facts_is_refused_without_saying_which(web: TestClient) -> None:
    wrong_phone = first_password(web, "本を読むのが好きです", phone="0466-00-0000")
    assert wrong_phone.status_code == 422
    assert "登録内容が一致しないか、すでにパスワードが登録されているか" in wrong_phone.text


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short", "8文字以上"),
        ("password123", "よく使われていて"),
        ("x2100000003x", "カード番号"),
        ("20140620", "生年月日"),
    ],
)
def test_password_policy(web: TestClient, new: str, message: str) -> None:
    response = first_password(web, new)
    assert response.status_code == 422 and message in response.text


def test_activation_code_is_single_use(web: TestClient) -> None:
    code = queries.issue_activation_code(ICHIRO)
    page = web.get("/password/code").text
    data = {
        "csrf_token": csrf_of(page),
        "card": ICHIRO,
        "code": code.lower(),
        "new_password": "図書館で受け取ったコード",
        "new_password_again": "図書館で受け取ったコード",
    }
    assert web.post("/password/code", data=data, follow_redirects=False).status_code == 303
    data["csrf_token"] = csrf_of(web.get("/password/code").text)
    assert web.post("/password/code", data=data).status_code == 422


def test_forgotten_password_link_works_once(web: TestClient) -> None:
    page = web.get("/password/forgot").text
    sent = web.post(
        "/password/forgot",
        data={"csrf_token": csrf_of(page), "card": HANAKO[0], "email": "Hanako@Example.jp"},
    )
    assert "再設定用のリンクを送りました" in sent.text
    [body] = [body for kind, _to, _subject, body in mailbox.composed() if kind == "password_reset"]
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:8000(/password/reset\?token=\S+)", body)
    assert link
    reset_page = web.get(link.group(1)).text
    new = "新しいパスワードにしました"
    data = {
        "csrf_token": csrf_of(reset_page),
        "new_password": new,
        "new_password_again": new,
    }
    assert web.post("/password/reset", data=data, follow_redirects=False).status_code == 303
    assert log_in(TestClient(web.app), HANAKO[0], new).status_code == 303
    data["csrf_token"] = csrf_of(web.get("/password/forgot").text)
    assert web.post("/password/reset", data=data).status_code == 400


def test_forgot_page_says_the_same_for_unknown_cards(web: TestClient) -> None:
    page = web.get("/password/forgot").text
    answer = web.post(
        "/password/forgot",
        data={"csrf_token": csrf_of(page), "card": "2999999999", "email": "x@example.jp"},
    )
    assert "再設定用のリンクを送りました" in answer.text
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM mail_outbox")).scalar_one() == 0


def test_change_password_and_log_out_other_devices(web: TestClient) -> None:
    log_in(web, *HANAKO)
    other = TestClient(web.app)
    log_in(other, *HANAKO)
    new = "変更後のパスワードです"
    response = post(
        web,
        "/my/password",
        "/my/password",
        current_password=HANAKO[1],
        new_password=new,
        new_password_again=new,
        logout_others="1",
    )
    assert response.status_code == 303
    assert other.get("/my", follow_redirects=False).status_code == 303
    assert web.get("/my", follow_redirects=False).status_code == 200
    with engine.read() as conn:
        kinds = conn.execute(text("SELECT kind FROM mail_outbox")).scalars().all()
    assert kinds == ["password_set"]


def test_password_pages_say_the_library_never_asks(web: TestClient) -> None:
    for url in ("/login", "/password", "/password/first", "/password/code", "/password/forgot"):
        assert "図書館が電話やメールでパスワードをおたずねすることはありません" in web.get(url).text


XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_xss_in_every_text_field_comes_back_escaped(web: TestClient) -> None:
    pages = [
        web.post(
            "/login",
            data={"csrf_token": csrf_of(web.get("/login").text), "card": XSS, "password": XSS},
        ),
        web.post(
            "/password/first",
            data={
                "csrf_token": csrf_of(web.get("/password/first").text),
                "card": XSS,
                "birth_year": XSS,
                "birth_month": XSS,
                "birth_day": XSS,
                "phone": XSS,
                "new_password": XSS,
                "new_password_again": "x",
            },
        ),
        web.post(
            "/password/code",
            data={
                "csrf_token": csrf_of(web.get("/password/code").text),
                "card": XSS,
                "code": XSS,
                "new_password": XSS,
                "new_password_again": XSS,
            },
        ),
        web.post(
            "/password/forgot",
            data={
                "csrf_token": csrf_of(web.get("/password/forgot").text),
                "card": XSS,
                "email": "",
            },
        ),
        web.get("/login", params={"next": XSS}),
        web.get("/password/reset", params={"token": XSS}),
    ]
    for page in pages:
        assert "<script>alert(1)</script>" not in page.text
        assert "<img src=x" not in page.text


def test_patron_and_catalog_values_are_escaped_on_my_pages(web: TestClient) -> None:
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET name = :n WHERE card_number = :c"), {"n": XSS, "c": HANAKO[0]}
        )
        conn.execute(text("UPDATE work SET title = :t"), {"t": XSS})
    log_in(web, *HANAKO)
    for url in ("/my", "/my/loans"):
        body = web.get(url).text
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


@pytest.fixture
def https_web(library_db: Database) -> TestClient:
    settings = app_settings(library_db.url, SHIORI_PUBLIC_URL="https://opac.example.jp")
    return TestClient(create_app(settings), base_url="https://opac.example.jp")


def test_https_uses_host_prefixed_secure_cookies_and_hsts(https_web: TestClient) -> None:
    with https_web as client:
        response = log_in(client, *HANAKO)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-shiori_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
        assert "samesite=lax" in cookie.lower() and "Domain" not in cookie
        assert "max-age=63072000" in client.get("/").headers["strict-transport-security"]
        assert client.get("/my").status_code == 200


def test_the_language_cookie_is_secure_under_https(https_web: TestClient, web: TestClient) -> None:
    with https_web as client:
        anonymous = client.get("/lang/en", params={"next": "/"}, follow_redirects=False)
        assert anonymous.headers["set-cookie"].startswith("shiori_lang=en")
        assert "Secure" in anonymous.headers["set-cookie"]
        log_in(client, *HANAKO)
        token = csrf_of(client.get("/my").text)
        chosen = client.post("/lang/ja", data={"csrf_token": token}, follow_redirects=False)
        assert "Secure" in chosen.headers["set-cookie"]
    # Plain http (the demo on 127.0.0.1): a Secure cookie would never come back.
    plain = web.get("/lang/en", params={"next": "/"}, follow_redirects=False)
    assert "Secure" not in plain.headers["set-cookie"]


def test_ending_this_device_from_the_list_logs_out(web: TestClient) -> None:
    log_in(web, *HANAKO)
    page = web.get("/my/sessions").text
    handle = re.search(r'action="/my/sessions/([0-9a-f]{12})/end"', page)
    assert handle is None  # the current device has no "log out" button of its own
    token = csrf_of(page)
    with engine.read() as conn:
        digest = conn.execute(text("SELECT id FROM web_session")).scalar_one()
    response = web.post(
        f"/my/sessions/{digest[:12]}/end", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/?logged_out=1"
    assert web.get("/my", follow_redirects=False).status_code == 303


def test_a_card_number_typed_full_width_or_with_hyphens_logs_in(web: TestClient) -> None:
    """An IME left in full-width mode, or the card read out in groups: the same card."""
    card, password = HANAKO
    wide = "".join(chr(ord(d) + 0xFEE0) for d in card)  # ２１０００…
    assert log_in(web, wide, password).status_code == 303  # type: ignore[attr-defined]
    web.cookies.clear()
    grouped = f"{card[:4]}－{card[4:7]} {card[7:]}"
    assert log_in(web, grouped, password).status_code == 303  # type: ignore[attr-defined]
