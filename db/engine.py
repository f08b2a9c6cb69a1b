"""The database engine: SQLite (embedded default) or PostgreSQL, and the one transaction
helper every query function runs in (`reads` / `writes` / `replica_reads`).

A PostgreSQL deployment may name a streaming replica (SHIORI_DATABASE_READ_URL): a second
engine that only `replica_reads` query functions use. A function declares itself
replica-safe where it is defined, never per call site: it reads the public catalogue only
(search, record, facets, suggestions, new arrivals, open data), so an answer a few seconds
old is right enough, and nothing a patron writes is read back through it (My Library,
reservations, booklist, sessions and the staff console use `reads`, on the primary, and
see their own writes at once however far the replica lags). Without a replica, or on
SQLite, `replica_reads` is `reads`.

Lag: a standby that replays behind answers with older rows, never errors. A replica that
cannot be reached sends the reads to the primary (logged once per failure) rather than
failing the catalogue."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from db import clock, tenancy

log = logging.getLogger(__name__)

_lock = threading.Lock()
_engine: Engine | None = None
_read_engine: Engine | None = None  # the streaming replica, when one is configured
_key: tuple[str, int, str] | None = None
# Pooled connections per process: one for every thread that may run queries at once (the
# web tier's lanes, web/offload.py), so a thread never waits for a connection another
# thread of the same process holds.
DEFAULT_CONNECTIONS = 20
CONNECT_TIMEOUT_SECONDS = 10


class DatabaseNotConfigured(RuntimeError):
    pass


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Autocommit at the driver; we issue BEGIN ourselves (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=1073741824")
    # Deleted rows are overwritten with zeros, not left in free space of the page or file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Writes that read then write take the write lock up front (BEGIN IMMEDIATE) so two
    # writers never deadlock on lock upgrade.
    if conn.get_execution_options().get("write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _pg_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Autocommit at the driver; BEGIN comes from _pg_on_begin with the transaction's library.
    dbapi_connection.autocommit = True


def _pg_on_begin(conn: Connection) -> None:
    # BEGIN and the library in one simple-query string: no round trip beyond BEGIN's own
    # (db.tenancy). Never prepared: a prepared statement holds one command.
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(tenancy.begin_statement(tenancy.current_library.get()), prepare=False).close()


def make_engine(url: str, connections: int = DEFAULT_CONNECTIONS) -> Engine:
    # hide_parameters: even with SQLAlchemy's own logging turned on, bound values (card
    # numbers, names) never reach a log. max_overflow: room for callers outside the lanes.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            hide_parameters=True,
            pool_size=connections,
            max_overflow=10,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # Times are stored as naive UTC on both engines; the session time zone must agree.
    # connect_timeout: libpq would otherwise wait for ever on a host that never answers.
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=connections,
        max_overflow=10,
        hide_parameters=True,
        connect_args={"options": "-c timezone=UTC", "connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    event.listen(engine, "connect", _pg_on_connect)
    event.listen(engine, "begin", _pg_on_begin)
    return engine


class ReplicaNotAllowed(ValueError):
    """A read URL with SQLite (one file, nothing to replicate) or pointing at SQLite."""


def configure(url: str, connections: int = DEFAULT_CONNECTIONS, read_url: str = "") -> None:
    """Point the query layer at a database (called once by the app or the CLI), with a pool
    of `connections` per process; `read_url`: a PostgreSQL streaming replica of it for
    replica-safe reads (`replica_reads`), or "" for none."""
    global _engine, _read_engine, _key
    if read_url and not (url.startswith("postgresql") and read_url.startswith("postgresql")):
        raise ReplicaNotAllowed("a read replica needs PostgreSQL for both URLs")
    with _lock:
        if _engine is not None and _key == (url, connections, read_url):
            return
        for old in (_engine, _read_engine):
            if old is not None:
                old.dispose()
        _engine = make_engine(url, connections)
        _read_engine = make_engine(read_url, connections) if read_url else None
        _key = (url, connections, read_url)


def get_engine() -> Engine:
    if _engine is None:
        raise DatabaseNotConfigured("call db.queries.configure(url) first")
    return _engine


def cache_scope() -> object:
    """Which database and library a per-process cache entry belongs to (a process may switch
    databases: tests do; one database holds many libraries on PostgreSQL), for answers
    cached without opening a transaction."""
    return (get_engine().url, tenancy.current_library.get())


def get_read_engine() -> Engine:
    """Where replica-safe reads go: the replica if one is configured, else the primary."""
    return _read_engine or get_engine()


def dispose() -> None:
    global _engine, _read_engine, _key
    with _lock:
        for old in (_engine, _read_engine):
            if old is not None:
                old.dispose()
        _engine, _read_engine, _key = None, None, None


def is_postgres() -> bool:
    return get_engine().dialect.name == "postgresql"


@contextmanager
def read() -> Iterator[Connection]:
    """A reading transaction (tests and tools; query functions use `reads`)."""
    with get_engine().connect() as conn, conn.begin():
        yield conn


def _replica_connection() -> Connection:
    replica = _read_engine
    if replica is None:
        return get_engine().connect()
    try:
        return replica.connect()
    except OperationalError as failed:
        # The catalogue stays up on the primary; no URL or parameters in the log.
        log.warning("read replica unavailable, reading from the primary: %s", failed.orig)
        return get_engine().connect()


@contextmanager
def replica_read() -> Iterator[Connection]:
    """A reading transaction on the replica when there is one (query functions use
    `replica_reads`)."""
    with _replica_connection() as conn, conn.begin():
        yield conn


_ERASE = "shiori.erase"


def erase_after_commit(conn: Connection) -> None:
    """This transaction deletes what the privacy rules say must be gone (a returned loan, a
    purged patron). On SQLite the WAL still holds the rows' old pages after the commit, so
    `write` checkpoints and truncates it then (secure_delete zeroes them in the file)."""
    conn.info[_ERASE] = True


def _truncate_wal(conn: Connection) -> None:
    # On the driver connection, outside any transaction (a checkpoint cannot run in one).
    # Busy when a reader still holds an older snapshot: the next erasing commit retries.
    driver = conn.connection.driver_connection
    if driver is not None:
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").close()


@contextmanager
def write() -> Iterator[Connection]:
    """A writing transaction: BEGIN IMMEDIATE on SQLite (query functions use `writes`)."""
    with get_engine().connect().execution_options(write=True) as conn:
        try:
            with conn.begin():
                yield conn
            if conn.info.get(_ERASE) and conn.dialect.name == "sqlite":
                _truncate_wal(conn)
        finally:
            conn.info.pop(_ERASE, None)


P = ParamSpec("P")
R = TypeVar("R")
Query = Callable[Concatenate[Connection, datetime, P], R]


def _transaction(fn: Query[P, R], opened: Callable[[], Any]) -> Callable[P, R]:
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with opened() as conn:
            return fn(conn, clock.now(), *args, **kwargs)

    return run


def reads(fn: Query[P, R]) -> Callable[P, R]:
    """The one transaction helper, reading: `fn(conn, now, ...)` runs in one transaction and
    is called as `fn(...)`; `now` comes from the injectable clock (db.clock)."""
    return _transaction(fn, read)


REPLICA_SAFE = "__replica_safe__"


def replica_reads(fn: Query[P, R]) -> Callable[P, R]:
    """As `reads`, on the streaming replica when one is configured: for functions that read
    the public catalogue only, never what a patron or staff member just wrote (see the
    module doc). Marked, so tests can list which functions are."""
    run = _transaction(fn, replica_read)
    setattr(run, REPLICA_SAFE, True)
    return run


def is_replica_safe(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, REPLICA_SAFE, False))


def writes(fn: Query[P, R]) -> Callable[P, R]:
    """As `reads`, in a writing transaction (BEGIN IMMEDIATE on SQLite, so a write that
    reads first never deadlocks on lock upgrade; PostgreSQL takes row locks instead)."""
    return _transaction(fn, write)
