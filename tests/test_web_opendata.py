"""The catalogue for other software (issue 17): JSON-LD and COinS read by real parsers,
addresses by ISBN and NDL id, canonical links, the availability API, search as Atom, the
sitemap, robots.txt, and bursts of anonymous searches slowed per address."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from urllib.robotparser import RobotFileParser

import extruct
import httpx
import lxml.html
import pytest
from starlette.testclient import TestClient

from db import catalog_write, engine, queries
from tests.conftest import Database, app_settings
from tests.test_web_account import HANAKO, log_in
from web.app import create_app
from web.settings import SettingsError
from web.settings import load as load_settings

NDL_ID = "029455884"  # これからの本の話をしよう (JAPAN/MARC 001), ISBN 978-4-7949-7075-6
ISBN13 = "9784794970756"
ISBN10 = "4794970757"
TITLE = "これからの本の話をしよう"
UNKNOWN_ISBN = "978-4-00-000000-0"  # valid check digit, in no record
ATOM = "{http://www.w3.org/2005/Atom}"
OS = "{http://a9.com/-/spec/opensearch/1.1/}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _work_id(client: TestClient) -> int:
    found = client.get(f"/ndl/{NDL_ID}", follow_redirects=False)
    assert found.status_code == 302
    return int(found.headers["location"].rsplit("/", 1)[1])


def _add_work(**fields: object) -> int:
    record = catalog_write.WorkRecord(**{"source": "marc", **fields})  # type: ignore[arg-type]
    with engine.write() as conn:
        (work_id,) = catalog_write.upsert_works(conn, [record], catalog_write.ImportReport(), None)
    return work_id


# --- JSON-LD and COinS ----------------------------------------------------------------


def test_extruct_reads_the_book_with_its_isbn(client: TestClient) -> None:
    work_id = _work_id(client)
    page = client.get(f"/records/{work_id}")
    data = extruct.extract(page.text, base_url=str(page.url), syntaxes=["json-ld"])
    (book,) = data["json-ld"]
    assert book["@type"] == "Book"
    assert book["isbn"] == ISBN13
    assert book["name"] == TITLE
    assert book["url"] == f"http://127.0.0.1:8000/records/{work_id}"
    assert [a["name"] for a in book["author"]] == ["萩野, 正昭"]
    assert book["publisher"]["name"] == "晶文社"
    assert book["datePublished"] == "2019"
    assert book["inLanguage"] == "ja"
    record = queries.get_record(work_id)
    offers = book["offers"]
    assert len(offers) == len([c for c in record.copies if c.status != "missing"])
    for offer, copy in zip(offers, record.copies, strict=False):
        assert offer["@type"] == "Offer"
        assert offer["availableAtOrFrom"]["name"] == copy.branch_name.get("ja")
        expected = "InStock" if copy.status == "available" else "OutOfStock"
        if copy.status == "available" and not copy.reservable:
            expected = "InStoreOnly"
        assert offer["availability"] == "https://schema.org/" + expected


def test_coins_span_carries_an_openurl_for_zotero(client: TestClient) -> None:
    work_id = _work_id(client)
    tree = lxml.html.fromstring(client.get(f"/records/{work_id}").text)
    (span,) = tree.find_class("Z3988")
    kev = parse_qs(span.get("title"))
    assert kev["ctx_ver"] == ["Z39.88-2004"]
    assert kev["rft_val_fmt"] == ["info:ofi/fmt:kev:mtx:book"]
    assert kev["rft.btitle"] == [TITLE]
    assert kev["rft.isbn"] == [ISBN13]
    assert kev["rft.au"] == ["萩野, 正昭"]
    assert kev["rft_id"] == [f"http://127.0.0.1:8000/records/{work_id}"]


def test_a_title_cannot_break_out_of_the_json_ld_block(client: TestClient) -> None:
    hostile = '</script><script>alert("x")</script><!-- & \' "'
    work_id = _add_work(source_id="xss-1", title=hostile, authors=("</SCRIPT>",))
    page = client.get(f"/records/{work_id}")
    assert page.status_code == 200
    tree = lxml.html.fromstring(page.text)
    scripts = tree.xpath("//script")
    inline = [s for s in scripts if not s.get("src")]
    assert [s.get("type") for s in inline] == ["application/ld+json"]
    assert "</script" not in inline[0].text.lower()
    data = json.loads(inline[0].text)
    assert data["name"] == hostile and data["author"][0]["name"] == "</SCRIPT>"
    (item,) = extruct.extract(page.text, syntaxes=["json-ld"])["json-ld"]
    assert item["name"] == hostile


def test_the_csp_still_forbids_inline_script_on_record_pages(client: TestClient) -> None:
    work_id = _work_id(client)
    csp = client.get(f"/records/{work_id}").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


# --- addresses by identifier and canonical links ---------------------------------------


@pytest.mark.parametrize(
    "isbn", [ISBN13, "978-4-7949-7075-6", ISBN10, "4-7949-7075-7", "９７８４７９４９７０７５６"]
)
def test_isbn_address_redirects_to_the_record(client: TestClient, isbn: str) -> None:
    work_id = _work_id(client)
    response = client.get(f"/isbn/{isbn}", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == f"/records/{work_id}"


def test_isbn_of_several_records_leads_to_a_search(client: TestClient) -> None:
    _add_work(source_id="dup-1", title="同じISBNの別の記録", isbns=("978-4-7949-7075-6",))
    response = client.get(f"/isbn/{ISBN10}", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == f"/search?isbn={ISBN13}"
    results = client.get(response.headers["location"])
    assert TITLE in results.text and "同じISBNの別の記録" in results.text


@pytest.mark.parametrize("isbn", [UNKNOWN_ISBN, "not-an-isbn", "9784794970750"])
def test_unknown_isbn_is_a_404_page_in_the_page_language(client: TestClient, isbn: str) -> None:
    response = client.get(f"/isbn/{isbn}")
    assert response.status_code == 404
    assert "この番号の資料は所蔵目録にありません。" in response.text
    client.get("/lang/en")
    english = client.get(f"/isbn/{isbn}")
    assert english.status_code == 404
    assert "No record in the catalogue has this number." in english.text


@pytest.mark.parametrize("number", [NDL_ID, "29455884", "０２９４５５８８４", "000029455884"])
def test_ndl_address_redirects_to_the_record(client: TestClient, number: str) -> None:
    response = client.get(f"/ndl/{number}", follow_redirects=False)
    assert response.status_code == 302
    record = client.get(response.headers["location"])
    assert f"<h1>{TITLE}</h1>" in record.text


@pytest.mark.parametrize("number", ["999999999", "1234567890", "abc"])
def test_unknown_ndl_number_is_404(client: TestClient, number: str) -> None:
    response = client.get(f"/ndl/{number}")
    assert response.status_code == 404
    assert "この番号の資料は所蔵目録にありません。" in response.text


def test_record_pages_have_a_canonical_link_from_the_public_url(catalog_db: Database) -> None:
    settings = app_settings(catalog_db.url, SHIORI_PUBLIC_URL="https://opac.example.jp")
    with TestClient(create_app(settings)) as client:
        work_id = _work_id(client)
        page = client.get(f"/records/{work_id}?back=/search?q=x", headers={"Host": "evil.test"})
    tree = lxml.html.fromstring(page.text)
    assert tree.xpath("//link[@rel='canonical']/@href") == [
        f"https://opac.example.jp/records/{work_id}"
    ]
    assert "evil.test" not in page.text


# --- the availability API ----------------------------------------------------------------


def _expected_states(work_id: int) -> dict[str, str]:
    record = queries.get_record(work_id)
    states = {b.code: "none" for b in queries.list_branches()}
    for code in states:
        here = [c for c in record.copies if c.branch_code == code and c.status != "missing"]
        if any(c.status == "available" and c.serves_holds for c in here):
            states[code] = "on_shelf"
        elif any(c.status == "available" for c in here):
            states[code] = "reference_only"
        elif here:
            states[code] = "on_loan"
    return states


def test_availability_of_a_known_isbn(client: TestClient) -> None:
    work_id = _work_id(client)
    response = client.get("/api/availability", params={"isbn": "978-4-7949-7075-6"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=30"
    (result,) = response.json()["results"]
    assert result["isbn13"] == ISBN13 and result["found"] is True
    (record,) = result["records"]
    assert record["id"] == work_id and record["title"] == TITLE
    assert record["url"] == f"http://127.0.0.1:8000/records/{work_id}"
    states = {b["code"]: b["status"] for b in record["branches"]}
    assert states == _expected_states(work_id)
    assert [b["code"] for b in record["branches"]] == [b.code for b in queries.list_branches()]
    assert all(b["name"]["ja"] and b["name"]["en"] for b in record["branches"])


def test_availability_of_an_unknown_isbn_says_so(client: TestClient) -> None:
    response = client.get("/api/availability", params={"isbn": UNKNOWN_ISBN})
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"query": UNKNOWN_ISBN, "isbn13": "9784000000000", "found": False, "records": []}
    ]


def test_availability_of_several_isbns_at_once(client: TestClient) -> None:
    response = client.get(
        "/api/availability", params=[("isbn", f"{ISBN10},{UNKNOWN_ISBN}"), ("isbn", "bad")]
    )
    results = response.json()["results"]
    assert [(r["query"], r["found"]) for r in results] == [
        (ISBN10, True),
        (UNKNOWN_ISBN, False),
        ("bad", False),
    ]
    assert results[2]["error"] == "not_an_isbn" and results[2]["isbn13"] is None


def test_availability_refuses_none_or_too_many(client: TestClient) -> None:
    missing = client.get("/api/availability")
    assert missing.status_code == 400 and missing.json()["error"] == "isbn_missing"
    many = ",".join([ISBN13] * (queries.MAX_AVAILABILITY_ISBNS + 1))
    too_many = client.get("/api/availability", params={"isbn": many})
    assert too_many.status_code == 400 and too_many.json()["error"] == "too_many_isbns"
    assert too_many.json()["max_isbns"] == queries.MAX_AVAILABILITY_ISBNS


def test_availability_is_rate_limited_per_address(catalog_db: Database) -> None:
    settings = app_settings(catalog_db.url, SHIORI_API_BURST="3", SHIORI_API_PER_MINUTE="6")
    app = create_app(settings)
    with TestClient(app, client=("198.51.100.7", 4000)) as one:
        answers = [one.get("/api/availability", params={"isbn": ISBN13}) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[3].json()["error"] == "rate_limited"
        assert 1 <= int(answers[3].headers["retry-after"]) <= 10
        other = TestClient(app, client=("198.51.100.8", 4000))
        assert other.get("/api/availability", params={"isbn": ISBN13}).status_code == 200


# --- search as Atom ---------------------------------------------------------------------


def test_search_atom_is_a_feed_with_opensearch_counts(client: TestClient) -> None:
    response = client.get("/search.atom", params={"q": "宮沢賢治"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    total = int(feed.findtext(f"{OS}totalResults") or "-1")
    per_page = int(feed.findtext(f"{OS}itemsPerPage") or "-1")
    assert total > per_page == queries.PAGE_SIZE
    assert feed.findtext(f"{OS}startIndex") == "1"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == per_page
    html = client.get("/search", params={"q": "宮沢賢治"}).text
    for entry in entries:
        href = entry.find(f"{ATOM}link").get("href")  # type: ignore[union-attr]
        assert href == entry.findtext(f"{ATOM}id")
        assert href.startswith("http://127.0.0.1:8000/records/")
        assert f'href="{urlsplit(href).path}?back=' in html  # the same hits as the page
        assert entry.findtext(f"{ATOM}updated")
        assert entry.findtext(f"{ATOM}title")
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"].startswith("http://127.0.0.1:8000/search.atom?q=")
    assert links["alternate"].startswith("http://127.0.0.1:8000/search?q=")
    assert "page=2" in links["next"]
    second = ET.fromstring(client.get(links["next"].removeprefix("http://127.0.0.1:8000")).content)
    assert second.findtext(f"{OS}startIndex") == str(per_page + 1)


def test_search_atom_without_hits_is_still_a_valid_feed(client: TestClient) -> None:
    moment = datetime(2030, 4, 1, 3, 4, 5, tzinfo=UTC)
    queries.set_clock(lambda: moment)  # without hits the feed is as new as the db clock's now
    try:
        feed = ET.fromstring(client.get("/search.atom", params={"q": "ｚｚｘｘｙｙｑｑ"}).content)
    finally:
        queries.set_clock(None)
    assert feed.findtext(f"{OS}totalResults") == "0"
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated") == "2030-04-01T03:04:05+00:00"


def test_opensearch_description_advertises_the_atom_feed(client: TestClient) -> None:
    description = ET.fromstring(client.get("/opensearch.xml").content)
    urls = {u.get("type"): u.get("template") for u in description}
    template = urls["application/atom+xml"]
    assert template == "http://127.0.0.1:8000/search.atom?q={searchTerms}&page={startPage?}"


# --- sitemap and robots.txt -------------------------------------------------------------


def test_sitemap_index_splits_record_addresses(catalog_db: Database) -> None:
    settings = app_settings(catalog_db.url, SHIORI_SITEMAP_SIZE="5000")
    with TestClient(create_app(settings)) as client:
        index = ET.fromstring(client.get("/sitemap.xml").content)
        assert index.tag == f"{SITEMAP}sitemapindex"
        locations = [s.findtext(f"{SITEMAP}loc") or "" for s in index]
        assert locations[0] == "http://127.0.0.1:8000/sitemaps/1.xml"
        seen: list[str] = []
        for location in locations:
            response = client.get(location.removeprefix("http://127.0.0.1:8000"))
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/xml")
            urls = ET.fromstring(response.content)
            addresses = [u.findtext(f"{SITEMAP}loc") or "" for u in urls]
            assert 0 < len(addresses) <= 5000
            assert all(u.findtext(f"{SITEMAP}lastmod") for u in urls)
            seen += addresses
        assert len(seen) == len(set(seen)) == queries.get_catalog_stats().works
        assert len(locations) == -(-max(int(u.rsplit("/", 1)[1]) for u in seen) // 5000)
        assert all(u.startswith("http://127.0.0.1:8000/records/") for u in seen)
        assert client.get(f"/sitemaps/{len(locations) + 1}.xml").status_code == 404
        assert client.get("/sitemaps/0.xml").status_code == 404


def test_sitemap_files_are_streamed_in_batches(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import opendata

    monkeypatch.setattr(opendata, "SITEMAP_BATCH", 7)
    calls: list[int] = []
    real = queries.list_sitemap_entries

    def counted(after_id: int, up_to_id: int, limit: int) -> tuple[tuple[int, object], ...]:
        calls.append(after_id)
        return real(after_id, up_to_id, limit)

    monkeypatch.setattr(queries, "list_sitemap_entries", counted)
    urls = ET.fromstring(client.get("/sitemaps/1.xml").content)
    assert len(urls) == min(50_000, queries.get_catalog_stats().works)
    assert len(calls) >= len(urls) // 7


def test_robots_lets_crawlers_reach_records_but_not_search_or_accounts(
    client: TestClient,
) -> None:
    response = client.get("/robots.txt")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    robots = RobotFileParser()
    robots.parse(response.text.splitlines())
    for allowed in ("/records/1", "/isbn/9784794970756", "/reference", "/about", "/calendar"):
        assert robots.can_fetch("*", allowed), allowed
    for refused in (
        "/search?q=x",
        "/search.atom?q=x",
        "/my",
        "/my/loans",
        "/login",
        "/password",
        "/register",
        "/staff",
        "/staff/counter",
        "/api/availability?isbn=1",
    ):
        assert not robots.can_fetch("*", refused), refused
    assert robots.site_maps() == ["http://127.0.0.1:8000/sitemap.xml"]


# --- bursts of anonymous searches -------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def burst_app(catalog_db: Database) -> Iterator[tuple[TestClient, FakeClock]]:
    app = create_app(app_settings(catalog_db.url))
    clock = FakeClock()
    app.state.search_buckets.clock = clock
    with TestClient(app, client=("203.0.113.9", 5000)) as client:
        yield client, clock


def test_a_burst_of_200_searches_in_10_s_gets_429s_while_another_address_is_served(
    burst_app: tuple[TestClient, FakeClock],
) -> None:
    client, clock = burst_app
    statuses = []
    for _ in range(200):
        statuses.append(client.get("/search", params={"q": "猫"}))
        clock.now += 10 / 200
    codes = [r.status_code for r in statuses]
    assert codes[:60] == [200] * 60  # the default bucket: 60 at once
    assert codes.count(200) <= 60 + 5 + 1  # plus 30 a minute for 10 s
    assert codes.count(429) >= 130 and set(codes) == {200, 429}
    refused = next(r for r in statuses if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert "短い時間に多くの検索" in refused.text and '<html lang="ja">' in refused.text
    assert refused.headers["cache-control"] == "no-store"

    other = TestClient(client.app, client=("203.0.113.10", 5000))
    assert other.get("/search", params={"q": "猫"}).status_code == 200
    assert other.get("/search.atom", params={"q": "猫"}).status_code == 200
    # The busy address is refused on the feed too, and served again after a pause.
    assert client.get("/search.atom", params={"q": "猫"}).status_code == 429
    clock.now += 3
    assert client.get("/search", params={"q": "猫"}).status_code == 200


def test_the_429_is_in_english_and_reaches_htmx_alerts(
    burst_app: tuple[TestClient, FakeClock],
) -> None:
    client, _ = burst_app
    client.get("/lang/en")
    for _ in range(60):
        client.get("/search", params={"q": "猫"})
    page = client.get("/search", params={"q": "猫"})
    assert page.status_code == 429 and "Too many searches came from your network" in page.text
    fragment = client.get("/search", params={"q": "猫"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 429 and fragment.headers["hx-retarget"] == "#alerts"


def test_logged_in_patrons_are_not_slowed(burst_app: tuple[TestClient, FakeClock]) -> None:
    client, _ = burst_app
    for _ in range(61):
        client.get("/search", params={"q": "猫"})
    assert client.get("/search", params={"q": "猫"}).status_code == 429
    assert log_in(client, *HANAKO).status_code == 303  # type: ignore[attr-defined]
    assert all(client.get("/search", params={"q": "猫"}).status_code == 200 for _ in range(5))
    # A made-up session cookie is not a patron.
    stranger = TestClient(client.app, client=("203.0.113.9", 5001))
    stranger.cookies.set("shiori_session", "made-up")
    assert stranger.get("/search", params={"q": "猫"}).status_code == 429


def test_a_search_writes_nothing_to_the_database(burst_app: tuple[TestClient, FakeClock]) -> None:
    client, _ = burst_app
    from sqlalchemy import event

    writes: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2]).lstrip().upper()
        reading = ("SELECT", "WITH", "PRAGMA", "SET", "SHOW", "BEGIN", "COMMIT", "ROLLBACK")
        if not statement.startswith(reading):
            writes.append(statement[:40])

    with engine.read() as conn:
        bind = conn.engine
    event.listen(bind, "before_cursor_execute", record)
    try:
        for _ in range(70):
            client.get("/search", params={"q": "猫"})
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert writes == []


def test_exempt_networks_are_never_slowed(catalog_db: Database) -> None:
    settings = app_settings(
        catalog_db.url, SHIORI_SEARCH_BURST="2", SHIORI_SEARCH_BURST_EXEMPT="192.0.2.0/24"
    )
    app = create_app(settings)
    with TestClient(app, client=("192.0.2.44", 5000)) as library:
        assert all(library.get("/search?q=猫").status_code == 200 for _ in range(5))
        outside = TestClient(app, client=("198.51.100.1", 5000))
        assert [outside.get("/search?q=猫").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(
    "name,value",
    [
        ("SHIORI_SEARCH_BURST", "many"),
        ("SHIORI_SEARCH_BURST", "-1"),
        ("SHIORI_SEARCH_PER_MINUTE", "0"),
        ("SHIORI_API_BURST", "x"),
        ("SHIORI_SITEMAP_SIZE", "50001"),
        ("SHIORI_SEARCH_BURST_EXEMPT", "192.0.2.0/24, the library"),
    ],
)
def test_bad_burst_and_sitemap_settings_refuse_to_start(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_ipv6_clients_are_counted_per_64() -> None:
    from web import burst

    buckets = burst.Buckets(2, 1, clock=FakeClock())
    assert buckets.take("2001:db8:1:2::1") == 0
    assert buckets.take("2001:db8:1:2::ffff") == 0
    assert buckets.take("2001:db8:1:2:aaaa::1") > 0
    assert buckets.take("2001:db8:1:3::1") == 0
    assert burst.client_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_behind_the_proxy_the_forwarded_client_address_is_counted(fresh_db: Database) -> None:
    """A real `shiori serve` in production, as behind deploy/'s nginx on 127.0.0.1: the burst
    is counted per X-Forwarded-For client, so one busy client does not slow another."""
    from tests.browser.conftest import start_server, stop_server

    proc, base = start_server(
        fresh_db.url,
        SHIORI_ENV="production",
        SHIORI_PUBLIC_URL="https://opac.example.jp",
        SHIORI_SECRET_KEY="k" * 40,
        SHIORI_PASSWORD_HASHING="standard",
        SHIORI_SEARCH_BURST="5",
        SHIORI_SEARCH_PER_MINUTE="6",
    )
    try:
        started = time.monotonic()
        with httpx.Client(base_url=base, timeout=10) as http:
            busy = [
                http.get("/search?q=猫", headers={"X-Forwarded-For": "203.0.113.1"})
                for _ in range(12)
            ]
            other = http.get("/search?q=猫", headers={"X-Forwarded-For": "203.0.113.2"})
        assert time.monotonic() - started < 10
        assert [r.status_code for r in busy[:5]] == [200] * 5
        assert {r.status_code for r in busy[6:]} == {429}
        assert int(busy[-1].headers["retry-after"]) >= 1
        assert other.status_code == 200
    finally:
        stop_server(proc)
