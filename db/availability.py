"""Can this process use its database? Checked once when a command starts, so a database
that cannot be used is one refusal (`DatabaseUnavailable`, a code and the place) instead of
a traceback from deep in a migration.

SQLite: the file, its `-wal` and `-shm`, and the folder must be writable by this user; this
is checked *before* SQLite opens anything. Opened read-only, SQLite still creates `-wal` and
`-shm`, with the database file's (read-only) permissions, and they kept the server failing
after the file itself had been fixed.

PostgreSQL: one connection is made; a failure is told by its kind (refused, no answer,
unknown host, login refused, no such database) with host and port, never the password.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from db.engine import get_engine
from db.errors import DatabaseUnavailable

# libpq's words: a server that answered and said no (its FATAL message, no SQLSTATE on a
# failed connection), then failures before any server answered.
_CLUES = (
    (re.compile(r'database ".*" does not exist'), "database_missing"),
    (re.compile(r'role ".*" does not exist'), "database_login_refused"),
    (
        re.compile(r"authentication failed|no password supplied|pg_hba\.conf"),
        "database_login_refused",
    ),
    (re.compile(r"connection refused"), "database_connection_refused"),
    (re.compile(r"timeout expired|timed out"), "database_timed_out"),
    (
        re.compile(r"resolve host|translate host name|name or service not known"),
        "database_host_unknown",
    ),
)


def check() -> None:
    """Raise DatabaseUnavailable unless the configured database can be opened for writing."""
    engine = get_engine()
    url = engine.url
    if url.get_backend_name() == "sqlite":
        _check_sqlite_files(Path(url.database or ""))
    try:
        with engine.connect():
            pass
    except DBAPIError as failed:
        raise _refusal(url, failed) from None


def _check_sqlite_files(path: Path) -> None:
    folder = path.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        raise DatabaseUnavailable("database_read_only", path=str(folder)) from None
    if path.exists() and not _writable(path):
        raise DatabaseUnavailable("database_read_only", path=str(path.absolute()))
    for each in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists() and not _writable(each):
            _follow_the_database(each, path)
            if not _writable(each):
                raise DatabaseUnavailable("database_read_only", path=str(each.absolute()))
    # SQLite creates and deletes the -wal and -shm beside the file.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseUnavailable("database_read_only", path=str(folder))


def _writable(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK)


def _follow_the_database(companion: Path, database: Path) -> None:
    """A -wal or -shm of ours left read-only by a start while the database file was (SQLite
    gives them the file's permissions): give them the file's permissions again."""
    try:
        if companion.stat().st_uid == os.geteuid():
            companion.chmod(database.stat().st_mode & 0o666)
    except OSError:
        return


def _refusal(url: URL, failed: DBAPIError) -> DatabaseUnavailable:
    if url.get_backend_name() == "sqlite":
        reason = str(failed.orig).splitlines()[0] if failed.orig else type(failed).__name__
        return DatabaseUnavailable(
            "database_cannot_open", path=str(Path(url.database or "").absolute()), reason=reason
        )
    address = f"{url.host or 'localhost'}:{url.port or 5432}"
    text = str(failed.orig).lower()
    for clue, code in _CLUES:
        if clue.search(text):
            return DatabaseUnavailable(
                code, address=address, user=url.username or "", name=url.database or ""
            )
    return DatabaseUnavailable("database_unreachable", address=address)
