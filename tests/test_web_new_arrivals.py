"""/new and its Atom feeds over HTTP (issue 17): importing a MARC file with copies makes
its works appear on the page and in the feed, which a real XML parser reads as Atom."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from db import queries
from tests.arrivals_data import FIRST_TITLE, marc_with_copies
from tests.test_web_account import HTMX

ATOM = "{http://www.w3.org/2005/Atom}"


def today() -> date:
    return queries.list_new_arrivals(queries.NewArrivalsQuery()).today


def parse_feed(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    return root


def test_imported_works_appear_on_new_and_in_its_feed(web: TestClient, tmp_path: Path) -> None:
    before = web.get("/new")
    assert before.status_code == 200 and FIRST_TITLE not in before.text
    queries.import_catalog_file(marc_with_copies(tmp_path, today() - timedelta(days=1)))

    page = web.get("/new")
    assert FIRST_TITLE in page.text
    alternate = re.search(
        r'<link id="feed-link" rel="alternate" type="application/atom\+xml" href="([^"]+)"',
        page.text,
    )
    assert alternate is not None and alternate.group(1) == "/new.atom"

    response = web.get(alternate.group(1))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = parse_feed(response.content)
    assert feed.findtext(f"{ATOM}id", "").endswith("/new.atom")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00\+09:00", feed.findtext(f"{ATOM}updated", ""))
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title", "") for e in entries]
    assert any(t.startswith(FIRST_TITLE) for t in titles)
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}updated")
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link is not None
        record = web.get(urlsplit(link.attrib["href"]).path)
        assert record.status_code == 200


def test_every_filter_has_its_feed(web: TestClient, tmp_path: Path) -> None:
    queries.import_catalog_file(marc_with_copies(tmp_path, today(), branch="minami"))
    page = web.get("/new?days=30&branch=minami&ndc=0&children=&type=book")
    assert FIRST_TITLE in page.text
    feed_href = re.search(r'rel="alternate" type="application/atom\+xml" href="([^"]+)"', page.text)
    assert feed_href is not None
    href = feed_href.group(1).replace("&amp;", "&")
    assert href == "/new.atom?days=30&branch=minami&type=book&ndc=0"
    feed = parse_feed(web.get(href).content)
    assert any(
        (e.findtext(f"{ATOM}title") or "").startswith(FIRST_TITLE)
        for e in feed.findall(f"{ATOM}entry")
    )
    elsewhere = parse_feed(web.get("/new.atom?branch=tsujido").content)
    assert not any(
        (e.findtext(f"{ATOM}title") or "").startswith(FIRST_TITLE)
        for e in elsewhere.findall(f"{ATOM}entry")
    )
    # Children's only: these NDL records are not.
    assert FIRST_TITLE not in web.get("/new?children=1").text


def test_unknown_filter_values_are_ignored(web: TestClient) -> None:
    response = web.get("/new?days=999&branch=%3Cscript%3E&ndc=K&type=x&page=abc")
    assert response.status_code == 200 and "<script>" not in response.text


def test_the_results_swap_with_htmx(web: TestClient, tmp_path: Path) -> None:
    queries.import_catalog_file(marc_with_copies(tmp_path, today()))
    fragment = web.get("/new?days=7", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert FIRST_TITLE in fragment.text and 'class="results"' in fragment.text
    # The head's feed link follows the filter (an out-of-band swap).
    assert 'id="feed-link"' in fragment.text and 'hx-swap-oob="true"' in fragment.text
    assert 'href="/new.atom?days=7"' in fragment.text
    assert "hx-swap-oob" not in web.get("/new?days=7").text
