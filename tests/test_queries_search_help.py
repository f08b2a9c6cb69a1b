"""Helping the patron (issue 18): もしかして suggestions and facet counts, on the real demo
catalog, checked against direct counts."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import queries, search
from db.engine import read
from db.queries import SearchParams
from tests.conftest import Database


def titles(q: str) -> list[str]:
    return [h.title for h in queries.search_works(SearchParams(q=q)).hits]


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("吾輩は描である", "吾輩は猫である"),  # a wrong kanji
        ("吾輩は猫でる", "吾輩は猫である"),  # a missing character
        ("銀河鉄到の夜", "銀河鉄道の夜"),  # a wrong kanji of the same reading (道/到: とう)
        ("羅生問", "羅生門"),  # 門/問: もん
        ("走れメロソ", "走れメロス"),  # a wrong katakana
        ("はしれめろそ", "走れメロス"),  # a mistyped reading: the title is offered
        ("銀河道鉄の夜", "銀河鉄道の夜"),  # two characters swapped
    ],
)
def test_a_mistyped_title_gets_a_suggestion_that_finds_it(
    catalog_db: Database, typed: str, title: str
) -> None:
    assert title not in titles(typed)
    suggestions = queries.suggest_queries(typed)
    assert 1 <= len(suggestions) <= 3
    first = suggestions[0]
    assert title in titles(first.query)
    result = queries.search_works(SearchParams(q=first.query))
    assert first.hits == result.total > 0


def test_a_mistyped_author_with_other_words_keeps_the_other_words(catalog_db: Database) -> None:
    suggestions = queries.suggest_queries("夏目嗽石 坊っちゃん")
    assert suggestions and suggestions[0].query == "夏目漱石 坊っちゃん"
    assert "坊っちゃん" in titles(suggestions[0].query)


@pytest.mark.parametrize(
    ("typed", "fixed", "title"),
    [
        ("akutagwa", "akutagawa", "羅生門"),  # a letter missing
        ("akutagaea", "akutagawa", "羅生門"),  # a wrong letter
        ("natsme soseki", "natsume soseki", "坊っちゃん"),  # Hepburn offered, kunrei matched
        ("miyazwa kenji", "miyazawa kenji", "銀河鉄道の夜"),
    ],
)
def test_a_mistyped_romaji_name_gets_its_hepburn_spelling(
    catalog_db: Database, typed: str, fixed: str, title: str
) -> None:
    assert title not in titles(typed)
    suggestions = queries.suggest_queries(typed)
    assert suggestions and suggestions[0].query == fixed
    assert suggestions[0].hits == queries.search_works(SearchParams(q=fixed)).total
    assert title in titles(f"{fixed} {title}")  # the author's work, by the romaji offered


def test_every_suggestion_finds_something(catalog_db: Database) -> None:
    for typed in ("芥川竜之助", "コンピュータの歴吏", "宮沢賢冶"):
        for s in queries.suggest_queries(typed):
            assert queries.search_works(SearchParams(q=s.query)).total == s.hits > 0
            assert search.normalise(s.query) != search.normalise(typed)


def test_nothing_is_suggested_for_short_words_or_nonsense(catalog_db: Database) -> None:
    assert queries.suggest_queries("") == ()
    assert queries.suggest_queries("ゑ") == ()
    assert queries.suggest_queries("9784000000000") == ()
    assert queries.suggest_queries("ｑｑｑｑｑｑｑｑｑ") == ()


def _direct_counts(conn: object, ids: list[int]) -> dict[str, dict[str, int]]:
    """The facets counted the plain way, work by work, for comparison."""
    out: dict[str, dict[str, int]] = {"branch": {}, "material_type": {}, "ndc_class": {}}
    out["decade"] = {}
    for work_id in ids:
        rows = conn.execute(  # type: ignore[attr-defined]
            text(
                "SELECT b.code, it.status, it.material_type FROM item it "
                "JOIN branch b ON b.id = it.branch_id WHERE it.work_id = :id"
            ),
            {"id": work_id},
        ).all()
        for code in {r.code for r in rows if r.status == "available"}:
            out["branch"][code] = out["branch"].get(code, 0) + 1
        for mtype in {r.material_type for r in rows}:
            out["material_type"][mtype] = out["material_type"].get(mtype, 0) + 1
        classes = conn.execute(  # type: ignore[attr-defined]
            text("SELECT DISTINCT cls FROM work_ndc WHERE work_id = :id"), {"id": work_id}
        ).scalars()
        for cls in classes:
            out["ndc_class"][cls] = out["ndc_class"].get(cls, 0) + 1
        year = conn.execute(  # type: ignore[attr-defined]
            text("SELECT pub_year FROM work WHERE id = :id"), {"id": work_id}
        ).scalar_one()
        if year is not None:
            decade = str(year // 10 * 10)
            out["decade"][decade] = out["decade"].get(decade, 0) + 1
    return out


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(q="銀河鉄道"),
        SearchParams(q="夏目漱石"),
        SearchParams(q="歴史"),
        SearchParams(q="夏目漱石", material_type="bunko"),
    ],
)
def test_facet_counts_are_over_the_whole_result_set(
    catalog_db: Database, params: SearchParams
) -> None:
    first = queries.search_works(params)
    assert not first.total_is_lower_bound and first.page_count >= 1
    ids = [h.id for h in first.hits]
    for page in range(2, first.page_count + 1):
        ids += [
            h.id for h in queries.search_works(SearchParams(**{**vars(params), "page": page})).hits
        ]
    assert len(ids) == first.total
    facets = queries.get_search_facets(params)
    with read() as conn:
        expected = _direct_counts(conn, ids)
    assert {f.key: f.count for f in facets.branches} == expected["branch"]
    assert {f.key: f.count for f in facets.material_types} == expected["material_type"]
    assert {f.key: f.count for f in facets.ndc_classes} == {
        k: v for k, v in expected["ndc_class"].items() if k in queries.NDC_CLASSES
    }
    assert {f.key: f.count for f in facets.decades} == expected["decade"]
    assert [int(f.key) for f in facets.decades] == sorted(
        (int(f.key) for f in facets.decades), reverse=True
    )


def test_choosing_a_facet_finds_exactly_its_count(catalog_db: Database) -> None:
    facets = queries.get_search_facets(SearchParams(q="夏目漱石"))
    for f in facets.material_types:
        assert (
            queries.search_works(SearchParams(q="夏目漱石", material_type=f.key)).total == f.count
        )
    for f in facets.ndc_classes:
        assert queries.search_works(SearchParams(q="夏目漱石", ndc_class=f.key)).total == f.count
    for f in facets.decades:
        year = int(f.key)
        found = queries.search_works(SearchParams(q="夏目漱石", year_from=year, year_to=year + 9))
        assert found.total == f.count
    for f in facets.branches:
        assert queries.search_works(SearchParams(q="夏目漱石", branch=f.key)).total == f.count


def test_a_mistyped_reading_offers_the_title_it_reads(catalog_db: Database) -> None:
    suggestions = queries.suggest_queries("はしれめろそ")
    assert suggestions and suggestions[0].query == "走れメロス"


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(q="銀河鉄道"),
        SearchParams(q="夏目漱石"),
        SearchParams(q="ぎんがてつ"),  # a reading's prefix: prefix matches join the ranking
        SearchParams(q="夏目漱石", material_type="bunko"),
        SearchParams(q="夏目漱石", sort="year_desc", page=2),
        SearchParams(title="銀河鉄道", author="宮沢"),
    ],
)
def test_facets_from_the_ranking_query_equal_a_fresh_count(
    catalog_db: Database, params: SearchParams
) -> None:
    """The ranking query lists the text matches when they are few (SearchResult.facet_works);
    the facets counted from that list equal the facets counted by matching again."""
    from db import search_cache

    result = queries.search_works(params)
    assert result.facet_works is not None and len(result.facet_works) <= queries.FACET_MAX
    search_cache.clear()
    fresh = queries.get_search_facets(params)
    search_cache.clear()
    assert queries.get_search_facets(params, result.facet_works) == fresh


def test_many_text_matches_are_not_listed(catalog_db: Database) -> None:
    result = queries.search_works(SearchParams(q="の"))
    assert result.total > queries.FACET_MAX and result.facet_works is None
