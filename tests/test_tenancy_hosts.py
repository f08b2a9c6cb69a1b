"""Many libraries on one PostgreSQL (issue 21), the host side: a browser's form posts at
every library's host, device cookies per library, SHIORI_PUBLIC_URL's host always serving
library 1, `shiori library host add|remove`, each library's absolute links, and the
timers' loop carrying on past one library's failure."""

from __future__ import annotations

import argparse
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from db import engine, outbox, queries, throttle
from db.queries import mail
from tests import mailbox
from tests.conftest import Database, app_settings
from tests.smtp_sink import Server
from tests.test_tenancy import HANAKO, Tenants, on_pg, on_sqlite, tenants  # noqa: F401
from tests.test_web_account import csrf_of, log_in
from web import alerts, cli, library_cli, library_host
from web.app import create_app
from web.i18n import Catalogues
from web.mail import MailComposer
from web.settings import Settings

PASSWORD = "hon-wo-yomu-2026"  # the demo Hanako's, at every library
CARD = HANAKO.patron.card_number


def _client(url: str, host: str, **env: str) -> TestClient:
    return TestClient(create_app(app_settings(url, **env)), base_url=f"http://{host}")


def _shiori(url: str, *words: str, public_url: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(out), redirect_stderr(err):
        env.setenv("SHIORI_DATABASE_URL", url)
        if public_url:
            env.setenv("SHIORI_PUBLIC_URL", public_url)
        status = cli.main(list(words))
    return status, out.getvalue(), err.getvalue()


# --- 1. a browser's form posts at each library's host -------------------------------------


def _browser_login(client: TestClient, origin: str, fetch_site: str) -> int:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf_token": token, "card": CARD, "password": PASSWORD},
        headers={"Origin": origin, "Sec-Fetch-Site": fetch_site},
        follow_redirects=False,
    ).status_code


@on_pg
def test_a_browser_posts_a_form_at_each_library_host(tenants: Tenants) -> None:  # noqa: F811
    for host in ("a.test", "b.test"):
        with _client(tenants.url, host) as client:
            assert _browser_login(client, f"http://{host}", "same-origin") == 303
    with _client(tenants.url, "b.test") as client:
        # Another library's page, or a site no library is served at, is a foreign origin.
        assert _browser_login(client, "http://a.test", "same-origin") == 403
        assert _browser_login(client, "http://evil.test", "same-origin") == 403
        assert _browser_login(client, "http://evil.test", "cross-site") == 403


# --- 2. a device cookie is one library's ---------------------------------------------------


@on_pg
def test_a_device_cookie_of_a_does_not_lift_b_lockout(tenants: Tenants) -> None:  # noqa: F811
    # One app (one secret key) serving both hosts, as in production.
    with _client(tenants.url, "a.test") as at_a:
        assert log_in(at_a, CARD, PASSWORD).status_code == 303
        devices = {k: v for k, v in at_a.cookies.items() if k == "shiori_device"}
        assert devices

        def at_b(address: str) -> TestClient:
            return TestClient(at_a.app, base_url="http://b.test", client=(address, 4000))

        own = at_b("192.0.2.20")
        assert log_in(own, CARD, PASSWORD).status_code == 303  # B's own device cookie
        own.cookies.delete("shiori_session")
        attacker = at_b("198.51.100.7")
        for _ in range(throttle.LOGIN_CARD.attempts + 3):
            assert log_in(attacker, CARD, "not-the-password").status_code == 422
        assert log_in(own, CARD, PASSWORD).status_code == 303  # B's cookie lifts B's lockout
        carried = at_b("192.0.2.30")
        for name, value in devices.items():
            carried.cookies.set(name, value)
        assert log_in(carried, CARD, PASSWORD).status_code == 422  # A's does not


# --- 3. SHIORI_PUBLIC_URL's host, and `shiori library host` -------------------------------


@on_pg
def test_the_public_url_host_serves_library_1_and_hosts_are_managed(
    tenants: Tenants,  # noqa: F811
) -> None:
    assert queries.remove_host("default", "a.test") == "a.test"
    public = {"SHIORI_PUBLIC_URL": "http://a.test"}
    with _client(tenants.url, "a.test", **public) as client:
        assert client.get("/").status_code == 200  # not taken offline by library b
    with _client(tenants.url, "a2.test", **public) as client:
        assert client.get("/").status_code == 404
    status, out, _err = _shiori(tenants.url, "library", "host", "add", "default", "A2.test:443")
    assert status == 0 and "a2.test" in out
    with _client(tenants.url, "a2.test", **public) as client:
        assert client.get("/").status_code == 200
    status, _out, err = _shiori(tenants.url, "library", "host", "add", "default", "b.test")
    assert status == 2
    assert "Another library (b) is served at b.test" in err and "別の図書館" in err
    status, _out, err = _shiori(tenants.url, "library", "host", "add", "nope", "x.test")
    assert status == 2 and "No library has the code" in err
    assert _shiori(tenants.url, "library", "host", "remove", "default", "a2.test")[0] == 0
    status, _out, err = _shiori(tenants.url, "library", "host", "remove", "default", "a2.test")
    assert status == 2 and "is not served at a2.test" in err
    with _client(tenants.url, "a2.test", **public) as client:
        assert client.get("/").status_code == 404


