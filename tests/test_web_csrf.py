"""One CSRF check for the whole site: every route that accepts an unsafe method, patron or
staff, refuses a request without the token or from another origin before its handler runs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from web import booklist
from web.security import SAFE_METHODS

_PARAM = re.compile(r"{(\w+)(:int)?}")


def _unsafe_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, sample URL) of every route, mounted ones included, that accepts an unsafe
    method; path parameters get a sample value of their type."""
    for route in routes:
        if isinstance(route, Mount):
            yield from _unsafe_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            url = _PARAM.sub(lambda m: "1" if m.group(2) else "x", prefix + route.path)
            for method in sorted(set(route.methods or ()) - SAFE_METHODS):
                yield method, url


def _token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_every_unsafe_route_refuses_a_missing_token_or_a_foreign_origin(
    client: TestClient,
) -> None:
    token = _token(client)  # the signed anonymous seed, valid on every route before login
    checked: set[str] = set()
    for method, url in _unsafe_routes(list(client.app.routes)):  # type: ignore[attr-defined]
        if url in booklist.CSRF_EXEMPT:
            continue
        missing = client.request(method, url, data={"card": "1"}, follow_redirects=False)
        assert missing.status_code == 403, (method, url, missing.status_code)
        wrong = client.request(method, url, data={"csrf_token": "forged"}, follow_redirects=False)
        assert wrong.status_code == 403, (method, url, wrong.status_code)
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            foreign = client.request(
                method, url, data={"csrf_token": token}, headers=headers, follow_redirects=False
            )
            assert foreign.status_code == 403, (method, url, headers, foreign.status_code)
        # The same request from this site gets past the check (to a login redirect, a
        # refusal or the page): the 403s above are the CSRF check's.
        own = client.request(method, url, data={"csrf_token": token}, follow_redirects=False)
        assert own.status_code != 403, (method, url)
        checked.add(url)
    assert "/login" in checked and "/my/loans/renew-all" in checked
    assert "/staff/counter/return" in checked and "/staff/login" in checked
    assert len(checked) >= 35


def test_the_header_token_counts_like_the_form_field(client: TestClient) -> None:
    token = _token(client)
    sent = client.post(
        "/login", data={"card": "1", "password": "x"}, headers={"X-CSRF-Token": token}
    )
    assert sent.status_code == 422  # past the check, refused by the login itself
    assert client.post("/login", headers={"X-CSRF-Token": "forged"}).status_code == 403


def test_only_the_availability_lookup_is_exempt(client: TestClient) -> None:
    assert booklist.CSRF_EXEMPT == ("/booklist/availability",)
    lookup = client.post("/booklist/availability", json={"ids": [1]})
    assert lookup.status_code == 200 and "records" in lookup.json()


def test_a_form_beyond_the_limits_is_400(client: TestClient) -> None:
    token = _token(client)
    fields = {f"f{i}": "x" for i in range(60)}
    response = client.post("/login", data={**fields, "csrf_token": token})
    assert response.status_code == 400


def test_the_origin_is_checked_against_the_public_url_not_the_host_header(
    client: TestClient,
) -> None:
    """A Host header is the client's to choose: an attacker's page on evil.example sent to
    this server with `Host: evil.example` must not count as this site."""
    token = _token(client)
    data = {"csrf_token": token, "card": "1", "password": "x"}
    own = client.post("/login", data=data, headers={"Origin": "http://127.0.0.1:8000"})
    assert own.status_code == 422  # the configured public URL (the demo's default)
    for origin, host in (
        ("http://evil.example", "evil.example"),
        ("http://testserver", "testserver"),  # the request's own Host, not the public URL
    ):
        forged = client.post("/login", data=data, headers={"Origin": origin, "Host": host})
        assert forged.status_code == 403, origin
