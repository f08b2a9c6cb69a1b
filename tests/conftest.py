"""Shared fixtures: databases built once per session as templates, copied for every test.

The backend is SQLite unless SHIORI_TEST_BACKEND=postgresql, in which case
SHIORI_TEST_PG_URL names a server where databases may be created and dropped
(`make test` runs the whole suite once per backend).
"""

from __future__ import annotations

import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient

from db import queries
from tests import smtp_sink
from web import refusals
from web.app import create_app
from web.settings import LOCALE_DIR, Settings
from web.settings import load as load_settings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not DATA.exists():  # a checkout beside ../shared is the norm; allow an override
    DATA = Path(os.environ.get("SHIORI_DATA_DIR", "../shared/data")).resolve()

BACKEND = os.environ.get("SHIORI_TEST_BACKEND", "sqlite")

# How long a server a test starts may take to answer. Only an upper bound: the waits return
# as soon as it answers and fail at once if it exits. A loaded machine (both engines' passes at
# once, on two cores) can take half a minute just to import the application.
SERVER_START_SECONDS = 180


# Argon2's least work for every hash the suite makes, in this process and in the servers and
# workers it starts (they read SHIORI_PASSWORD_HASHING); production settings refuse it.
TEST_PASSWORD_HASHING = "test"


def pytest_configure(config: pytest.Config) -> None:
    os.environ["SHIORI_PASSWORD_HASHING"] = TEST_PASSWORD_HASHING
    queries.configure_password_hashing(TEST_PASSWORD_HASHING)


@dataclass(frozen=True)
class Database:
    url: str


def _pg_admin_url() -> str:
    url = os.environ.get("SHIORI_TEST_PG_URL")
    if not url:
        raise pytest.UsageError("SHIORI_TEST_BACKEND=postgresql needs SHIORI_TEST_PG_URL")
    return url


@cache
def _pg_admin_engine() -> Engine:
    # One pooled connection to the maintenance database for every CREATE and DROP.
    return create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", pool_size=1)


def _pg_admin(*statements: str) -> None:
    with _pg_admin_engine().connect() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _pg_url(name: str) -> str:
    return make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def replica_url(url: str) -> str:
    """The streaming replica's URL of a test database (scripts/test.sh starts the standby,
    SHIORI_TEST_PG_READ_URL names it), or "" when the run has no replica."""
    standby = os.environ.get("SHIORI_TEST_PG_READ_URL", "")
    if BACKEND != "postgresql" or not standby:
        return ""
    name = make_url(url).database
    return make_url(standby).set(database=name).render_as_string(hide_password=False)


class _Dropper:
    """Drops finished PostgreSQL databases on a thread of its own: a DROP DATABASE waits for a
    checkpoint, which the next test need not wait for. Every name is unique and nothing
    uses it again; the session ends only when all are gone, and fails if one could not be."""

    def __init__(self) -> None:
        self.names: queue.Queue[str | None] = queue.Queue()
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def drop(self, name: str) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
            self.thread.start()
        self.names.put(name)

    def _run(self) -> None:
        while (name := self.names.get()) is not None:
            try:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except BaseException as error:  # reported by finish(), in the main thread
                self.errors.append(error)

    def finish(self) -> None:
        if self.thread is not None:
            self.names.put(None)
            self.thread.join()
            self.thread = None
        if self.errors:
            raise RuntimeError(f"test databases not dropped: {self.errors!r}")


_dropper = _Dropper()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _dropper.finish()


def _drop_pg_database(name: str) -> None:
    queries.dispose()
    _dropper.drop(name)


def new_database(tmp_dir: Path) -> tuple[str, str | None]:
    """A URL of an empty database, and the PostgreSQL name to drop afterwards."""
    if BACKEND == "postgresql":
        name = f"shiori_t_{uuid.uuid4().hex[:12]}"
        _pg_admin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        return _pg_url(name), name
    return f"sqlite:///{tmp_dir / 'shiori.db'}", None


def clone_pg_database(template_url: str) -> tuple[str, str]:
    """A private copy of a PostgreSQL database (CREATE DATABASE … TEMPLATE copies files).

    Nothing may stay connected to a template, so servers and tests always use copies."""
    template = make_url(template_url).database
    name = f"shiori_t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _pg_url(name), name


