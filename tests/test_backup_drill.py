"""The backup drill (issue 21): back up a busy database while writes go on, restore it into
an empty one, and compare every table row by row with the database as of the backup's
snapshot; restore's refusals; an older backup comes back migrated.

The comparison is honest about "as of when": the expected rows are read inside the very
snapshot the backup copies (SQLite: the backup runs on a connection whose read transaction
the test opened and read first; PostgreSQL: pg_dump --snapshot with the id exported by the
transaction the test read in), while a thread keeps committing loans, reservations and mail
before, during and after."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from db import backup, engine, migrate, outbox, queries
from tests.conftest import BACKEND, Database, _drop_pg_database, new_database

Rows = dict[str, list[tuple[Any, ...]]]


class Writer(threading.Thread):
    """Commits loans, returns, reservations, cancellations and queued mail until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.commits = 0
        self.failure: BaseException | None = None
        with engine.read() as conn:
            self.patrons = conn.execute(
                text("SELECT id, card_number FROM patron ORDER BY id LIMIT 3")
            ).all()
            self.items = (
                conn.execute(
                    text("SELECT barcode FROM item WHERE status = 'available' ORDER BY id LIMIT 6")
                )
                .scalars()
                .all()
            )
            self.works = (
                conn.execute(text("SELECT id FROM work ORDER BY id LIMIT 6")).scalars().all()
            )
        assert self.patrons and self.items and self.works

    def run(self) -> None:
        """Each round lends a copy or takes it back, and places or cancels a reservation,
        alternately, so that some are always out; and queues a numbered mail."""
        out: set[str] = set()
        holds: dict[int, int] = {}
        n = 0
        try:
            while not self.stopped.is_set():
                patron_id, card = self.patrons[n % len(self.patrons)]
                barcode = self.items[n % len(self.items)]
                try:
                    if barcode in out:
                        queries.return_item(barcode)
                        out.discard(barcode)
                    else:
                        queries.checkout(card, barcode)
                        out.add(barcode)
                except queries.QueryError:
                    pass
                try:
                    if patron_id in holds:
                        queries.cancel_hold(patron_id, holds.pop(patron_id))
                    else:
                        work_id = self.works[n % len(self.works)]
                        holds[patron_id] = queries.place_hold(patron_id, work_id, "sogo").id
                except queries.QueryError:
                    pass
                with engine.write() as conn:
                    outbox.enqueue(
                        conn,
                        kind="drill",
                        to_addr="drill@example.jp",
                        now=queries.current_time(),
                        subject=f"drill {n}",
                        body="backup drill",
                    )
                self.commits += 1
                n += 1
        except BaseException as failed:  # seen by the test, not lost in the thread
            self.failure = failed

    def wait_for(self, commits: int) -> None:
        deadline = time.monotonic() + 30
        while self.commits < commits:
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, "the writer is stuck"
            time.sleep(0.01)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)
        assert self.failure is None, self.failure


@pytest.fixture
def writer(library_db: Database) -> Iterator[Writer]:
    thread = Writer()
    thread.start()
    try:
        yield thread
    finally:
        thread.stopped.set()
        thread.join(timeout=30)


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    url, pg_name = new_database(tmp_path)
    try:
        yield url
    finally:
        if pg_name:
            _drop_pg_database(pg_name)


