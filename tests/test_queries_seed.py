"""Demo copies and synthetic works through db.queries."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.synth import synthesize
from db import queries, rules
from db.queries import NotFound, Record, SearchParams
from tests.conftest import DATA, Database, database_copy

NDL = DATA / "marc" / "ndl_japanmarc_marc21_233.mrc"
CALL_NUMBER = re.compile(r"^K?\d{3}(\.\d+)?/[ァ-ヺ]$")


def all_records() -> Iterator[Record]:
    """Every work of a freshly made database (ids are allocated from 1)."""
    work_id = 1
    while True:
        try:
            yield queries.get_record(work_id)
        except NotFound:
            return
        work_id += 1


def copies_snapshot(template: str, db_dir: Path, seed: int) -> list[tuple[str, ...]]:
    """Import the NDL file into a new database, generate copies, and list them."""
    with database_copy(template, db_dir):
        queries.import_catalog_file(NDL)
        made = queries.generate_demo_copies(seed)
        snapshot: list[tuple[str, ...]] = [
            (r.source_id, c.barcode, c.branch_code, c.status, c.material_type, c.call_number)
            for r in all_records()
            for c in r.copies
        ]
        assert made == len(snapshot)
        return snapshot


def test_copies_are_reproducible_for_a_seed(_empty_template: str, db_dir: Path) -> None:
    first = copies_snapshot(_empty_template, db_dir, seed=7)
    again = copies_snapshot(_empty_template, db_dir, seed=7)
    other = copies_snapshot(_empty_template, db_dir, seed=8)
    assert first == again
    assert first != other
    assert len(first) > 233  # about two copies per work


def test_every_work_gets_zero_to_five_plausible_copies(fresh_db: Database) -> None:
    queries.import_catalog_file(NDL)
    made = queries.generate_demo_copies(11)
    records = list(all_records())
    assert len(records) == 233
    per_work = Counter(len(r.copies) for r in records)
    assert set(per_work) <= set(range(6))
    assert per_work[0] > 0 and per_work[1] > per_work[5] > 0
    # English pages name the demo's shelves in English, not 文庫コーナー.
    shelves = [c.shelf_name for r in records for c in r.copies]
    assert shelves and all(dict(s.texts).get("en") for s in shelves)
    copies = [c for r in records for c in r.copies]
    assert len(copies) == made == queries.get_catalog_stats().items
    barcodes = [c.barcode for c in copies]
    assert len(set(barcodes)) == len(barcodes)
    assert all(re.fullmatch(r"\d{10}", b) for b in barcodes)
    statuses = Counter(c.status for c in copies)
    assert set(statuses) <= set(rules.ITEM_STATUSES)
    assert statuses[rules.AVAILABLE] > len(copies) / 2
    assert 0.12 < statuses[rules.ON_LOAN] / len(copies) < 0.38
    assert {c.branch_code for c in copies} == {b.code for b in rules.DEFAULT_BRANCHES}
    for record in records:
        for copy in record.copies:
            if copy.material_type == "reference":
                assert copy.status != rules.ON_LOAN and not copy.reservable
                assert copy.shelf_location == "参考図書コーナー"
            if record.ndc and record.authors_yomi:
                assert CALL_NUMBER.match(copy.call_number), copy.call_number
                assert copy.call_number.startswith(record.ndc[0] + "/")
    hagino = next(r for r in records if r.source_id == "029455884")
    assert all(c.call_number == "023/ハ" for c in hagino.copies)
    # Again: works that have copies get no more.
    assert queries.generate_demo_copies(11) == 0
    assert queries.get_catalog_stats().items == made


def test_demo_catalog_copies_follow_the_material_rules(catalog_db: Database) -> None:
    before = queries.get_catalog_stats()
    assert 0 < before.items <= 5 * before.works
    assert queries.generate_demo_copies() == 0
    checked = Counter[str]()
    for q, ndc_class in (("宮沢賢治", "K"), ("夏目漱石", "")):
        for hit in queries.search_works(SearchParams(q=q, ndc_class=ndc_class)).hits:
            record = queries.get_record(hit.id)
            children = any(n.startswith("K") for n in record.ndc)
            for copy in record.copies:
                if children:
                    assert (copy.material_type, copy.shelf_location) == ("children", "児童書架")
                    assert copy.call_number.startswith("K")
                elif "文庫" in record.publisher:
                    assert (copy.material_type, copy.shelf_location) == ("bunko", "文庫コーナー")
                checked[copy.material_type] += 1
    assert checked["children"] > 0 and checked["bunko"] > 0
    assert queries.get_catalog_stats() == before


def test_synthetic_works_are_searchable(fresh_db: Database) -> None:
    assert synthesize(2000, seed_value=3) == 2000
    stats = queries.get_catalog_stats()
    assert stats.by_source == (("synth", 2000),)
    assert 2000 <= stats.items <= 5 * 2000
    records = list(all_records())
    assert len(records) == 2000
    assert len({r.title for r in records}) > 1000  # varied titles
    assert len({r.source_id for r in records}) == 2000
    assert {r.source_id for r in records[:2]} == {"s00000001", "s00000002"}
    assert all(r.title_yomi and r.authors and r.authors_yomi and r.ndc for r in records)
    assert {n[0] for r in records for n in r.ndc} >= set("0123456789K")
    years = [r.pub_year for r in records if r.pub_year is not None]
    assert min(years) >= 1950 and max(years) <= 2026
    sample = records[1234]
    found = queries.search_works(SearchParams(q=sample.title_yomi))
    assert sample.id in [h.id for h in found.hits]
    by_author = queries.search_works(SearchParams(author=sample.authors_yomi[0]))
    assert by_author.total > 0
    with_isbn = next(r for r in records if r.isbn)
    by_isbn = queries.search_works(SearchParams(q=with_isbn.isbn[0]))
    assert with_isbn.id in [h.id for h in by_isbn.hits]

    assert synthesize(500, seed_value=3) == 500  # adds, numbering on
    assert queries.get_catalog_stats().works == 2500
    assert queries.get_record(2500).source_id == "s00002500"


def test_synthesis_is_reproducible(_empty_template: str, db_dir: Path) -> None:
    def titles() -> list[tuple[str, str, tuple[str, ...]]]:
        with database_copy(_empty_template, db_dir):
            synthesize(300, seed_value=5)
            return [
                (r.title, r.publisher, tuple(c.barcode for c in r.copies)) for r in all_records()
            ]

    assert titles() == titles()


def test_copies_seeded_as_out_get_real_borrowers(library_db: Database) -> None:
    """No copy says 貸出中・回送中・予約棚 without the loan or reservation behind it once the
    demo borrowers have theirs; again, nothing more is made."""
    from sqlalchemy import text

    from db import engine

    orphan_sql = text(
        "SELECT count(*) FROM item i WHERE i.status IN ('on_loan', 'in_transit', "
        "'on_hold_shelf') AND NOT EXISTS (SELECT 1 FROM loan l WHERE l.item_id = i.id) "
        "AND NOT EXISTS (SELECT 1 FROM hold h WHERE h.item_id = i.id)"
    )
    with engine.read() as conn:
        orphans = conn.execute(orphan_sql).scalar_one()
    assert orphans > 0  # the seeded statuses alone are not backed by rows
    made = queries.lend_to_demo_borrowers()
    assert made == orphans
    with engine.read() as conn:
        assert conn.execute(orphan_sql).scalar_one() == 0
        per_borrower = (
            conn.execute(
                text(
                    "SELECT count(*) FROM loan l JOIN patron p ON p.id = l.patron_id "
                    "WHERE p.card_number LIKE '29%' GROUP BY p.id"
                )
            )
            .scalars()
            .all()
        )
        statuses = {
            r.status
            for r in conn.execute(
                text("SELECT DISTINCT i.status FROM item i JOIN loan l ON l.item_id = i.id")
            )
        }
    assert sum(per_borrower) == made and max(per_borrower) <= 15
    assert statuses == {rules.ON_LOAN}
    assert queries.lend_to_demo_borrowers() == 0