def copy_database(template_url: str, directory: Path) -> tuple[str, str | None]:
    """A private copy of a template database: its URL, and the PostgreSQL name to drop."""
    if BACKEND == "postgresql":
        return clone_pg_database(template_url)
    target = directory / f"copy-{uuid.uuid4().hex[:12]}.db"
    shutil.copyfile(make_url(template_url).database or "", target)
    return f"sqlite:///{target}", None


def _remove_sqlite(url: str) -> None:
    path = make_url(url).database or ""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(path + suffix).unlink(missing_ok=True)


def _seal(url: str) -> None:
    """Close every connection to a finished template; on SQLite fold the WAL into the file,
    so that copying the one file copies everything."""
    queries.dispose()
    queries.set_clock(None)
    if BACKEND == "postgresql":
        return
    path = make_url(url).database or ""
    with closing(sqlite3.connect(path)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0 and not Path(path + "-wal").exists(), "a template is still in use"


@contextmanager
def database_copy(template_url: str, directory: Path) -> Iterator[Database]:
    """A private copy of a template, configured as the query layer's database, removed after."""
    url, pg_name = copy_database(template_url, directory)
    queries.configure(url, read_url=replica_url(url))
    try:
        yield Database(url)
    finally:
        queries.dispose()
        if pg_name:
            _drop_pg_database(pg_name)
        else:
            _remove_sqlite(url)


# scripts/test.sh names its private cluster's run: the PostgreSQL suite and the replica's pass
# after it then build each of conftest's templates once, under a name made of the run's name,
# and the second pass copies what the first built (the same code, on the same cluster).
SHARED_TEMPLATES = "".join(
    c for c in os.environ.get("SHIORI_TEST_SHARED_TEMPLATES", "") if c.isalnum()
)


@contextmanager
def _shared_template(
    name: str, directory: Path, build: Callable[[str], object], base: str | None
) -> Iterator[str]:
    """template_database's result kept in the cluster as shiori_tpl_<run>_<name>: built by
    the first session that needs it (under a lock, so sessions at the same time wait for it)
    and renamed only once complete, so a half-built one is never found."""
    final = f"shiori_tpl_{SHARED_TEMPLATES}_{name}"[:63]
    lock = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with lock.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": final})
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": final}
            ).first()
            if found is None:
                with template_database(directory, build, base, keep_as=final):
                    pass
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": final})
    finally:
        lock.dispose()
    yield _pg_url(final)


@contextmanager
def session_template(
    name: str, directory: Path, build: Callable[[str], object], base: str | None = None
) -> Iterator[str]:
    """template_database for conftest's own session templates, shared between the passes of
    one scripts/test.sh run on PostgreSQL (SHIORI_TEST_SHARED_TEMPLATES)."""
    if BACKEND == "postgresql" and SHARED_TEMPLATES:
        with _shared_template(name, directory, build, base) as url:
            yield url
    else:
        with template_database(directory, build, base) as url:
            yield url


@contextmanager
def template_database(
    directory: Path,
    build: Callable[[str], object],
    base: str | None = None,
    keep_as: str | None = None,
) -> Iterator[str]:
    """A database built once per session by `build` (on a copy of `base`, or on an empty,
    migrated one), to be copied by tests and never used directly. PostgreSQL: `keep_as`
    renames it once built, and keeps it after the session."""
    if base is None:
        url, pg_name = new_database(Path(tempfile.mkdtemp(dir=directory)))
        prepare(url)
    else:
        url, pg_name = copy_database(base, directory)
        queries.configure(url)
    try:
        build(url)
        _seal(url)
        if keep_as and pg_name:
            _pg_admin(f'ALTER DATABASE "{pg_name}" RENAME TO "{keep_as}"')
            url, pg_name = _pg_url(keep_as), None
        yield url
    finally:
        if pg_name:
            _drop_pg_database(pg_name)


