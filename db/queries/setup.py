"""Setting up: which database, the clock, the schema, reference and demo data.

Called by the app factory, the CLI and tests; the demo data is never made in production
(web.cli refuses it there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Connection

from db import (
    availability,
    circulation,
    clock,
    demo_borrowers,
    engine,
    migrate,
    passwords,
    patrons,
    rules,
    search_cache,
    seed,
)
from db.engine import writes
from db.errors import DatabaseUnavailable
from db.rules import DEFAULT_BRANCHES, BranchSpec

__all__ = [
    "DEFAULT_BRANCHES",
    "BranchSpec",
    "DatabaseUnavailable",
    "check_database",
    "configure",
    "configure_password_hashing",
    "configure_search_cache",
    "dispose",
    "ensure_demo_patrons",
    "ensure_reference_data",
    "generate_demo_copies",
    "give_demo_loans",
    "lend_to_demo_borrowers",
    "migrate_database",
    "set_clock",
]


def configure(url: str, connections: int = engine.DEFAULT_CONNECTIONS, read_url: str = "") -> None:
    """Point the query layer at a database URL (sqlite:///… or postgresql+psycopg://…), with
    a pool of `connections` per process: at least as many as threads that run queries.
    `read_url`: a PostgreSQL streaming replica for the catalogue's reads (db.engine)."""
    engine.configure(url, connections, read_url)
    search_cache.clear()


def check_database() -> None:
    """Raise DatabaseUnavailable (one code, where and why) unless the configured database
    can be opened for writing: called before anything else touches it."""
    availability.check()


def configure_search_cache(seconds: float) -> None:
    """Keep ranked search pages this long in each process (0 turns the cache off)."""
    search_cache.configure(seconds)


def configure_password_hashing(
    profile: str, concurrency: int = passwords.DEFAULT_CONCURRENCY
) -> None:
    """Hash new passwords with one of db.passwords.HASHING_PROFILES ("test" is for suites),
    at most `concurrency` argon2 computations at once in this process."""
    passwords.configure_password_hashing(profile, concurrency)


def dispose() -> None:
    engine.dispose()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests travel in time); None restores the real one."""
    clock.set_clock(now)


def migrate_database() -> None:
    migrate.upgrade()


def ensure_reference_data(branches: tuple[rules.BranchSpec, ...] = rules.DEFAULT_BRANCHES) -> None:
    """Create or update the branches and material types (idempotent)."""
    _ensure_reference_data(branches)
    search_cache.clear()


@writes
def _ensure_reference_data(
    conn: Connection, now: datetime, branches: tuple[rules.BranchSpec, ...]
) -> None:
    seed.ensure_reference_data(conn, branches)


@writes
def ensure_demo_patrons(conn: Connection, now: datetime) -> int:
    """Create the README's demo patrons where missing (never in production: see web.cli)."""
    return len(patrons.ensure_demo_patrons(conn, now))


def generate_demo_copies(seed_value: int = 20261121) -> int:
    """Give every work without copies 0–5 copies (seeded, reproducible). Returns copies made."""
    made = _generate_copies(seed_value)
    search_cache.clear()
    return made


@writes
def _generate_copies(conn: Connection, now: datetime, seed_value: int) -> int:
    return seed.generate_copies(conn, seed_value, clock.library_today(now))


@writes
def give_demo_loans(conn: Connection, now: datetime) -> int:
    """The demo patrons' documented loans (db.circulation.give_demo_loans)."""
    return circulation.give_demo_loans(conn, now)


@writes
def lend_to_demo_borrowers(conn: Connection, now: datetime) -> int:
    """Real loans behind the demo copies seeded as out (db.demo_borrowers)."""
    return demo_borrowers.lend_to_demo_borrowers(conn, now)
