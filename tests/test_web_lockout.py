"""Lockout is no weapon (OWASP device cookies): a browser that logged in before keeps its own
limit when others fail on its card, and a storm of failures slows the site rather than
shutting every patron out, while an unknown attacker stays limited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from db import queries, throttle
from tests import kiosk as kiosk_helpers
from tests.conftest import Database, app_settings
from tests.test_web_account import HANAKO, TARO, _without_tokens, log_in
from web.app import create_app

DEVICE = "shiori_device"
WRONG = "not-the-password"


def _closed_browser(client: TestClient) -> None:
    """The patron closed the browser: the session cookie is gone, long-lived ones stay."""
    client.cookies.delete("shiori_session")


def _lock_card_from_elsewhere(web: TestClient, card: str) -> TestClient:
    attacker = TestClient(web.app, client=("198.51.100.7", 4000))
    for _ in range(throttle.LOGIN_CARD.attempts + 3):
        assert log_in(attacker, card, WRONG).status_code == 422
    return attacker


def test_login_gives_a_signed_long_lived_device_cookie(web: TestClient) -> None:
    response = log_in(web, *HANAKO)
    assert response.status_code == 303
    device = [c for c in response.headers.get_list("set-cookie") if c.startswith(DEVICE + "=")]
    assert len(device) == 1
    assert "HttpOnly" in device[0] and "Path=/" in device[0]
    assert "Max-Age=31536000" in device[0]
    assert HANAKO[0] not in device[0]  # bound to the card by its signature, never naming it
    # Issue 15: a kiosk is an enrolled terminal, not a box ticked on the login form.
    terminal = kiosk_helpers.enrol(TestClient(web.app))
    kiosk = log_in(terminal, *HANAKO).headers.get_list("set-cookie")
    assert not [c for c in kiosk if c.startswith(DEVICE)]  # a kiosk is nobody's device


def test_device_cookie_is_secure_and_host_only_under_https(library_db: Database) -> None:
    settings = app_settings(library_db.url, SHIORI_PUBLIC_URL="https://opac.example.jp")
    with TestClient(create_app(settings), base_url="https://opac.example.jp") as client:
        cookies = log_in(client, *HANAKO).headers.get_list("set-cookie")
    device = [c for c in cookies if c.startswith("__Host-" + DEVICE + "=")]
    assert len(device) == 1 and "Secure" in device[0] and "HttpOnly" in device[0]


def test_a_known_browser_logs_in_while_others_lock_the_card(web: TestClient) -> None:
    assert log_in(web, *HANAKO).status_code == 303
    _closed_browser(web)
    attacker = _lock_card_from_elsewhere(web, HANAKO[0])
    refused = log_in(attacker, *HANAKO)  # the right password from an unknown browser: refused
    assert refused.status_code == 422
    assert log_in(web, *HANAKO).status_code == 303  # the patron's own browser is not locked
    assert web.get("/my", follow_redirects=False).status_code == 200


def test_a_known_browser_has_its_own_limit(web: TestClient) -> None:
    assert log_in(web, *HANAKO).status_code == 303
    _closed_browser(web)
    for _ in range(throttle.LOGIN_DEVICE.attempts + 1):
        wrong = log_in(web, HANAKO[0], WRONG)
    locked = log_in(web, *HANAKO)  # the device must wait now …
    assert locked.status_code == 422
    assert _without_tokens(locked.text) == _without_tokens(wrong.text)  # … and says nothing more
    # Its failures were its own: another browser is not locked out of the card.
    assert log_in(TestClient(web.app), *HANAKO).status_code == 303


def test_a_device_cookie_trusts_only_its_own_card(web: TestClient) -> None:
    assert log_in(web, *TARO).status_code == 303  # this browser knows Taro, not Hanako
    _closed_browser(web)
    _lock_card_from_elsewhere(web, HANAKO[0])
    assert log_in(web, *HANAKO).status_code == 422


def test_a_forged_device_cookie_counts_for_nothing(web: TestClient) -> None:
    _lock_card_from_elsewhere(web, HANAKO[0])
    web.cookies.set(DEVICE, "bm9uY2U.abc.forged")
    assert log_in(web, *HANAKO).status_code == 422


@pytest.fixture
def small_site_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[throttle.Limit]:
    """The site-wide count, small enough for a storm to be cheap in a test."""
    small = throttle.Limit(
        "login:all", 20, throttle.LOGIN_ALL.window, throttle.MINUTE, throttle.HOUR
    )
    monkeypatch.setattr(throttle, "LOGIN_ALL", small)
    yield small


def _storm(limit: throttle.Limit) -> None:
    """Failures on many cards from many addresses: more than the site-wide count allows."""
    timeouts = queries.Timeouts.of(30, 12)
    for n in range(limit.attempts * 2):
        with pytest.raises(queries.LoginFailed):
            queries.log_in(f"29000{n:05d}", WRONG, f"203.0.113.{n % 250}", "?", False, timeouts)


def test_a_storm_slows_the_site_but_shuts_nobody_out(
    web: TestClient, small_site_limit: throttle.Limit
) -> None:
    assert log_in(web, *HANAKO).status_code == 303
    _closed_browser(web)
    _storm(small_site_limit)
    assert log_in(web, *HANAKO).status_code == 303  # a known browser is not slowed at all
    # An unknown browser with the right password still gets in: slowed, not refused …
    patron = TestClient(web.app, client=("192.0.2.50", 4000))
    assert log_in(patron, *TARO).status_code == 303
    # … while an unknown attacker's address gets a small budget only.
    attacker = TestClient(web.app, client=("198.51.100.9", 4000))
    for n in range(throttle.LOGIN_ADDRESS_BUSY.attempts):
        assert log_in(attacker, f"28000{n:05d}", WRONG).status_code == 422
    assert log_in(attacker, *TARO).status_code == 422
    # Outside a storm the same address has the usual, larger budget.
    assert throttle.LOGIN_ADDRESS_BUSY.attempts < throttle.LOGIN_ADDRESS.attempts
