"""The client address behind the reverse proxy (issue 21): X-Forwarded-For believed only
from SHIORI_TRUSTED_PROXIES, the right-most untrusted hop; nginx's /busy and /health pages;
versioned static URLs."""

from __future__ import annotations

import ipaddress
import re

import pytest
from starlette.testclient import TestClient

from tests.conftest import Database, app_settings
from web import client
from web.app import create_app
from web.settings import LOOPBACK_PROXIES, SettingsError
from web.settings import load as load_settings

LOOPBACK = LOOPBACK_PROXIES
NETS = (ipaddress.ip_network("10.0.0.0/8"), *LOOPBACK)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Not from a proxy: the connection's address, whatever the header says.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("198.51.100.7", "", "198.51.100.7"),
        # From the proxy: the address it wrote.
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        # A client's forged hop left of the proxy's: never read.
        ("127.0.0.1", "192.0.2.66, 203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "10.1.2.3, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
        # Every hop a proxy: the left-most (a request from the proxies' own network).
        ("127.0.0.1", "10.0.0.5, 127.0.0.1", "10.0.0.5"),
        # The proxy forwarded nothing: itself.
        ("127.0.0.1", "", "127.0.0.1"),
        ("::1", "2001:db8::1", "2001:db8::1"),
        # Garbage where the client should be: no address anyone can choose.
        ("127.0.0.1", "203.0.113.9, not-an-address", "unknown"),
        ("unknown", "203.0.113.9", "unknown"),
    ],
)
def test_forwarded_client(peer: str, forwarded: str, expected: str) -> None:
    assert client.forwarded_client(peer, forwarded, NETS) == expected


def test_no_trusted_proxy_believes_nobody() -> None:
    assert client.forwarded_client("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"


def test_trusted_proxies_setting() -> None:
    production = {
        "SHIORI_ENV": "production",
        "SHIORI_SECRET_KEY": "k" * 40,
        "SHIORI_PUBLIC_URL": "https://opac.example.jp",
    }
    assert load_settings(production).trusted_proxies == LOOPBACK
    assert load_settings({}).trusted_proxies == ()
    assert load_settings(production | {"SHIORI_TRUSTED_PROXIES": "none"}).trusted_proxies == ()
    assert load_settings({"SHIORI_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(SettingsError, match="SHIORI_TRUSTED_PROXIES"):
        load_settings({"SHIORI_TRUSTED_PROXIES": "proxy.example.jp"})


def _search_statuses(http: TestClient, forged: list[str]) -> list[int]:
    return [http.get("/search?q=猫", headers={"X-Forwarded-For": f}).status_code for f in forged]


def test_a_forged_header_does_not_choose_the_bucket(fresh_db: Database) -> None:
    """Straight to the app from outside: every request is the connection's, so changing the
    header each time does not escape the burst limit."""
    settings = app_settings(
        fresh_db.url,
        SHIORI_TRUSTED_PROXIES="127.0.0.1",
        SHIORI_SEARCH_BURST="3",
        SHIORI_SEARCH_PER_MINUTE="1",
    )
    with TestClient(create_app(settings), client=("198.51.100.7", 40000)) as http:
        forged = [f"203.0.113.{n}" for n in range(5)]
        assert _search_statuses(http, forged) == [200, 200, 200, 429, 429]


def test_through_the_proxy_the_right_most_hop_is_counted(fresh_db: Database) -> None:
    """From the proxy, with a client's forged hop in front of the real one (a proxy that
    appends): the real client is charged, and another client is not."""
    settings = app_settings(
        fresh_db.url,
        SHIORI_TRUSTED_PROXIES="127.0.0.1",
        SHIORI_SEARCH_BURST="3",
        SHIORI_SEARCH_PER_MINUTE="1",
    )
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as http:
        forged = [f"203.0.113.{n}, 198.51.100.7" for n in range(5)]
        assert _search_statuses(http, forged) == [200, 200, 200, 429, 429]
        assert _search_statuses(http, ["198.51.100.8"]) == [200]
        # X-Forwarded-Proto from the proxy is the request's scheme.
        page = http.get("/health", headers={"X-Forwarded-Proto": "https"})
        assert page.status_code == 200 and page.text == "ok\n"


def test_busy_page_in_the_visitors_language(fresh_db: Database) -> None:
    with TestClient(create_app(app_settings(fresh_db.url))) as http:
        page = http.get("/busy/6", headers={"Accept-Language": "ja"})
        assert page.status_code == 429
        assert page.headers["retry-after"] == "6"
        assert "6秒待ってから" in page.text
        english = http.get("/busy/99999", headers={"Accept-Language": "en"})
        assert english.headers["retry-after"] == "3600"
        assert "wait 3600 seconds" in english.text


def test_static_urls_are_versioned_and_served(fresh_db: Database) -> None:
    with TestClient(create_app(app_settings(fresh_db.url))) as http:
        page = http.get("/").text
        found = re.search(r'href="(/static/([0-9a-f]{12})/site\.css)"', page)
        assert found, "the stylesheet's URL carries the static files' fingerprint"
        assert http.get(found.group(1)).status_code == 200
        assert http.get("/static/site.css").status_code == 200
        assert http.get(f"/static/{found.group(2)}/js/booklist-store.js").status_code == 200


def test_too_large_page(fresh_db: Database) -> None:
    with TestClient(create_app(app_settings(fresh_db.url))) as http:
        page = http.get("/too-large", headers={"Accept-Language": "en"})
        assert page.status_code == 413 and "Too much was sent" in page.text
