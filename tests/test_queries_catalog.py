"""Catalog search on the real demo catalog (Aozora Bunko, NDL JAPAN/MARC, LoC), via db.queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from db import queries
from db.queries import SearchParams
from tests.conftest import DATA, Database


def titles(**params: object) -> list[str]:
    return [h.title for h in queries.search_works(SearchParams(**params)).hits]  # type: ignore[arg-type]


def all_titles(**params: object) -> list[str]:
    first = queries.search_works(SearchParams(**params))  # type: ignore[arg-type]
    found = [h.title for h in first.hits]
    for page in range(2, first.page_count + 1):
        found += titles(**params, page=page)
    return found


@pytest.mark.parametrize("q", ["わがはいはねこ", "ﾜｶﾞﾊｲ", "ワガハイハネコデアル", "吾輩は猫"])
def test_newcomer_finds_wagahai_on_the_first_page(catalog_db: Database, q: str) -> None:
    assert "吾輩は猫である" in titles(q=q)


def test_newcomer_finds_wagahai_among_the_authors_works(catalog_db: Database) -> None:
    soseki = all_titles(q="夏目漱石")
    assert "吾輩は猫である" in soseki
    assert len(soseki) == len(set(zip(soseki, range(len(soseki)), strict=True)))
    with_cat = titles(q="夏目漱石 猫")
    assert "吾輩は猫である" in with_cat[:3]
    assert all("猫" in t for t in with_cat[:3])


def test_reading_search_ranks_the_exact_title_first(catalog_db: Database) -> None:
    assert titles(q="わがはいはねこである")[0] == "吾輩は猫である"
    assert titles(q="吾輩は猫である")[0] == "吾輩は猫である"


def test_exact_title_beats_longer_titles_for_common_words(catalog_db: Database) -> None:
    hits = titles(q="手紙")  # 129 Aozora works are called 手紙
    assert len(hits) == 20
    assert all(t == "手紙" for t in hits[:20])


def test_prefix_title_matches_come_before_mere_mentions(catalog_db: Database) -> None:
    result = titles(q="銀河鉄道")
    assert result[0].startswith("銀河鉄道")


def test_old_and_new_kanji_match_both_ways(catalog_db: Database) -> None:
    new_form = queries.search_works(SearchParams(q="芥川竜之介"))
    old_form = queries.search_works(SearchParams(q="芥川龍之介"))
    assert new_form.total == old_form.total > 50


def test_author_with_and_without_space(catalog_db: Database) -> None:
    assert (
        queries.search_works(SearchParams(q="宮沢賢治")).total
        == queries.search_works(SearchParams(q="宮沢 賢治")).total
        > 100
    )


def test_several_words_mean_and(catalog_db: Database) -> None:
    both = queries.search_works(SearchParams(q="宮沢賢治 銀河"))
    assert both.total >= 1
    assert all("銀河" in h.title for h in both.hits)
    assert both.total < queries.search_works(SearchParams(q="宮沢賢治")).total


def test_one_character_query_works_and_is_bounded(catalog_db: Database) -> None:
    cat = queries.search_works(SearchParams(q="猫"))
    assert cat.total > 10
    assert cat.hits[0].title == "猫"
    common = queries.search_works(SearchParams(q="の"))
    assert common.total_is_lower_bound
    assert common.total >= queries.RANK_CAP
    assert common.ranked_within is not None and common.ranked_within >= queries.RANK_CAP
    assert len(common.hits) == queries.PAGE_SIZE


def test_katakana_foreign_author_reading(catalog_db: Database) -> None:
    assert "あいびき" in titles(q="ツルゲーネフ")
    assert "あいびき" in titles(q="つるげーねふ")


@pytest.mark.parametrize(
    "isbn", ["978-4-7949-7075-6", "9784794970756", "4-7949-7075-7", "4794970757"]
)
def test_isbn_with_or_without_hyphens_10_or_13(catalog_db: Database, isbn: str) -> None:
    assert titles(q=isbn) == ["これからの本の話をしよう"]
    assert titles(isbn=isbn) == ["これからの本の話をしよう"]


def test_invalid_isbn_field_matches_nothing_and_says_so(catalog_db: Database) -> None:
    result = queries.search_works(SearchParams(isbn="978-4-7949-7075-0"))
    assert result.total == 0 and "isbn_invalid" in result.notices


def test_ndl_reading_and_subjects(catalog_db: Database) -> None:
    assert "これからの本の話をしよう" in titles(q="これからのほんのはなしをしよう")
    assert "これからの本の話をしよう" in titles(subject="電子書籍")
    assert "これからの本の話をしよう" in titles(author="萩野正昭")
    assert "これからの本の話をしよう" in titles(author="ハギノ")


def test_loc_record_kanji_and_romaji(catalog_db: Database) -> None:
    assert any("火山灰地" in t for t in titles(q="火山灰地"))
    assert any("火山灰地" in t for t in titles(q="Kazanbaichi"))


def test_advanced_fields_are_scoped(catalog_db: Database) -> None:
    by_author = queries.search_works(SearchParams(author="夏目漱石"))
    by_title = queries.search_works(SearchParams(title="夏目漱石"))
    assert by_author.total > by_title.total
    assert queries.search_works(SearchParams(publisher="岩波文庫")).total > 100


def test_filters_narrow_results(catalog_db: Database) -> None:
    everything = queries.search_works(SearchParams(q="宮沢賢治"))
    children = queries.search_works(SearchParams(q="宮沢賢治", ndc_class="K"))
    assert 0 < children.total < everything.total
    recent = queries.search_works(SearchParams(q="宮沢賢治", year_from=2000))
    assert all(h.pub_year is not None and h.pub_year >= 2000 for h in recent.hits)
    at_branch = queries.search_works(SearchParams(q="宮沢賢治", branch="minami"))
    assert at_branch.total < everything.total
    for hit in at_branch.hits:
        record = queries.get_record(hit.id)
        assert any(c.branch_code == "minami" and c.status == "available" for c in record.copies)
    by_ndc = queries.search_works(SearchParams(ndc="913", q="芥川"))
    assert by_ndc.total > 0


def test_filters_alone_browse_the_catalog(catalog_db: Database) -> None:
    result = queries.search_works(SearchParams(ndc_class="K"))
    assert result.total_is_lower_bound and result.total >= queries.RANK_CAP
    assert len(result.hits) == queries.PAGE_SIZE


def test_sorts(catalog_db: Database) -> None:
    by_year = queries.search_works(SearchParams(q="宮沢賢治", sort="year_desc")).hits
    years = [h.pub_year for h in by_year if h.pub_year is not None]
    assert years == sorted(years, reverse=True)
    oldest = queries.search_works(SearchParams(q="宮沢賢治", sort="year_asc")).hits
    years = [h.pub_year for h in oldest if h.pub_year is not None]
    assert years == sorted(years)


def test_pagination_is_stable_and_disjoint(catalog_db: Database) -> None:
    first = queries.search_works(SearchParams(q="宮沢賢治", page=1))
    second = queries.search_works(SearchParams(q="宮沢賢治", page=2))
    assert first.page_count >= 2 and second.page == 2 and second.start == 21
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    past_end = queries.search_works(SearchParams(q="宮沢賢治", page=10_000))
    assert past_end.page == past_end.page_count


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '"猫',
        "*",
        "NEAR(猫 犬)",
        "猫 OR 犬",
        "title:猫",
        "{title}: 猫",
        "'; DROP TABLE work; --",
        "猫\x00\x1b",
        "猫" * 10_000,
        "^猫",
        "a" * 300,
        "\ufffd\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    ],
)
def test_hostile_queries_never_error(catalog_db: Database, hostile: str) -> None:
    result = queries.search_works(SearchParams(q=hostile, title=hostile, author=hostile))
    assert result.total >= 0
    assert queries.get_catalog_stats().works > 17_000  # nothing was dropped


def test_record_detail_has_copies_per_branch(catalog_db: Database) -> None:
    hit = queries.search_works(SearchParams(q="吾輩は猫である")).hits[0]
    record = queries.get_record(hit.id)
    assert record.title == "吾輩は猫である"
    assert record.authors == ("夏目 漱石",)
    assert record.ndc == ("913",)
    for copy in record.copies:
        assert copy.branch_name.get("ja") and copy.call_number and copy.shelf_location
        assert copy.status in queries.ITEM_STATUSES


def test_unknown_record_is_not_found(catalog_db: Database) -> None:
    with pytest.raises(queries.NotFound):
        queries.get_record(999_999_999)


def test_cached_rankings_are_dropped_when_the_catalog_changes(
    catalog_db: Database, tmp_path: Path
) -> None:
    import csv
    import gzip

    queries.configure_search_cache(30)
    try:
        assert queries.search_works(SearchParams(q="しおりのほん")).total == 0
        with gzip.open(DATA / "aozora_works.csv.gz", "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            row = next(reader)
            fields = reader.fieldnames or []
        row.update(work_id="999999", title="栞の本", title_yomi="しおりのほん")
        path = tmp_path / "one.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerow(row)
        queries.import_catalog_file(path)
        assert titles(q="しおりのほん") == ["栞の本"]
    finally:
        queries.configure_search_cache(0)


def test_the_about_pages_figures_are_kept_until_the_catalogue_changes(fresh_db: Database) -> None:
    from sqlalchemy import text

    from db import engine
    from db.catalog_write import WorkRecord

    queries.configure_search_cache(30)
    try:
        queries.add_works(
            [WorkRecord(source="synth", source_id="a", title="栞の本")], copies_seed=1
        )
        first = queries.get_about_stats()
        assert first.works == 1 and first.by_source == (("synth", 1),)
        with engine.get_engine().begin() as conn:  # behind the query layer's back
            conn.execute(text("UPDATE work SET source = 'other'"))
        assert queries.get_about_stats() == first  # kept: no counting per view
        queries.add_works(
            [WorkRecord(source="synth", source_id="b", title="栞の話")], copies_seed=1
        )
        assert queries.get_about_stats().by_source == (("other", 1), ("synth", 1))
    finally:
        queries.configure_search_cache(0)
