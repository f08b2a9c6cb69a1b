"""The SQLite full-text index after a rebuild (`shiori catalog reindex`, migration 0028) is
one segment: a query's tokens are looked up once, not once per segment (issue 18's speed)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import engine, queries
from db.catalog_write import WorkRecord
from tests.conftest import Database

_KANJI = [chr(code) for code in range(0x4E00, 0x4E00 + 2000)]


def _segments() -> int:
    with engine.get_engine().connect() as conn:
        return int(conn.execute(text("SELECT count(DISTINCT segid) FROM work_fts_idx")).scalar())


def test_reindex_leaves_the_index_in_one_segment(fresh_db: Database) -> None:
    if not fresh_db.url.startswith("sqlite"):
        pytest.skip("PostgreSQL's GIN index has no segments")
    # Enough distinct tokens that FTS5 writes its pending data out more than once.
    works = [
        WorkRecord(
            source="synth",
            source_id=f"s{n}",
            title="".join(_KANJI[(n * 7 + k * 13) % len(_KANJI)] for k in range(40)),
            authors=("".join(_KANJI[(n * 11 + k) % len(_KANJI)] for k in range(20)),),
        )
        for n in range(1500)
    ]
    queries.add_works(works, copies_seed=1)
    assert queries.rebuild_search_index() == 1500
    assert _segments() == 1
    title = works[700].title
    found = queries.search_works(queries.SearchParams(q=title))
    assert found.hits[0].title == title


def test_a_synthetic_bulk_load_leaves_the_index_in_one_segment(fresh_db: Database) -> None:
    if not fresh_db.url.startswith("sqlite"):
        pytest.skip("PostgreSQL's GIN index has no segments")
    from bench import synth

    assert synth.synthesize(3000, seed_value=3) == 3000
    assert _segments() == 1
