"""An import killed midway resumes (db/queries/catalog_import.py): a real `shiori import`
process is killed with SIGKILL between and inside its batches; the database holds whole
batches only (every work has its search index entry and NDC rows, and nothing else), the
unfinished import is named, and running the file again completes it with the counts of an
uninterrupted import."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from db import queries
from tests.conftest import DATA, Database
from tests.test_queries_import import write_works_csv
from web import cli

ROOT = Path(__file__).resolve().parents[1]
WORKS = 6000


def _catalogue_file(tmp_path: Path) -> Path:
    rows = [
        {
            "work_id": f"95{n:05}",
            "title": f"中断試験の本 第{n}巻",
            "title_yomi": f"ちゅうだんしけんのほん だい{n}かん",
            "authors": "栞 一葉",
            "ndc": "913 K913" if n % 2 else "210",
        }
        for n in range(WORKS)
    ]
    return write_works_csv(tmp_path / "interrupted.csv", rows)


def _counts(url: str) -> dict[str, int]:
    """Works, works in the search index, works without an entry, entries without a work,
    NDC rows. SQLite's contentless FTS5 table cannot be scanned: its index is read through
    an fts5vocab table (one row per token instance, `doc` = the work id)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                indexed = "SELECT work_id AS doc FROM work_search"
            else:
                conn.execute(
                    text(
                        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.work_fts_docs "
                        "USING fts5vocab('main', 'work_fts', 'instance')"
                    )
                )
                indexed = "SELECT DISTINCT doc FROM temp.work_fts_docs"
            sql = {
                "works": "SELECT count(*) FROM work",
                "index": f"SELECT count(*) FROM ({indexed}) i",
                "works_unindexed": f"SELECT count(*) FROM work WHERE id NOT IN ({indexed})",
                "index_orphans": (
                    f"SELECT count(*) FROM ({indexed}) i WHERE doc NOT IN (SELECT id FROM work)"
                ),
                "ndc": "SELECT count(*) FROM work_ndc",
            }
            return {name: int(conn.execute(text(q)).scalar_one()) for name, q in sql.items()}
    finally:
        engine.dispose()


def _works(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM work")).scalar_one())
    finally:
        engine.dispose()


def _shiori_import(url: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", "import", *map(str, files)],
        cwd=ROOT,
        env={**os.environ, "SHIORI_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _kill_midway(url: str, path: Path) -> None:
    """Start `shiori import PATH` and SIGKILL it once a batch or two is in."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "import", str(path)],
        cwd=ROOT,
        env={**os.environ, "SHIORI_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _works(url) < 700 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import ended before it could be killed"


def test_a_killed_import_leaves_whole_batches_and_a_rerun_completes_it(
    fresh_db: Database, tmp_path: Path
) -> None:
    path = _catalogue_file(tmp_path)

    _kill_midway(fresh_db.url, path)

    after_kill = _counts(fresh_db.url)
    assert 0 < after_kill["works"] < WORKS, after_kill
    assert after_kill["works"] % 500 == 0  # whole batches only
    assert after_kill["index"] == after_kill["works"]
    assert after_kill["works_unindexed"] == after_kill["index_orphans"] == 0
    assert after_kill["ndc"] == after_kill["works"] // 2 * 3  # 2 rows for odd, 1 for even
    [unfinished] = queries.list_unfinished_imports()
    assert unfinished.file_path == str(path.resolve())
    assert unfinished.records_done == after_kill["works"]

    # Another import says that one is unfinished.
    other = write_works_csv(tmp_path / "other.csv", [{"work_id": "990001", "title": "別の本"}])
    done = _shiori_import(fresh_db.url, other)
    assert done.returncode == cli.IMPORT_ALL_LOADED, done.stderr
    assert (
        f"The import of {path.resolve()} (started " in done.stderr
        and f"was interrupted after {after_kill['works']} records: import that file again"
        in done.stderr
    ), done.stderr

    # Running the file again completes it, and says it resumed.
    done = _shiori_import(fresh_db.url, path)
    assert done.returncode == cli.IMPORT_ALL_LOADED, done.stdout + done.stderr
    loaded = after_kill["works"]
    assert f"added {WORKS - loaded}, updated 0, unchanged {loaded}, problems 0" in done.stdout, (
        done.stdout
    )
    assert f"This import resumed the one of this file interrupted after {loaded} records" in (
        done.stdout
    )
    assert done.stderr == ""
    assert queries.list_unfinished_imports() == ()
    final = _counts(fresh_db.url)
    uninterrupted = {
        "works": WORKS + 1,
        "index": WORKS + 1,
        "works_unindexed": 0,
        "index_orphans": 0,
        "ndc": WORKS // 2 * 3,
    }
    assert final == uninterrupted
    # Every record is as an uninterrupted import leaves it.
    again = queries.import_catalog_file(path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, WORKS)


def test_an_interrupted_demo_load_is_finished_by_the_next(
    fresh_db: Database, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "marc").mkdir(parents=True)
    for name in cli.DEMO_FILES:
        if name.startswith("marc/"):
            (data / name).write_bytes((DATA / name).read_bytes())
    aozora = gzip.compress(_catalogue_file(tmp_path).read_bytes())
    (data / "aozora_works.csv.gz").write_bytes(aozora)  # a small stand-in for the real one
    _kill_midway(fresh_db.url, data / "aozora_works.csv.gz")

    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "demo", "load", "--data-dir", str(data)],
        cwd=ROOT,
        env={**os.environ, "SHIORI_DATABASE_URL": fresh_db.url},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "already loaded" not in done.stdout
    assert queries.get_catalog_stats().by_source == (("aozora", WORKS), ("loc", 30), ("ndl", 233))
    assert queries.list_unfinished_imports() == ()