def _sqlite_rows(conn: sqlite3.Connection) -> Rows:
    """Every table SQLite has, row by row: a full-text index through its shadow tables
    (its virtual table cannot be scanned; the shadow tables are where its data is)."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    rows: Rows = {}
    for name in names:
        width = len(conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description)
        order = ", ".join(str(i) for i in range(1, width + 1))
        rows[name] = conn.execute(f'SELECT * FROM "{name}" ORDER BY {order}').fetchall()
    return rows


def _pg_rows(conn: Connection) -> Rows:
    rows: Rows = {}
    for name in sorted(inspect(conn).get_table_names()):
        found = conn.execute(text(f'SELECT * FROM "{name}" AS t ORDER BY t::text'))
        rows[name] = [tuple(row) for row in found]
    return rows


def _model_tables() -> set[str]:
    from sqlmodel import SQLModel

    import db.models  # noqa: F401 - the tables register themselves

    return set(SQLModel.metadata.tables) | {"alembic_version"}


def _assert_same(expected: Rows, restored: Rows, busy: Sequence[str]) -> None:
    missing = _model_tables() - set(expected) - VIRTUAL
    assert not missing, "every table of the metadata is compared"
    assert sorted(restored) == sorted(expected)
    for name in expected:
        assert restored[name] == expected[name], f"table {name} differs"
    for name in busy:
        assert expected[name], f"{name} is empty: the drill wrote nothing there"


BUSY = ("mail_outbox",)
# Full-text indexes in the metadata, compared through their shadow tables on SQLite.
VIRTUAL = {"work_fts"} if BACKEND == "sqlite" else set()


def _restored_rows(url: str) -> Rows:
    if BACKEND == "postgresql":
        eng = create_engine(url)
        try:
            with eng.connect() as conn:
                return _pg_rows(conn)
        finally:
            eng.dispose()
    with closing(sqlite3.connect(make_url(url).database or "")) as conn:
        return _sqlite_rows(conn)


def test_backup_of_a_busy_database_restores_its_snapshot(
    library_db: Database, writer: Writer, empty_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "busy.backup"
    writer.wait_for(5)
    if BACKEND == "postgresql":
        eng = create_engine(library_db.url, isolation_level="REPEATABLE READ")
        try:
            with eng.connect() as conn:
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                expected = _pg_rows(conn)
                before = writer.commits
                writer.wait_for(before + 3)  # commits after the snapshot, before the dump
                backup.backup(library_db.url, target, snapshot=snapshot)
                during = writer.commits - before
                conn.rollback()
        finally:
            eng.dispose()
    else:
        path = make_url(library_db.url).database or ""
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("BEGIN")
            expected = _sqlite_rows(conn)  # the read transaction's snapshot starts here
            before = writer.commits
            writer.wait_for(before + 3)
            backup.backup(library_db.url, target, source=conn)
            during = writer.commits - before
            conn.execute("ROLLBACK")
    writer.wait_for(writer.commits + 3)
    writer.stop()
    assert during >= 3, "writes went on while the backup was taken"

    assert backup.kind_of(target) == ("postgresql" if BACKEND == "postgresql" else "sqlite")
    backup.restore(empty_url, target)
    restored = _restored_rows(empty_url)
    _assert_same(expected, restored, BUSY)
    # The source moved on after the snapshot: the comparison could tell them apart.
    assert _restored_rows(library_db.url)["mail_outbox"] != restored["mail_outbox"]


def test_shiori_backup_under_writes_restores_a_whole_database(
    library_db: Database, writer: Writer, empty_url: str, tmp_path: Path
) -> None:
    """The command's own path (its own connection or pg_dump's own snapshot) while writes
    go on: the restored database is whole — its drill mail numbered without a gap, each
    loan's copy marked as lent, foreign keys intact — and equals a second backup taken once
    the writes stopped, up to the rows written in between."""
    writer.wait_for(5)
    busy_file = tmp_path / "busy.backup"
    queries.backup_database(busy_file)
    writer.wait_for(writer.commits + 3)
    writer.stop()
    backup.restore(empty_url, busy_file)
    restored = _restored_rows(empty_url)
    subjects = sorted(
        int(str(row).split("drill ")[1].split("'")[0])
        for row in restored["mail_outbox"]
        if "drill " in str(row)
    )
    assert subjects == list(range(len(subjects))) and subjects, "no torn sequence of commits"
    final = _restored_rows(library_db.url)
    assert len(final["mail_outbox"]) > len(restored["mail_outbox"]), (
        "writes went on after the backup"
    )
    if BACKEND == "sqlite":
        with closing(sqlite3.connect(make_url(empty_url).database or "")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_restore_refuses_a_database_in_use_and_a_file_that_is_not_a_backup(
    library_db: Database, empty_url: str, tmp_path: Path
) -> None:
    made = queries.backup_database(tmp_path / "library.backup")
    stranger = tmp_path / "not-a-backup"
    stranger.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(backup.BackupRefused, match="damaged"):
        backup.restore(empty_url, stranger)
    plain = tmp_path / "plain.db"
    with closing(sqlite3.connect(plain)) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(backup.BackupRefused, match="not a backup"):
        backup.restore(empty_url, plain)
    with pytest.raises(backup.BackupRefused, match="cannot read"):
        backup.restore(empty_url, tmp_path / "missing.backup")
    assert backup.is_empty(empty_url), "a refused restore leaves the target alone"
    with pytest.raises(backup.BackupRefused, match="not empty"):
        backup.restore(library_db.url, made.path)
    # --force replaces everything, tables the backup does not have included.
    eng = create_engine(library_db.url)
    try:
        with eng.begin() as conn:
            conn.execute(text("CREATE TABLE leftover (x INTEGER)"))
            conn.execute(text("DELETE FROM mail_outbox"))
    finally:
        eng.dispose()
    before = _restored_rows(library_db.url)
    queries.restore_database(made.path, force=True)
    after = _restored_rows(library_db.url)
    assert "leftover" not in after and "leftover" in before


def test_an_older_backup_comes_back_migrated(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic.script import ScriptDirectory

    from web.cli import main

    old = tmp_path / "old"
    old.mkdir()
    old_url, pg_name = new_database(old)
    try:
        queries.configure(old_url)
        migrate.upgrade("0026_alerts")
        queries.backup_database(tmp_path / "old.backup")
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)
    monkeypatch.setenv("SHIORI_DATABASE_URL", empty_url)
    assert main(["restore", str(tmp_path / "old.backup")]) == 0
    assert main(["restore", str(tmp_path / "old.backup")]) == 2  # not empty now
    queries.dispose()
    eng = create_engine(empty_url)
    try:
        with eng.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        eng.dispose()
    assert version == ScriptDirectory.from_config(migrate._config()).get_current_head()


def test_a_failed_restore_leaves_the_database_as_it_was(
    library_db: Database, tmp_path: Path
) -> None:
    """A damaged backup given with --force: refused, and the database it was to replace is
    untouched — whether the damage is seen before anything is written (cut short: no
    readable table of contents; a damaged SQLite file fails its check) or only partway
    through (PostgreSQL, bytes garbled in the table data: the schema is already dropped by
    then, in the transaction that the failure rolls back)."""
    whole = queries.backup_database(tmp_path / "whole.backup").path
    data = whole.read_bytes()
    cut = tmp_path / "cut.backup"
    cut.write_bytes(data[: len(data) * 6 // 10])
    # pg_dump's table data lies near the end of its file; SQLite's pages anywhere.
    start, length = (len(data) * 95 // 100, 512) if BACKEND == "postgresql" else (
        len(data) // 2, len(data) // 5)  # fmt: skip
    garbled = tmp_path / "garbled.backup"
    garbled.write_bytes(data[:start] + bytes(b ^ 0x5A for b in data[start : start + length])
                        + data[start + length :])  # fmt: skip
    before = _restored_rows(library_db.url)
    with pytest.raises(backup.BackupRefused, match=r"not a backup|damaged"):
        queries.restore_database(cut, force=True)
    assert _restored_rows(library_db.url) == before
    with pytest.raises(backup.BackupRefused) as refused:
        queries.restore_database(garbled, force=True)
    if BACKEND == "postgresql":
        assert "pg_restore" in str(refused.value), "the damage was met while restoring"
    else:
        assert "damaged" in str(refused.value)
    assert _restored_rows(library_db.url) == before


def test_a_restore_runs_retention_so_erased_patrons_stay_erased(
    library_db: Database, empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup made before retention erased a patron must not bring them back."""
    from web.cli import main

    with engine.write() as conn:
        idle = conn.execute(
            text(
                "SELECT id FROM patron p WHERE NOT EXISTS "
                "(SELECT 1 FROM loan l WHERE l.patron_id = p.id) ORDER BY id LIMIT 1"
            )
        ).scalar_one()
        conn.execute(
            text("UPDATE patron SET registered_on = :old, last_loan_on = NULL WHERE id = :id"),
            {"old": "2000-01-01", "id": idle},
        )
    made = queries.backup_database(tmp_path / "old.backup")
    queries.dispose()
    monkeypatch.setenv("SHIORI_DATABASE_URL", empty_url)
    assert main(["restore", str(made.path)]) == 0
    queries.dispose()
    eng = create_engine(empty_url)
    try:
        with eng.connect() as conn:
            gone = conn.execute(text("SELECT id FROM patron WHERE id = :id"), {"id": idle})
            assert gone.first() is None, "the patron past the 3-year rule was purged"
            assert conn.execute(text("SELECT count(*) FROM patron")).scalar_one() > 0
    finally:
        eng.dispose()


@pytest.mark.skipif(BACKEND != "postgresql", reason="schema ownership is PostgreSQL's")
def test_a_forced_restore_needs_a_role_that_may_drop_schema_public(
    library_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert backup.owns_public_schema(library_db.url)
    made = queries.backup_database(tmp_path / "mine.backup")
    monkeypatch.setattr(backup, "owns_public_schema", lambda url: False)
    with pytest.raises(queries.BackupRefused, match="must own the database"):
        queries.restore_database(made.path, force=True)
