"""My Booklist over HTTP: the JSON API moves only base64 ciphertext and wrapped keys,
checks CSRF and origin, refuses stale versions with 409, and the password pages warn."""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from starlette.testclient import TestClient

from db import queries
from tests.test_web_account import HANAKO, csrf_of, log_in

OTHER = ("2100000004", "misaki-no-hon-99")


def _b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def _login(web: TestClient, who: tuple[str, str] = HANAKO) -> str:
    assert log_in(web, *who).status_code == 303  # type: ignore[attr-defined]
    return csrf_of(web.get("/my/password").text)


def _post(web: TestClient, path: str, token: str, body: dict[str, Any]) -> Any:
    return web.post(path, json=body, headers={"X-CSRF-Token": token})


def _create(web: TestClient, token: str, key_id: str = "0" * 32) -> Any:
    return _post(
        web,
        "/my/booklist/create",
        token,
        {
            "key_id": key_id,
            "kdf_salt": _b64(16),
            "kdf_iterations": 600_000,
            "wrapped_key": _b64(40),
            "nonce": _b64(12),
            "ciphertext": _b64(4112),
        },
    )


def test_page_needs_login_and_has_no_inline_script(web: TestClient) -> None:
    assert web.get("/my/booklist", follow_redirects=False).status_code == 303
    _login(web)
    page = web.get("/my/booklist")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert re.search(r'src="/static/[0-9a-f]{12}/js/booklist.js"', page.text)
    assert "<script>" not in page.text and "onerror" not in page.text
    assert "システム会社" in page.text  # the threat model is on the page


def test_create_save_conflict_and_state(web: TestClient) -> None:
    token = _login(web)
    assert web.get("/my/booklist/state").json()["exists"] is False
    assert _create(web, token).json() == {"version": 1}
    assert _create(web, token).status_code == 409
    body = {"key_id": "0" * 32, "base_version": 1, "nonce": _b64(12), "ciphertext": _b64(4112)}
    assert _post(web, "/my/booklist/save", token, body).json() == {"version": 2}
    stale = _post(web, "/my/booklist/save", token, body)
    assert stale.status_code == 409 and stale.json()["version"] == 2
    state = web.get("/my/booklist/state").json()
    assert state["version"] == 2 and state["ciphertext"] == body["ciphertext"]
    assert state["min_iterations"] >= 600_000


def test_csrf_origin_and_content_type_are_checked(web: TestClient) -> None:
    token = _login(web)
    assert _create(web, "wrong-token").status_code == 403
    cross = web.post(
        "/my/booklist/create",
        json={},
        headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    form = web.post("/my/booklist/create", data={"a": "b"}, headers={"X-CSRF-Token": token})
    assert form.status_code == 403
    assert web.get("/my/booklist/state").json()["exists"] is False


def test_bad_shapes_are_400(web: TestClient) -> None:
    token = _login(web)
    bad = _post(
        web,
        "/my/booklist/create",
        token,
        {"key_id": "x", "kdf_salt": "!!", "kdf_iterations": 1, "wrapped_key": "", "nonce": ""},
    )
    assert bad.status_code == 400
    weak = _post(
        web,
        "/my/booklist/create",
        token,
        {
            "key_id": "0" * 32,
            "kdf_salt": _b64(16),
            "kdf_iterations": 1000,
            "wrapped_key": _b64(40),
            "nonce": _b64(12),
            "ciphertext": _b64(4112),
        },
    )
    assert weak.status_code == 422


def test_another_patron_never_sees_the_list(web: TestClient) -> None:
    token = _login(web)
    _create(web, token)
    web.cookies.clear()
    _login(web, OTHER)
    assert web.get("/my/booklist/state").json()["exists"] is False


def test_availability_is_public_and_validated(web: TestClient) -> None:
    hit = queries.search_works(queries.SearchParams(q="の")).hits[0]
    answer = web.post("/booklist/availability", json={"ids": [hit.id, 999999999]})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    records = answer.json()["records"]
    assert set(records) == {str(hit.id)}
    assert records[str(hit.id)]["copies"] == hit.copies
    for bad in ({"ids": "1;DROP"}, {"ids": []}, {"ids": [True]}, {"ids": list(range(1, 600))}):
        assert web.post("/booklist/availability", json=bad).status_code == 400
    assert web.get("/booklist/availability?ids=1").status_code == 405


def test_change_password_without_rewrap_is_refused_when_a_list_exists(web: TestClient) -> None:
    token = _login(web)
    _create(web, token)
    refused = web.post(
        "/my/password",
        data={
            "csrf_token": token,
            "current_password": HANAKO[1],
            "new_password": "another-pass-77",
            "new_password_again": "another-pass-77",
        },
    )
    assert refused.status_code == 422
    assert "JavaScript" in refused.text
    web.cookies.clear()
    assert log_in(web, *HANAKO).status_code == 303  # type: ignore[attr-defined]


def test_record_and_results_offer_add_to_booklist(web: TestClient) -> None:
    hit = queries.search_works(queries.SearchParams(q="の")).hits[0]
    anonymous = web.get(f"/records/{hit.id}").text
    assert "booklist-add-login" in anonymous
    _login(web)
    record = web.get(f"/records/{hit.id}").text
    assert f'data-record-id="{hit.id}"' in record and "booklist-session.js" in record
    results = web.get("/search?q=の").text
    assert results.count('class="booklist-add') >= 1
    assert results.count("booklist-session.js") == 1
    assert 'href="/my/booklist"' in web.get("/my").text
