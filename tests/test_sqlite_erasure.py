"""Deleted personal rows leave no bytes behind on SQLite: secure_delete zeroes them in the
database file, and a WAL checkpoint after the deleting commit empties the write-ahead log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from db import engine, queries
from db.patrons import DEMO_PATRONS
from tests.conftest import Database

HANAKO = DEMO_PATRONS[0].patron
# A checkout at this moment stores "2026-11-21 01:23:45.678901" in the loan row: a marker
# that exists nowhere else, so finding it means finding the loan (patron + item).
WHEN = datetime(2026, 11, 21, 1, 23, 45, 678901, tzinfo=UTC)
MARKER = b"01:23:45.678901"


def sqlite_bytes(url: str) -> bytes:
    path = url.removeprefix("sqlite:///")
    return b"".join(
        Path(path + suffix).read_bytes()
        for suffix in ("", "-wal", "-journal")
        if Path(path + suffix).exists()
    )


def test_a_returned_loan_leaves_no_bytes_in_the_file_or_the_wal(library_db: Database) -> None:
    if not library_db.url.startswith("sqlite"):
        pytest.skip("SQLite's file and write-ahead log")
    with engine.read() as conn:
        barcode = conn.execute(
            text("SELECT barcode FROM item WHERE status = 'available' ORDER BY id LIMIT 1")
        ).scalar_one()
    queries.set_clock(lambda: WHEN)
    try:
        queries.checkout(HANAKO.card_number, barcode)
        with engine.read() as conn:
            loan = conn.execute(
                text(
                    "SELECT l.patron_id, l.checked_out_at FROM loan l "
                    "JOIN item i ON i.id = l.item_id WHERE i.barcode = :b"
                ),
                {"b": barcode},
            ).one()
        assert MARKER in str(loan.checked_out_at).encode()
        assert MARKER in sqlite_bytes(library_db.url)
        queries.return_item(barcode)
    finally:
        queries.set_clock(None)
    assert MARKER not in sqlite_bytes(library_db.url)


def test_a_purged_patron_leaves_no_bytes_in_the_file_or_the_wal(library_db: Database) -> None:
    if not library_db.url.startswith("sqlite"):
        pytest.skip("SQLite's file and write-ahead log")
    gone = next(d.patron for d in DEMO_PATRONS if d.patron.card_number == "2100000004")
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = '2020-01-01' WHERE card_number = :c"),
            {"c": gone.card_number},
        )
    assert gone.address.encode() in sqlite_bytes(library_db.url)
    queries.set_clock(lambda: WHEN)
    try:
        assert queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15).patrons == 1
    finally:
        queries.set_clock(None)
    for value in (gone.name, gone.address, gone.phone, gone.card_number):
        assert value.encode() not in sqlite_bytes(library_db.url), value
