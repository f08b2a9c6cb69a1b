"""Personal data and secrets stay out of URLs and logs: staff lookups by POST, one-time
tokens exchanged for a short-lived cookie, and an access log without query strings."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine
from tests import mailbox
from tests.conftest import Database, app_settings
from web.app import create_app


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines(library_db: Database) -> Iterator[tuple[str, list[str]]]:
    """A real uvicorn server on a free port, with its access log collected."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    collect = Collect()
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(collect)
    level = logger.level
    logger.setLevel(logging.INFO)
    config = uvicorn.Config(
        create_app(app_settings(library_db.url)),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=True,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", collect.lines
    finally:
        server.should_exit = True
        thread.join(10)
        logger.removeHandler(collect)
        logger.setLevel(level)


def test_access_log_keeps_no_query_strings_or_tokens(
    access_lines: tuple[str, list[str]],
) -> None:
    base, lines = access_lines
    secrets = ["yamada-hanako", "0001234567", "s3cr3t-reset", "s3cr3t-enrol"]
    with httpx.Client(base_url=base) as http:
        http.get("/search", params={"q": secrets[0]})
        http.get("/staff/patrons", params={"card": secrets[1]})
        http.get("/password/reset", params={"token": secrets[2]})
        http.get(f"/staff/enrol/{secrets[3]}")
        http.get("/my/loans", params={"sort": secrets[0]})
    time.sleep(0.2)
    logged = "\n".join(lines)
    assert '"GET /search HTTP/1.1"' in logged
    assert '"GET /password/reset HTTP/1.1"' in logged
    for secret in secrets:
        assert secret not in logged


HANAKO = ("2100000001", "Hanako@Example.jp")
NEW_PASSWORD = "新しいパスワードにしました"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _mailed_reset_path(web: TestClient) -> str:
    page = web.get("/password/forgot").text
    web.post(
        "/password/forgot",
        data={"csrf_token": _csrf(page), "card": HANAKO[0], "email": HANAKO[1]},
    )
    bodies = [body for kind, _to, _s, body in mailbox.composed() if kind == "password_reset"]
    link = re.search(r"http://127\.0\.0\.1:8000(/password/reset\?token=\S+)", bodies[-1] or "")
    assert link
    return link.group(1)


def test_reset_token_leaves_the_url_for_a_cookie(web: TestClient) -> None:
    path = _mailed_reset_path(web)
    token = path.split("token=", 1)[1]
    first = web.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/password/reset"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"shiori_reset={token};")
    for attribute in ("HttpOnly", "Path=/password/reset", "SameSite=lax", "Max-Age=900"):
        assert attribute in cookie
    page = web.get("/password/reset")
    assert page.status_code == 200 and token not in page.text
    done = web.post(
        "/password/reset",
        data={
            "csrf_token": _csrf(page.text),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert 'shiori_reset=""' in done.headers["set-cookie"]


def test_used_reset_link_says_so_on_get(web: TestClient) -> None:
    path = _mailed_reset_path(web)
    page = web.get(path)
    web.post(
        "/password/reset",
        data={
            "csrf_token": _csrf(page.text),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    again = TestClient(web.app).get(path)
    assert again.status_code == 400
    assert "このリンクは使えません" in again.text and 'name="new_password"' not in again.text


def test_reset_token_names_nobody(web: TestClient) -> None:
    path = _mailed_reset_path(web)
    token = path.split("token=", 1)[1]
    with engine.read() as conn:
        patron = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO[0]}
        ).scalar_one()
    for part in token.split("."):
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert f"[{patron},".encode() not in decoded and HANAKO[0].encode() not in decoded
    with engine.read() as conn:
        stored = conn.execute(text("SELECT token_hash FROM password_reset_link")).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    # Asking again makes the first link useless.
    second = _mailed_reset_path(web)
    assert second != path
    assert TestClient(web.app).get(path).status_code == 400


def test_link_cookie_under_https_is_host_only(library_db: Database) -> None:
    settings = app_settings(library_db.url, SHIORI_PUBLIC_URL="https://opac.example.jp")
    with TestClient(create_app(settings), base_url="https://opac.example.jp") as web:
        first = web.get("/password/reset?token=abc", follow_redirects=False)
    cookie = first.headers["set-cookie"]
    assert first.status_code == 303 and cookie.startswith("__Host-shiori_reset=abc;")
    assert "Secure" in cookie and "Path=/;" in cookie and "HttpOnly" in cookie
