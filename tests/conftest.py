"""Shared fixtures: a fresh database per test, and one demo catalog per session.

The backend is SQLite unless SHIORI_TEST_BACKEND=postgresql, in which case
SHIORI_TEST_PG_URL names a server where databases may be created and dropped
(`make test` runs the whole suite once per backend).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
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


@dataclass(frozen=True)
class Database:
    url: str


def _pg_admin_url() -> str:
    url = os.environ.get("SHIORI_TEST_PG_URL")
    if not url:
        raise pytest.UsageError("SHIORI_TEST_BACKEND=postgresql needs SHIORI_TEST_PG_URL")
    return url


def _create_pg_database(name: str) -> str:
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    return make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    queries.dispose()
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_database(tmp_dir: Path) -> tuple[str, str | None]:
    """A URL of an empty database, and the PostgreSQL name to drop afterwards."""
    if BACKEND == "postgresql":
        name = f"shiori_t_{uuid.uuid4().hex[:12]}"
        return _create_pg_database(name), name
    return f"sqlite:///{tmp_dir / 'shiori.db'}", None


def prepare(url: str) -> None:
    queries.configure(url)
    queries.migrate_database()
    queries.ensure_reference_data()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database with branches and material types."""
    url, pg_name = new_database(tmp_path)
    prepare(url)
    yield Database(url)
    queries.dispose()
    if pg_name:
        _drop_pg_database(pg_name)


def clone_pg_database(template_url: str) -> tuple[str, str]:
    """A private copy of a PostgreSQL database (CREATE DATABASE … TEMPLATE copies files).

    Nothing may stay connected to a template, so servers and tests always use copies."""
    template = make_url(template_url).database
    name = f"shiori_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    url = make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    return url, name


def load_demo_catalog() -> None:
    for name in (
        "aozora_works.csv.gz",
        "marc/ndl_japanmarc_marc21_233.mrc",
        "marc/loc_multiscript_30.mrc",
    ):
        report = queries.import_catalog_file(DATA / name)
        assert not report.problems, report.problems
    queries.generate_demo_copies()


@pytest.fixture(scope="session")
def _catalog_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, pg_name = new_database(tmp_path_factory.mktemp("catalog"))
    prepare(url)
    load_demo_catalog()
    queries.ensure_demo_patrons()
    queries.give_demo_loans()
    queries.dispose()
    yield url
    if pg_name:
        _drop_pg_database(pg_name)


@pytest.fixture
def catalog_db(_catalog_template: str, tmp_path: Path) -> Iterator[Database]:
    """The real demo catalog (Aozora + NDL + LoC + demo copies), loaded once per session.

    Every test gets its own copy (a file copy on SQLite, a template copy on PostgreSQL), so
    tests may write to it.
    """
    if BACKEND == "postgresql":
        url, name = clone_pg_database(_catalog_template)
        queries.configure(url)
        yield Database(url)
        _drop_pg_database(name)
        return
    source = Path(make_url(_catalog_template).database or "")
    target = tmp_path / "catalog.db"
    shutil.copyfile(source, target)
    url = f"sqlite:///{target}"
    queries.configure(url)
    yield Database(url)
    queries.dispose()


def app_settings(database_url: str, **extra: str) -> Settings:
    return load_settings({"SHIORI_DATABASE_URL": database_url, **extra})


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


@pytest.fixture
def library_db(fresh_db: Database) -> Database:
    """A small catalog, the README's demo patrons and their demo loans."""
    add_small_catalog()
    queries.ensure_demo_patrons()
    queries.give_demo_loans()
    return fresh_db


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
