"""Catalogue reads on a PostgreSQL streaming replica (SHIORI_DATABASE_READ_URL, db/engine.py).

The settings and the list of replica-safe query functions are checked on every backend.
The rest needs a real standby: scripts/test.sh makes one with pg_basebackup and runs this
file (and the catalogue's tests) with SHIORI_TEST_PG_READ_URL pointing at it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from db import engine, queries
from db.queries import catalog, facets, suggest
from tests.conftest import BACKEND, Database, app_settings, replica_url
from tests.test_web_account import log_in
from tests.test_web_holds import HANAKO, reserve, taros_loan
from web.app import create_app
from web.settings import SettingsError
from web.settings import load as load_settings

PG = "postgresql+psycopg://shiori@db.example.jp/shiori"
REPLICA = "postgresql+psycopg://shiori@replica.example.jp/shiori"


def test_a_read_url_with_sqlite_is_refused_with_a_clear_error() -> None:
    with pytest.raises(SettingsError, match=r"SHIORI_DATABASE_READ_URL .*needs PostgreSQL"):
        load_settings(
            {"SHIORI_DATABASE_URL": "sqlite:///var/shiori.db", "SHIORI_DATABASE_READ_URL": REPLICA}
        )
    with pytest.raises(SettingsError, match="must start with postgresql"):
        load_settings(
            {"SHIORI_DATABASE_URL": PG, "SHIORI_DATABASE_READ_URL": "sqlite:///var/copy.db"}
        )
    with pytest.raises(engine.ReplicaNotAllowed):
        engine.configure("sqlite:///var/shiori.db", read_url=REPLICA)


def test_a_read_url_with_postgresql_is_kept() -> None:
    settings = load_settings({"SHIORI_DATABASE_URL": PG, "SHIORI_DATABASE_READ_URL": REPLICA})
    assert settings.database_read_url == REPLICA
    assert load_settings({"SHIORI_DATABASE_URL": PG}).database_read_url == ""


REPLICA_SAFE: tuple[Callable[..., Any], ...] = (
    queries.search_works,
    queries.list_new_arrivals,
    queries.find_works_by_isbn,
    queries.find_works_by_ndl,
    queries.list_isbn_availability,
    queries.list_sitemap_chunks,
    queries.list_sitemap_entries,
    queries.list_work_updated,
    facets._count_facets,
    suggest._suggest,
)
# What a patron writes and then reads back, and the title's reservation count and copy
# statuses a patron who just reserved sees on the record page: always the primary. So are the
# cached code tables (a console change clears the cache; a lagging replica would refill it).
PRIMARY_ONLY: tuple[Callable[..., Any], ...] = (
    queries.list_holds,
    queries.list_loans,
    queries.get_my_summary,
    queries.get_title_status,
    queries.get_record,
    catalog._branches,
    catalog._material_types,
)


def test_catalogue_reads_declare_themselves_replica_safe_and_patron_reads_do_not() -> None:
    assert all(engine.is_replica_safe(fn) for fn in REPLICA_SAFE)
    assert not any(engine.is_replica_safe(fn) for fn in PRIMARY_ONLY)


def test_without_a_replica_catalogue_reads_use_the_primary(catalog_db: Database) -> None:
    if replica_url(catalog_db.url):
        pytest.skip("this run has a replica")
    assert engine.get_read_engine() is engine.get_engine()
    assert queries.search_works(queries.SearchParams(q="銀河鉄道")).total > 0


@pytest.mark.skipif(BACKEND != "postgresql", reason="a replica needs PostgreSQL")
def test_an_unreachable_replica_sends_catalogue_reads_to_the_primary(
    catalog_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    dead = make_url(catalog_db.url).set(host="127.0.0.1", port=1, password="not-logged-1")
    queries.configure(catalog_db.url, read_url=dead.render_as_string(hide_password=False))
    with caplog.at_level(logging.WARNING, logger="db.engine"):
        assert queries.search_works(queries.SearchParams(q="銀河鉄道")).total > 0
    assert "read replica unavailable" in caplog.text
    assert "not-logged-1" not in caplog.text


needs_replica = pytest.mark.skipif(
    BACKEND != "postgresql" or not replica_url(PG),
    reason="needs a PostgreSQL standby (scripts/test.sh starts one)",
)


CATALOGUE = re.compile(r"\b(work|item)\b")


@contextmanager
def statements_on(target: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(target, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", note)


@needs_replica
def test_the_read_engine_is_the_standby_and_refuses_writes(catalog_db: Database) -> None:
    with engine.replica_read() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
    with engine.read() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False
    with pytest.raises(DBAPIError) as refused, engine.replica_read() as conn:
        conn.execute(text("UPDATE work SET title = title WHERE id = 1"))
    assert getattr(refused.value.orig, "sqlstate", "") == "25006"  # read_only_sql_transaction


@needs_replica
def test_the_search_page_is_answered_by_the_replica(client: TestClient) -> None:
    with (
        statements_on(engine.get_read_engine()) as on_replica,
        statements_on(engine.get_engine()) as on_primary,
    ):
        page = client.get("/search", params={"q": "銀河鉄道の夜"})
        assert page.status_code == 200 and "銀河鉄道の夜" in page.text
    # The catalogue's rows come from the standby; the primary sees no catalogue query.
    assert any(CATALOGUE.search(s) for s in on_replica)
    assert not any(CATALOGUE.search(s) for s in on_primary)


@contextmanager
def lagging_replica(db_url: str) -> Iterator[None]:
    """The standby stops replaying (pg_wal_replay_pause) and the primary stops waiting for
    it: the replica falls behind like one on a busy or distant host."""
    admin = create_engine(
        make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT", pool_size=1
    )
    standby = create_engine(
        make_url(replica_url(db_url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        pool_size=1,
    )

    def primary_waits(on: bool) -> None:
        with admin.connect() as conn:
            conn.execute(
                text(f"ALTER SYSTEM SET synchronous_standby_names = '{'*' if on else ''}'")
            )
            conn.execute(text("SELECT pg_reload_conf()"))
        time.sleep(0.5)  # the checkpointer releases waiting commits once it read the file

    try:
        primary_waits(False)
        with standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
        yield
    finally:
        with standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
        primary_waits(True)
        admin.dispose()
        standby.dispose()


@needs_replica
def test_a_patron_who_reserved_sees_it_while_the_replica_lags(library_db: Database) -> None:
    work_id, _barcode, branch = taros_loan()
    with lagging_replica(library_db.url), TestClient(create_app(app_settings(library_db.url))) as a:
        log_in(a, *HANAKO)
        response = reserve(a, work_id, branch)
        assert response.status_code == 303 and response.headers["location"] == "/my/holds"
        assert "あなたは 1 番目" in a.get("/my/holds").text
        # The record page answers; its copies, like the count below, come from the primary.
        assert a.get(f"/records/{work_id}").status_code == 200
        with engine.replica_read() as conn:
            on_replica = conn.execute(
                text("SELECT count(*) FROM hold WHERE work_id = :w"), {"w": work_id}
            ).scalar_one()
        assert on_replica == 0  # not replayed yet: the reservation exists on the primary only
        assert queries.get_title_status(work_id).reservations == 1