@on_sqlite
def test_sqlite_refuses_library_hosts(library_db: Database) -> None:
    status, _out, err = _shiori(library_db.url, "library", "host", "add", "default", "x.test")
    assert status == 2 and "SQLite serves one library" in err


# --- 4. each library's absolute links ------------------------------------------------------


@on_pg
def test_links_at_b_name_b_host(tenants: Tenants) -> None:  # noqa: F811
    public = {"SHIORI_PUBLIC_URL": "http://a.test:8080"}
    with _client(tenants.url, "b.test", **public) as at_b:
        page = at_b.get("/password/forgot").text
        sent = at_b.post(
            "/password/forgot",
            data={"csrf_token": csrf_of(page), "card": CARD, "email": "hanako@example.jp"},
        )
        assert sent.status_code == 200
        sitemap = at_b.get("/sitemap.xml").text
        work = re.search(r"/records/(\d+)", at_b.get("/sitemaps/1.xml").text)
        assert work
        record = at_b.get(f"/records/{work.group(1)}").text
        assert f'rel="canonical" href="http://b.test:8080/records/{work.group(1)}"' in record
        robots = at_b.get("/robots.txt").text
    queries.configure(tenants.url)  # the app's shutdown let the query layer go
    with queries.use_library(tenants.b):
        bodies = [b for kind, _to, _s, b in mailbox.composed() if kind == "password_reset"]
    assert bodies and "http://b.test:8080/password/reset?token=" in str(bodies[0])
    assert "http://b.test:8080/" in sitemap and "a.test" not in sitemap
    assert "http://b.test:8080/sitemap.xml" in robots
    with _client(tenants.url, "a.test", **public) as at_a:
        assert "http://a.test:8080/sitemap.xml" in at_a.get("/robots.txt").text
    # Outside a request (the timers, the console) the library in hand chooses.
    settings = app_settings(tenants.url, **public)
    with queries.use_library(tenants.b):
        assert alerts.unsubscribe_link(settings, 1, [1]).startswith("http://b.test:8080/")
    assert alerts.unsubscribe_link(settings, 1, [1]).startswith("http://a.test:8080/")
    status, out, _err = _shiori(
        tenants.url,
        "--library",
        "b",
        "staff",
        "create-manager",
        "--staff-id",
        "M009",
        "--name",
        "管理 九郎",
        "--branch",
        "sogo",
        public_url="https://a.test",
    )
    assert status == 0
    assert re.search(r"^https://b\.test/staff/enrol/\S+$", out, re.MULTILINE)


@on_pg
def test_the_mail_worker_links_each_librarys_notices_to_its_own_pages(
    tenants: Tenants,  # noqa: F811
    smtp_server: Server,
) -> None:
    settings = app_settings(tenants.url, SHIORI_PUBLIC_URL="http://a.test:8080")
    library_host.share(None)  # a fresh worker process: no host map read yet
    now = datetime.now(UTC)
    notices = {
        "hold_ready": {"count": 1, "branch": "sogo", "until": "2026-11-28"},
        "overdue_reminder": {"loans": [{"due": "2026-11-20"}]},
    }
    for library, to_addr in ((tenants.a, "a@example.jp"), (tenants.b, "b@example.jp")):
        with queries.use_library(library), engine.write() as conn:
            for kind, params in notices.items():
                outbox.enqueue(conn, kind=kind, to_addr=to_addr, lang="ja", params=params, now=now)
    compose = MailComposer(Catalogues(settings.locale_dir), settings)
    assert mail._send_every_library(smtp_server.settings, now, 50, compose, 7).sent == 4
    links: dict[str, list[str]] = {}
    for received in smtp_server.recorder.received:
        body = received.message.get_content()
        links.setdefault(received.rcpt_tos[0], []).extend(
            line for line in body.splitlines() if "://" in line
        )
    assert links == {
        "a@example.jp": ["http://a.test:8080/my/holds", "http://a.test:8080/my/loans"],
        "b@example.jp": ["http://b.test:8080/my/holds", "http://b.test:8080/my/loans"],
    }


# --- 5. one library's failure does not stop the others ------------------------------------


@on_pg
def test_a_timer_carries_on_past_a_failing_library(tenants: Tenants) -> None:  # noqa: F811
    ran: list[int] = []

    def command(_settings: Settings, _args: argparse.Namespace) -> int:
        library = queries.current_library.get()
        ran.append(library)
        if library == tenants.a:
            raise RuntimeError("patron 2100000001 broke it")
        return 0

    args = argparse.Namespace(fn=command, every_library=True)
    status = library_cli.run(app_settings(tenants.url), args, None, lambda _s: None)
    assert ran == [tenants.a, tenants.b] and status == 1


@on_pg
def test_the_mail_worker_carries_on_past_a_failing_library(
    tenants: Tenants,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[int] = []

    def send_due(*_args: object) -> mail.SendReport:
        library = queries.current_library.get()
        ran.append(library)
        if library == tenants.a:
            raise RuntimeError("broken")
        return mail.SendReport(1, 0, 0, 0, "")

    monkeypatch.setattr(mail, "send_due", send_due)
    settings = mail.SmtpSettings(host="localhost", port=25, sender="a@example.jp")
    with pytest.raises(RuntimeError):
        mail._send_every_library(settings, datetime(2026, 1, 1), 50, None, 7)
    assert ran == [tenants.a, tenants.b]
