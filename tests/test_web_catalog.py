"""Catalog pages over HTTP: full pages and htmx fragments, errors, headers, hostile input."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from tests.conftest import Database, app_settings
from web.app import create_app

HTMX = {"HX-Request": "true", "HX-Target": "results"}


def test_home_has_the_search_box(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<input type="search" id="q" name="q"' in page.text
    assert '<html lang="ja">' in page.text
    assert 'rel="search" type="application/opensearchdescription+xml"' in page.text


def test_search_is_a_full_page_with_results_and_count(client: TestClient) -> None:
    page = client.get("/search", params={"q": "わがはいはねこ"})
    assert page.status_code == 200
    assert page.text.startswith("<!doctype html>")
    assert "吾輩は猫である" in page.text
    assert re.search(r'<span class="count">\d+件</span>', page.text)
    assert page.headers["vary"].startswith("HX-Request")


def test_htmx_gets_only_the_results_fragment(client: TestClient) -> None:
    fragment = client.get("/search", params={"q": "夏目漱石 猫"}, headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert '<section class="results"' in fragment.text
    assert "吾輩は猫である" in fragment.text


def test_hits_link_to_their_records_whose_h1_is_the_title(client: TestClient) -> None:
    page = client.get("/search", params={"q": "吾輩は猫である"})
    href = re.search(
        r'<a class="hit-title" href="(/records/\d+)\?back=[^"]*">吾輩は猫である</a>', page.text
    )
    assert href
    record = client.get(href.group(1))
    assert record.status_code == 200
    assert "<h1>吾輩は猫である</h1>" in record.text
    assert "請求記号" in record.text or "所蔵なし" in record.text


def test_unknown_record_is_404_page(client: TestClient) -> None:
    missing = client.get("/records/999999999")
    assert missing.status_code == 404
    assert "見つかりません" in missing.text
    assert client.get("/records/abc").status_code == 404
    assert client.get("/no-such-page").status_code == 404


def test_htmx_errors_are_retargeted_to_alerts(client: TestClient) -> None:
    missing = client.get("/records/999999999", headers=HTMX)
    assert missing.status_code == 404
    assert missing.headers["HX-Retarget"] == "#alerts"
    assert "<html" not in missing.text


def test_bad_year_is_422_with_message_next_to_the_field(client: TestClient) -> None:
    page = client.get("/search", params={"q": "猫", "year_from": "19x5"})
    assert page.status_code == 422
    field = re.search(r'<input type="text" id="f-year_from"[^>]*>', page.text)
    assert field and 'value="19x5"' in field[0]
    assert 'aria-describedby="years-help year_from-error" aria-invalid="true"' in field[0]
    assert 'id="year_from-error">出版年は西暦4桁（1990など）か和暦（平成2、H2など）' in page.text
    assert "西暦・和暦どちらでも：1990、平成2、H2" in page.text  # the hint says it first
    reversed_years = client.get(
        "/search", params={"q": "猫", "year_from": "2000", "year_to": "1990"}
    )
    assert reversed_years.status_code == 422
    beyond_its_era = client.get("/search", params={"q": "猫", "year_to": "平成32"})
    assert beyond_its_era.status_code == 422
    assert 'id="year_to-error"' in beyond_its_era.text


@pytest.mark.parametrize(
    ("year_from", "year_to"),
    [("平成2", "令和8"), ("H2", "R8"), ("１９９０", "２０２６年"), ("平成元年", "2026")],
)
def test_years_in_wareki_and_full_width_digits_are_read(
    client: TestClient, year_from: str, year_to: str
) -> None:
    page = client.get("/search", params={"q": "猫", "year_from": year_from, "year_to": year_to})
    assert page.status_code == 200
    assert 'aria-invalid="true"' not in page.text
    assert f'value="{year_from}"' in page.text  # kept as typed
    wrong_way = client.get("/search", params={"q": "猫", "year_from": "R8", "year_to": "平成2"})
    assert wrong_way.status_code == 422  # compared as years: 2026 is after 1990


def _advanced_oob(text: str) -> str | None:
    found = re.search(
        r'<div id="advanced-fields" hx-swap-oob="true"[^>]*>.*?</details>', text, re.S
    )
    return found[0] if found else None


def test_htmx_errors_send_the_fields_again_with_each_error_next_to_its_field(
    client: TestClient,
) -> None:
    answer = client.get("/search", params={"q": "猫", "year_to": "19x"}, headers=HTMX)
    assert answer.status_code == 422
    assert "<html" not in answer.text
    fields = _advanced_oob(answer.text)
    assert fields is not None
    year_to = re.search(r'<input type="text" id="f-year_to"[^>]*>', fields)
    assert year_to and 'aria-invalid="true"' in year_to[0] and 'value="19x"' in year_to[0]
    assert '<p class="field-error" id="year_to-error">' in fields
    assert '<details class="advanced" open>' in fields
    # A full page has its fields in the form: nothing out of band.
    page = client.get("/search", params={"q": "猫", "year_to": "19x"})
    assert page.status_code == 422 and "hx-swap-oob" not in page.text


def test_a_corrected_search_sends_the_fields_again_without_the_errors(client: TestClient) -> None:
    shown = "http://testserver/search?q=%E7%8C%AB&year_to=19x"
    corrected = client.get(
        "/search",
        params={"q": "猫", "year_to": "平成2"},
        headers={**HTMX, "HX-Current-URL": shown},
    )
    assert corrected.status_code == 200
    fields = _advanced_oob(corrected.text)
    assert fields is not None and 'value="平成2"' in fields
    assert 'aria-invalid="true"' not in fields and "field-error" not in fields
    # The page showed no errors: the fields, as typed since, are left alone.
    clean = "http://testserver/search?q=%E7%8C%AB&year_to=1990"
    for current in (clean, "http://testserver/new?year_to=19x"):
        again = client.get(
            "/search",
            params={"q": "猫", "year_to": "平成2"},
            headers={**HTMX, "HX-Current-URL": current},
        )
        assert again.status_code == 200 and _advanced_oob(again.text) is None


def test_unknown_choices_are_refused_not_trusted(client: TestClient) -> None:
    page = client.get(
        "/search", params={"q": "猫", "sort": "title; DROP TABLE work", "branch": "x"}
    )
    assert page.status_code == 422
    assert "選択肢から選んでください" in page.text


@pytest.mark.parametrize(
    "raw_query",
    [
        "q=%FF%FE",  # invalid UTF-8
        "q=%E7%8C",  # truncated UTF-8 sequence
        "q=%00%01%1b",  # control characters
        "q=%22NEAR(%2A",  # FTS syntax
        "q=" + "%E7%8C%AB" * 3000,  # very long
        "q=1%27%20OR%201%3D1--",
        "page=-5&q=%E7%8C%AB",
        "page=99999999999999999999&q=%E7%8C%AB",
    ],
)
def test_hostile_urls_never_error(client: TestClient, raw_query: str) -> None:
    response = client.get("/search?" + raw_query)
    assert response.status_code == 200
    assert "<!doctype html>" in response.text


def test_long_query_is_cut_with_a_notice(client: TestClient) -> None:
    page = client.get("/search", params={"q": "猫" * 500})
    assert "検索語が長すぎるため" in page.text


def test_user_text_is_escaped(client: TestClient) -> None:
    payload = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    page = client.get("/search", params={"q": payload, "title": payload})
    assert "<script>alert(1)</script>" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in headers  # plain http demo


def test_no_inline_script_in_pages(client: TestClient) -> None:
    for url in ("/", "/search?q=猫", "/about"):
        scripts = re.findall(r"<script[^>]*>", client.get(url).text)
        assert scripts and all('src="/static/' in s for s in scripts)
        assert " on" not in "".join(re.findall(r"<[^>]+ on\w+=", client.get(url).text))


def test_english_switch(client: TestClient) -> None:
    switched = client.get("/lang/en", params={"next": "/search?q=猫"}, follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/search?q=%E7%8C%AB"
    page = client.get("/search", params={"q": "猫"})
    assert '<html lang="en">' in page.text and "results" in page.text
    client.get("/lang/ja")
    assert '<html lang="ja">' in client.get("/").text


def test_language_switch_is_not_an_open_redirect(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
        assert response.headers["location"] == "/"


def test_about_credits_the_sources(client: TestClient) -> None:
    page = client.get("/about")
    assert "「青空文庫」" in page.text
    assert "CC BY 4.0" in page.text
    assert "国立国会図書館書誌データをもとに作成" in page.text


def test_opensearch_description(client: TestClient) -> None:
    response = client.get("/opensearch.xml")
    assert response.headers["content-type"].startswith("application/opensearchdescription+xml")
    # The configured public URL (the demo's default), not the request's Host.
    assert 'template="http://127.0.0.1:8000/search?q={searchTerms}"' in response.text


def test_opensearch_urls_come_from_the_public_url_not_the_host_header(
    catalog_db: Database,
) -> None:
    settings = app_settings(catalog_db.url, SHIORI_PUBLIC_URL="https://opac.example.jp")
    with TestClient(create_app(settings)) as client:
        response = client.get("/opensearch.xml", headers={"Host": "evil.example"})
    assert 'template="https://opac.example.jp/search?q={searchTerms}"' in response.text
    assert 'template="https://opac.example.jp/opensearch.xml"' in response.text
    assert "evil.example" not in response.text


def test_pagination_links_keep_the_query(client: TestClient) -> None:
    page = client.get("/search", params={"q": "宮沢賢治", "ndc_class": "9"})
    q = "%E5%AE%AE%E6%B2%A2%E8%B3%A2%E6%B2%BB"
    assert f'rel="next" href="/search?q={q}&amp;ndc_class=9&amp;page=2"' in page.text


def test_a_mistyped_title_gets_a_did_you_mean_link_that_finds_it(client: TestClient) -> None:
    page = client.get("/search", params={"q": "吾輩は描である"})
    assert page.status_code == 200
    assert "もしかして" in page.text
    link = re.search(
        r'<div class="suggestions">.*?<a href="([^"]+)">吾輩は猫である</a>', page.text, re.S
    )
    assert link
    found = client.get(link.group(1).replace("&amp;", "&"))
    assert 'class="hit-title"' in found.text and ">吾輩は猫である</a>" in found.text


def test_nothing_is_suggested_when_there_are_hits(client: TestClient) -> None:
    page = client.get("/search", params={"q": "吾輩は猫である"})
    assert "もしかして" not in page.text and 'class="suggestions"' not in page.text


def test_facets_are_links_that_narrow_the_results(client: TestClient) -> None:
    page = client.get("/search", params={"q": "夏目漱石"})
    assert '<nav class="facets" aria-labelledby="facets-heading">' in page.text
    assert '<h2 id="facets-heading">絞り込み</h2>' in page.text
    assert "出版年代" in page.text and "資料種別" in page.text and "在架している館" in page.text
    literature = re.search(
        r'<a id="facet-ndc_class-\d+" href="([^"]+)" hx-get="\1" hx-target="#results" '
        r'hx-push-url="true">9 文学 <span class="facet-count">（(\d+)）</span>',
        page.text,
    )
    assert literature, "NDC class 9 is named and counted"
    narrowed = client.get(literature.group(1).replace("&amp;", "&"))
    assert re.search(rf'<span class="count">{literature.group(2)}件</span>', narrowed.text)
    # The chosen facet is marked and links back to the search without it.
    chosen = re.search(
        r'<a id="facet-ndc_class-\d+" href="([^"]+)"[^>]*aria-current="true"', narrowed.text
    )
    assert chosen and "ndc_class" not in chosen.group(1)
    # The other classes are gone from that group: following one would replace the chosen
    # class, so a count within it would promise what the link does not give.
    assert len(re.findall(r'id="facet-ndc_class-\d', narrowed.text)) == 1


def test_a_facet_followed_with_htmx_refreshes_the_advanced_fields(client: TestClient) -> None:
    headers = {**HTMX, "HX-Trigger": "facet-ndc_class-1"}
    fragment = client.get("/search", params={"q": "夏目漱石", "ndc_class": "9"}, headers=headers)
    fields = _advanced_oob(fragment.text)
    assert fields is not None and '<option value="9" selected>' in fields
    # Sent again with what makes a change of a filter search at once (htmx binds it to
    # the fields there are when it processes the element: the new ones).
    assert 'hx-trigger="change from:.refine"' in fields
    plain = client.get("/search", params={"q": "夏目漱石", "ndc_class": "9"}, headers=HTMX)
    assert "hx-swap-oob" not in plain.text


def test_record_links_its_authors_and_subjects_to_searches(client: TestClient) -> None:
    page = client.get("/search", params={"q": "吾輩は猫である"})
    href = re.search(r'<a class="hit-title" href="(/records/\d+)\?', page.text)
    assert href
    record = client.get(href.group(1))
    assert "この著者の資料" in record.text
    author = re.search(
        r'<p class="authors"><a href="(/search\?author=[^"]+)">([^<]+)</a>', record.text
    )
    assert author
    by_author = client.get(author.group(1).replace("&amp;", "&"))
    assert by_author.text.count('class="hit-title"') == 20  # 夏目漱石 wrote more than a page
    assert by_author.text.count(f"<span>{author.group(2)}") >= 20


def test_no_facets_for_a_result_set_too_large_to_count(client: TestClient) -> None:
    page = client.get("/search", params={"q": "の"})
    count = re.search(r'<span class="count">([\d,]+)', page.text)
    assert count and int(count.group(1).replace(",", "")) > 200  # FACET_MAX
    assert 'class="facets"' not in page.text


def _hits(client: TestClient, **params: str) -> int:
    """The result count the page states (0 when it states none)."""
    page = client.get("/search", params=params)
    assert page.status_code == 200, (params, page.text)
    found = re.search(r'<span class="count">([\d,]+)件</span>', page.text)
    return int(found.group(1).replace(",", "")) if found else 0


def test_advanced_fields_read_full_width_digits_and_any_hyphen(client: TestClient) -> None:
    """People type with the IME on: ９１３, ２０１０ and an ISBN with ー or – are the same
    search as 913, 2010 and the ISBN in ASCII."""
    from sqlalchemy import text

    from db import engine

    by_ndc = _hits(client, q="芥川", ndc="913")
    assert by_ndc > 0
    assert _hits(client, q="芥川", ndc="９１３") == by_ndc
    assert _hits(client, q="芥川", ndc="９１３．") == _hits(client, q="芥川", ndc="913.")
    years = {"year_from": "1900", "year_to": "2030"}
    by_year = _hits(client, q="芥川", **years)
    assert by_year > 0
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    assert _hits(client, q="芥川", **{k: v.translate(wide) for k, v in years.items()}) == by_year
    with engine.read() as conn:
        isbn = conn.execute(text("SELECT MIN(isbn13) FROM work_isbn")).scalar_one()
    by_isbn = _hits(client, isbn=isbn)
    assert by_isbn > 0
    for hyphen in ("ー", "–", "−", "—", "―", "‒", "－"):
        typed = f"{isbn[:3]}{hyphen}{isbn[3]}{hyphen}{isbn[4:12]}{hyphen}{isbn[12]}"
        assert _hits(client, isbn=typed.translate(wide)) == by_isbn, typed
