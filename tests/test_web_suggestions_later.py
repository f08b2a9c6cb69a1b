"""もしかして after a few hits (issue 18, speed): a search that found one or two works shows
them at once and fetches the suggestions just after, from their own route; without
JavaScript, a link to the same suggestions as a page. Nothing found: inline, as before."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from db import queries
from tests.conftest import Database, app_settings
from web.app import create_app

ONE_HIT = "蜘蛛の糸"  # 1 work in the demo catalog; 蜘蛛の夢 is offered
SLOT = re.compile(r'<div class="suggestions-later"[^>]*>.*?</div>', re.S)


def _no_suggesting(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(q: str) -> Any:
        raise AssertionError(f"suggest_queries({q!r}) ran with the results page")

    monkeypatch.setattr(queries, "suggest_queries", refuse)


def test_a_few_hits_are_shown_without_waiting_for_suggestions(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_suggesting(monkeypatch)
    page = client.get("/search", params={"q": ONE_HIT}, headers={"Accept-Language": "ja"})
    assert page.status_code == 200
    assert ">蜘蛛の糸</a>" in page.text and 'class="suggestions"' not in page.text
    slot = SLOT.search(page.text)
    assert slot
    href = "/search/suggestions?q=%E8%9C%98%E8%9B%9B%E3%81%AE%E7%B3%B8"
    assert f'hx-get="{href}"' in slot.group(0) and 'hx-trigger="load"' in slot.group(0)
    assert 'aria-live="polite"' in slot.group(0)
    # Without JavaScript: a plain link to the same address.
    assert f'<a href="{href}">ほかの候補を探す</a>' in slot.group(0)


def test_the_fragment_holds_the_suggestions_that_find_works(client: TestClient) -> None:
    fragment = client.get(
        "/search/suggestions", params={"q": ONE_HIT}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<h1" not in fragment.text
    assert 'class="suggestions"' in fragment.text and "もしかして" in fragment.text
    link = re.search(r'<a href="([^"]+)">蜘蛛の夢</a>', fragment.text)
    assert link
    found = client.get(link.group(1).replace("&amp;", "&"))
    assert ">蜘蛛の夢</a>" in found.text
    assert fragment.headers["vary"].startswith("HX-Request")


def test_without_javascript_the_link_is_a_page_of_its_own(client: TestClient) -> None:
    page = client.get("/search/suggestions", params={"q": ONE_HIT})
    assert page.status_code == 200
    assert "<html" in page.text and "<h1>ほかの表記の候補</h1>" in page.text
    assert '<h2 id="suggestions-heading">もしかして：</h2>' in page.text
    assert ">蜘蛛の夢</a>" in page.text
    assert 'href="/search?q=%E8%9C%98%E8%9B%9B%E3%81%AE%E7%B3%B8"' in page.text  # back
    english = client.get(
        "/search/suggestions", params={"q": ONE_HIT}, headers={"Accept-Language": "en"}
    )
    assert "<h1>Other spellings</h1>" in english.text


def test_nothing_to_suggest(client: TestClient) -> None:
    fragment = client.get("/search/suggestions", params={"q": "ゑ"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.strip() == ""
    page = client.get("/search/suggestions", params={"q": ""})
    assert page.status_code == 200 and "ほかの表記では見つかりませんでした。" in page.text


def test_nothing_found_still_suggests_at_once(client: TestClient) -> None:
    page = client.get("/search", params={"q": "吾輩は描である"})
    assert 'class="suggestions"' in page.text and ">吾輩は猫である</a>" in page.text
    assert "suggestions-later" not in page.text


def test_many_hits_neither_suggest_nor_fetch(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_suggesting(monkeypatch)
    page = client.get("/search", params={"q": "銀河鉄道の夜"})
    assert page.status_code == 200 and "suggestions" not in page.text


def test_the_fragment_is_get_only(client: TestClient) -> None:
    from web import catalog

    route = next(r for r in catalog.routes if getattr(r, "name", "") == "search_suggestions")
    assert getattr(route, "methods", None) == {"GET", "HEAD"}
    assert client.post("/search/suggestions", data={"q": ONE_HIT}).status_code in (403, 405)


def test_the_fragment_takes_from_the_search_burst(catalog_db: Database) -> None:
    settings = app_settings(catalog_db.url, SHIORI_SEARCH_BURST="2", SHIORI_SEARCH_PER_MINUTE="1")
    with TestClient(create_app(settings)) as http:
        assert http.get("/search", params={"q": ONE_HIT}).status_code == 200
        fragment = {"q": ONE_HIT}, {"HX-Request": "true"}
        ok = http.get("/search/suggestions", params=fragment[0], headers=fragment[1])
        assert ok.status_code == 200
        refused = http.get("/search/suggestions", params=fragment[0])
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        # Asked by the page itself: no alert over the results (htmx swaps nothing on 204).
        quiet = http.get("/search/suggestions", params=fragment[0], headers=fragment[1])
        assert quiet.status_code == 204 and int(quiet.headers["retry-after"]) > 0
        assert quiet.text == ""
