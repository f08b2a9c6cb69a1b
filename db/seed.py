"""Demo data: reference rows (branches, material types) and seeded copies.

The synthetic catalogue for benchmarks is bench/synth.py; its works get copies here too
(`add_copies`), as the demo catalogue's do.

Nothing here is random in the irreproducible sense: every choice comes from a
`random.Random` seeded from the caller's seed and the work's id, so the same seed over the
same catalog always gives the same copies, barcodes included.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import codes, rules
from db.catalog_write import SEP, ndc_classes


def ensure_reference_data(conn: Connection, branches: tuple[rules.BranchSpec, ...]) -> None:
    """Seed the code tables where they are empty (db.codes): `branches` only fill a
    database without any; what managers changed in the console is kept."""
    codes.ensure_code_tables(conn, branches)


# ---------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------

_COPY_COUNT_WEIGHTS = (10, 34, 26, 16, 9, 5)  # 0..5 copies, in per cent
_STATUS_CUMULATIVE = (
    (0.64, rules.AVAILABLE),
    (0.89, rules.ON_LOAN),
    (0.93, rules.IN_TRANSIT),
    (0.96, rules.ON_HOLD_SHELF),
    (0.98, rules.IN_PROCESS),
    (1.00, rules.MISSING),
)
_SHELF = {
    "children": "児童書架",
    "bunko": "文庫コーナー",
    "reference": "参考図書コーナー",
}
# English names for the demo's shelf locations, so English pages do not show Japanese.
_SHELF_EN = {
    "児童書架": "Children's shelves",
    "文庫コーナー": "Paperbacks (bunko)",
    "参考図書コーナー": "Reference corner",
    "閉架書庫": "Closed stacks",
    "新着図書コーナー": "New arrivals",
    "一般書架": "General shelves",
}
_WORK_COLUMNS = "id, ndc, publisher, authors, authors_yomi, title, title_yomi, pub_year"


def _rng(seed_value: int, work_id: int) -> random.Random:
    # Seed and id are kept apart (not summed) so seed 1 / work 2 ≠ seed 2 / work 1.
    return random.Random((seed_value << 40) ^ work_id)  # noqa: S311 - demo data, not secrets


# 受入日 (acquisition dates): most works arrived over the past ten years, a few in the last
# three months, so /new and the alert digest have something real to show after a demo load.
_RECENT_SHARE = 0.04
_RECENT_DAYS = 90
_HELD_DAYS = 3650


def _acquired_dates(seed_value: int, work_id: int, today: date, count: int) -> list[date]:
    """When each of a work's copies arrived, counted back from `today` (the load's day).

    Drawn from a stream of its own, so the copies' other choices are what they were before
    copies had dates."""
    rng = random.Random(f"acquired:{seed_value}:{work_id}")  # noqa: S311 - demo data
    if rng.random() < _RECENT_SHARE:
        first = today - timedelta(days=rng.randrange(_RECENT_DAYS))
    else:
        first = today - timedelta(days=rng.randrange(_RECENT_DAYS, _HELD_DAYS))
    later = [min(today, first + timedelta(days=rng.randrange(60))) for _ in range(count - 1)]
    return [first, *later]


def _kana_initial(value: str) -> str:
    for ch in value:
        code = ord(ch)
        if 0x3041 <= code <= 0x3096:  # hiragana → katakana
            return chr(code + 0x60)
        if 0x30A1 <= code <= 0x30FA:
            return ch
        if ch.isalnum():
            return ""  # a reading in another script: no kana initial
    return ""


def author_mark(authors_yomi: str, title_yomi: str, authors: str, title: str) -> str:
    """The 著者記号: first kana of the author's reading, else of the title's reading,
    else the first letter of the author or title (upper-cased)."""
    for reading in (authors_yomi.split(SEP)[0], title_yomi):
        mark = _kana_initial(reading)
        if mark:
            return mark
    for value in (authors, title):
        for ch in value:
            if ch.isalnum():
                return ch.upper()
    return ""


def _barcode(work_id: int, copy_no: int) -> str:
    """Work id (8 digits) + copy number + a mod-10 check digit: 10 digits, unique."""
    body = f"{work_id:08d}{copy_no}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _plan_copies(
    work: dict[str, Any], seed_value: int, branch_ids: Sequence[int], today: date
) -> list[dict[str, Any]]:
    """The copies one work gets (see `generate_copies` for the distribution)."""
    rng = _rng(seed_value, work["id"])
    count = rng.choices(range(6), weights=_COPY_COUNT_WEIGHTS)[0]
    if count == 0 or not branch_ids:
        return []
    codes = [c for c, _ in ndc_classes(work["ndc"].split(SEP))] if work["ndc"] else []
    main = next((c for c in codes if not c.startswith("K")), codes[0] if codes else "")
    if any(c.startswith("K") for c in codes):
        mtype = "children"
    elif main.startswith("03") or (main.startswith("0") and rng.random() < 0.15):
        mtype = "reference"
    elif "文庫" in work["publisher"]:
        mtype = "bunko"
    else:
        mtype = "book"
    mark = author_mark(work["authors_yomi"], work["title_yomi"], work["authors"], work["title"])
    call_ndc = codes[0] if codes else ""
    call_number = f"{call_ndc}/{mark}" if call_ndc and mark else call_ndc or mark
    year = work["pub_year"]
    weights = [2] + [1] * (len(branch_ids) - 1)  # the central library holds more
    acquired = _acquired_dates(seed_value, work["id"], today, count)
    copies = []
    for copy_no in range(count):
        branch = rng.choices(branch_ids, weights=weights)[0]
        roll = rng.random()
        if mtype == "reference":
            branch = branch_ids[0] if copy_no == 0 else branch
            status = rules.MISSING if roll > 0.99 else rules.AVAILABLE
        else:
            status = next(s for limit, s in _STATUS_CUMULATIVE if roll < limit)
        if mtype in _SHELF:
            shelf = _SHELF[mtype]
        elif year is not None and year < 1970 and rng.random() < 0.5:
            shelf = "閉架書庫"
        elif year is not None and year >= 2024:
            shelf = "新着図書コーナー"
        else:
            shelf = "一般書架"
        copies.append(
            {
                "barcode": _barcode(work["id"], copy_no),
                "work_id": work["id"],
                "branch_id": branch,
                "material_type": mtype,
                "call_number": call_number[:100],
                "shelf_location": shelf,
                "status": status,
                "acquired_on": acquired[copy_no],
            }
        )
    return copies


def _branch_ids(conn: Connection) -> list[int]:
    return [r.id for r in conn.execute(text("SELECT id FROM branch ORDER BY sort_order, id"))]


def _insert_items(conn: Connection, items: list[dict[str, Any]]) -> None:
    if items:
        conn.execute(
            text(
                "INSERT INTO item (barcode, work_id, branch_id, material_type, call_number, "
                "shelf_location, status, acquired_on) VALUES (:barcode, :work_id, :branch_id, "
                ":material_type, :call_number, :shelf_location, :status, :acquired_on)"
            ),
            items,
        )


def generate_copies(conn: Connection, seed_value: int, today: date) -> int:
    """Give each work that has no copy yet 0–5 copies; returns the number made.

    Reproducible and idempotent: work N's copies come from `random.Random` seeded with the
    seed and N, and works that already have copies are skipped, so running it again adds
    nothing. The distribution:

    * copies per work: 0 (10 %), 1 (34 %), 2 (26 %), 3 (16 %), 4 (9 %), 5 (5 %);
    * branch: the first (central) branch twice as likely as each of the others;
    * status: available 64 %, on_loan 25 %, in_transit 4 %, on_hold_shelf 3 %,
      in_process 2 %, missing 2 % (reference copies: available, 1 % missing);
    * material type: children's for a K class (K913), reference-only for 03x and 15 % of
      other 0xx works, bunko when the publisher's name contains 文庫, otherwise book;
    * call number "NDC/著者記号", e.g. "913.6/ナ": the first NDC and the first katakana of
      the author's reading (else the title's; else the first letter of the name or title);
    * shelf: 児童書架, 文庫コーナー, 参考図書コーナー, or 一般書架 — half of the pre-1970
      books in 閉架書庫 (closed stacks) and 2024+ books in 新着図書コーナー;
    * barcode: 8-digit work id + copy number + check digit (10 digits, unique);
    * acquired on (受入日): the first copy within the 90 days before `today` for 4 % of works,
      else 90 days to 10 years before; later copies up to 60 days after the first.
    """
    branch_ids = _branch_ids(conn)
    if not branch_ids:
        return 0
    made, last = 0, 0
    while True:
        works = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    f"SELECT {_WORK_COLUMNS} FROM work w WHERE w.id > :last "
                    "AND NOT EXISTS (SELECT 1 FROM item i WHERE i.work_id = w.id) "
                    "ORDER BY w.id LIMIT 5000"
                ),
                {"last": last},
            )
        ]
        if not works:
            codes.add_missing_shelf_locations(conn)
            codes.add_shelf_location_names(conn, "en", _SHELF_EN)
            return made
        made += add_copies(conn, works, seed_value, today)
        last = works[-1]["id"]


def add_copies(
    conn: Connection, works: Sequence[dict[str, Any]], seed_value: int, today: date
) -> int:
    """Copies for new works (rows with the work table's columns), exactly as
    `generate_copies` would make them; returns the number made."""
    branch_ids = _branch_ids(conn)
    items = [c for w in works for c in _plan_copies(w, seed_value, branch_ids, today)]
    _insert_items(conn, items)
    return len(items)