@pytest.fixture(scope="session")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the SQLite test databases live: in memory (/dev/shm) where the machine has it,
    since synchronous=FULL makes every commit wait for the disk otherwise."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("db")
        return
    path = Path(tempfile.mkdtemp(prefix="shiori-tests-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def prepare(url: str) -> None:
    queries.configure(url)
    queries.migrate_database()
    queries.ensure_reference_data()


@pytest.fixture(scope="session")
def _empty_template(db_dir: Path) -> Iterator[str]:
    with session_template("empty", db_dir, lambda _url: None) as url:
        yield url


@pytest.fixture
def fresh_db(_empty_template: str, db_dir: Path) -> Iterator[Database]:
    """An empty, migrated database with branches and material types (a copy of one built
    once per session)."""
    with database_copy(_empty_template, db_dir) as db:
        yield db


def load_demo_catalog() -> None:
    for name in (
        "aozora_works.csv.gz",
        "marc/ndl_japanmarc_marc21_233.mrc",
        "marc/loc_multiscript_30.mrc",
    ):
        report = queries.import_catalog_file(DATA / name)
        assert not report.problems, report.problems
    queries.generate_demo_copies()


def _build_demo_library(_url: str) -> None:
    load_demo_catalog()
    queries.ensure_demo_patrons()
    queries.give_demo_loans()


@pytest.fixture(scope="session")
def _catalog_template(_empty_template: str, db_dir: Path) -> Iterator[str]:
    with session_template("catalog", db_dir, _build_demo_library, _empty_template) as url:
        yield url


@pytest.fixture
def catalog_db(_catalog_template: str, db_dir: Path) -> Iterator[Database]:
    """The real demo catalog (Aozora + NDL + LoC + demo copies), loaded once per session.

    Every test gets its own copy (a file copy on SQLite, a template copy on PostgreSQL), so
    tests may write to it.
    """
    with database_copy(_catalog_template, db_dir) as db:
        yield db


def app_settings(database_url: str, **extra: str) -> Settings:
    replica = {"SHIORI_DATABASE_READ_URL": read} if (read := replica_url(database_url)) else {}
    return load_settings(
        {"SHIORI_DATABASE_URL": database_url, "SHIORI_PASSWORD_HASHING": TEST_PASSWORD_HASHING}
        | replica
        | extra
    )


@pytest.fixture
def client(catalog_db: Database) -> Iterator[TestClient]:
    """An HTTP client for the app on the demo catalog."""
    with TestClient(create_app(app_settings(catalog_db.url))) as test_client:
        yield test_client


def add_small_catalog() -> None:
    """A dozen real Aozora works with demo copies: enough to lend, fast to build."""
    import csv
    import gzip

    from db.importers.aozora import record_from_row

    with gzip.open(DATA / "aozora_works.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        rows = [row for _, row in zip(range(40), csv.DictReader(fh), strict=False)]
    from db import catalog_write, engine

    with engine.write() as conn:
        report = catalog_write.ImportReport()
        catalog_write.upsert_works(conn, [record_from_row(r) for r in rows], report, None)
    queries.generate_demo_copies()


def _build_small_library(_url: str) -> None:
    add_small_catalog()
    queries.ensure_demo_patrons()
    queries.give_demo_loans()


@pytest.fixture(scope="session")
def _library_template(_empty_template: str, db_dir: Path) -> Iterator[str]:
    with session_template("library", db_dir, _build_small_library, _empty_template) as url:
        yield url


@pytest.fixture
def library_db(_library_template: str, db_dir: Path) -> Iterator[Database]:
    """A small catalog, the README's demo patrons and their demo loans (built once per
    session, copied per test)."""
    with database_copy(_library_template, db_dir) as db:
        yield db


@pytest.fixture
def web(library_db: Database) -> Iterator[TestClient]:
    """An HTTP client (no login yet) for the app on library_db."""
    with TestClient(create_app(app_settings(library_db.url))) as test_client:
        yield test_client


@pytest.fixture
def smtp_server() -> Iterator[smtp_sink.Server]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives."""
    yield from smtp_sink.running_server()


def in_words(refused: queries.QueryError | queries.Refusal) -> str:
    """A refusal as the command line shows it (web/refusals.py): Japanese / English."""
    return refusals.for_console(LOCALE_DIR, refused)
