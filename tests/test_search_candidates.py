"""The ranked search's candidates (issue 18, speed): on SQLite, without filters, the text
matches are read from the index alone (no join to `work`); they must be exactly the works
the joined, filtered form finds, also for phrases made of very common tokens (の, a
one-character word as a prefix). Runs on both engines."""

from __future__ import annotations

from sqlalchemy import text

from db import engine, queries
from db.catalog_write import WorkRecord
from db.queries import SearchParams
from db.queries.catalog import works_matching
from tests.conftest import Database

TITLES = {
    "a": ("はじめての本", 2001),
    "b": ("はじめての本棚", 2002),  # 本 as the prefix of the next word
    "c": ("はじめてのほんとう", 2003),  # one kana word: no word starts with 本
    "d": ("はじめて の本", 2004),  # はじめて ends before の: no word ends in めての
    "e": ("ゆめての本の森の話", 2005),
    "f": ("本のはじめて", 2006),
    "g": ("森の本", 2007),
}


def add(extra: int = 40) -> dict[str, int]:
    records = [
        WorkRecord(source="synth", source_id=key, title=title, pub_year=year)
        for key, (title, year) in TITLES.items()
    ]
    records.append(
        WorkRecord(source="synth", source_id="h", title="雑記", authors=("めての本田 一",))
    )
    # Many works with の and 本, so that those tokens are common in the index.
    records += [
        WorkRecord(source="synth", source_id=f"x{n}", title=f"森の本の話 その{n}", pub_year=1990)
        for n in range(extra)
    ]
    queries.add_works(records, copies_seed=1)
    with engine.get_engine().connect() as conn:
        rows = conn.execute(text("SELECT id, source_id FROM work")).all()
    return {r.source_id: r.id for r in rows}


def found(params: SearchParams) -> set[int]:
    result = queries.search_works(params)
    assert not result.total_is_lower_bound
    assert result.facet_works is not None
    return set(result.facet_works)


def test_a_phrase_of_common_tokens_finds_exactly_its_works(fresh_db: Database) -> None:
    ids = add()
    expected = {ids["a"], ids["b"], ids["e"], ids["h"]}
    assert found(SearchParams(q="めての本")) == expected
    hits = queries.search_works(SearchParams(q="めての本")).hits
    assert {h.id for h in hits} == expected
    # The same words with a filter take the joined form: the same works.
    assert found(SearchParams(q="めての本", year_from=2000)) == expected - {ids["h"]}
    assert found(SearchParams(q="の森の")) == {ids["e"]}


def test_index_only_candidates_equal_the_joined_match(fresh_db: Database) -> None:
    ids = add()
    everything = list(ids.values())
    for q in ("めての本", "の本", "本", "の", "森の", "はじめて 本", "めての 本田"):
        params = SearchParams(q=q)
        with engine.get_engine().connect() as conn:
            joined = works_matching(conn, params, everything)
        result = queries.search_works(params)
        assert result.facet_works is not None
        assert set(result.facet_works) == joined, q
        assert result.total >= len(joined)


def test_one_character_finds_the_last_character_of_a_title_word(fresh_db: Database) -> None:
    """A word's last character is the start of its end token ("棚｜"), which a
    one-character query reads as a prefix; a query ending in a one-character word finds that
    character at the start of the next word."""
    ids = add(extra=2)
    assert ids["b"] in found(SearchParams(q="棚"))  # only ever last, in 本棚
    assert {ids["e"], ids["x0"], ids["x1"]} <= found(SearchParams(q="話"))
    assert found(SearchParams(q="森の")) == {ids["e"], ids["g"], ids["x0"], ids["x1"]}
    assert found(SearchParams(q="ての本")) == {ids["a"], ids["b"], ids["e"], ids["h"]}


def test_a_phrase_does_not_run_from_the_title_into_its_reading(fresh_db: Database) -> None:
    """The title's last word ends its run ("城｜"): the reading after it (ともだちのしろ)
    does not lend it a next word starting with と. Both engines agree."""
    queries.add_works(
        [
            WorkRecord(
                source="synth", source_id="s", title="友だちの城", title_yomi="ともだちのしろ"
            )
        ],
        copies_seed=1,
    )
    assert queries.search_works(SearchParams(q="の城と")).total == 0
    assert queries.search_works(SearchParams(q="友だちの城")).total == 1
