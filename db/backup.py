"""`shiori backup` and `shiori restore`: a whole database to one file and back.

SQLite: the online backup API (sqlite3.Connection.backup) copies every page in one step,
inside one read transaction: a consistent snapshot taken while the server goes on writing
(WAL lets writers proceed). The file is itself an SQLite database.
PostgreSQL: pg_dump's custom format (one consistent snapshot, as pg_dump always takes),
restored as one transaction (pg_restore's SQL through psql). The client binaries come from
SHIORI_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin, else the PATH (pg_dump must
be at least the server's version).

A restore refuses a file that is not a backup of this application (no alembic_version
table in it), a backup of the other engine, and a target database that holds any table
unless `force` (then everything in the target goes, in the restore's transaction).
Afterwards the migrations run, so a backup made before an upgrade comes back at the
current schema.

Many libraries on one PostgreSQL (db.tenancy): a backup holds every library, so pg_dump
must run as a role that row-level security does not filter (a superuser or a BYPASSRLS
role, e.g. the owner role of the README's deployment guide); with any other role it is
refused before pg_dump starts, rather than a backup of one library or an error half-way.
A restore loads the rows before it re-creates the policies (pg_dump's post-data section),
so any role that may create the tables may restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from db import engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
MARKER_TABLE = "alembic_version"


class BackupRefused(Exception):
    """A backup or restore that cannot go on; the message says why, in Japanese and English
    (for the console: these commands have no page)."""


@dataclass(frozen=True)
class BackupInfo:
    engine: str  # "sqlite" or "postgresql"
    path: Path
    size: int


def backup(
    url: str, target: Path, *, source: sqlite3.Connection | None = None, snapshot: str | None = None
) -> BackupInfo:
    """Write a backup of the database at `url` to `target` (replaced only once complete).
    `source`: an open SQLite connection to copy from, inside its read transaction if one is
    open; `snapshot`: a PostgreSQL snapshot id (pg_export_snapshot) to dump."""
    parsed = make_url(url)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".shiori-backup-") as work:
        partial = Path(work) / "backup"
        if parsed.get_backend_name() == "sqlite":
            kind = "sqlite"
            if source is not None:
                _sqlite_copy(source, partial)
            else:
                with closing(sqlite3.connect(_sqlite_path(parsed))) as conn:
                    _sqlite_copy(conn, partial)
        else:
            kind = "postgresql"
            if not sees_every_library(url):
                raise BackupRefused(
                    "このロールには行単位セキュリティが掛かり、全図書館のデータを読めません。"
                    "スーパーユーザーか BYPASSRLS のロール（所有者ロール）の SHIORI_DATABASE_URL で"
                    "実行してください。 / Row-level security applies to this role, so it cannot"
                    " read every library: run the backup with SHIORI_DATABASE_URL naming a"
                    " superuser or BYPASSRLS role (the owner role)."
                )
            command = [
                _pg_bin("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={partial}",
            ]
            if snapshot:
                command.append(f"--snapshot={snapshot}")
            _run([*command, f"--dbname={parsed.database}"], parsed)
        os.replace(partial, target)
    return BackupInfo(kind, target, target.stat().st_size)


def _sqlite_copy(source: sqlite3.Connection, partial: Path) -> None:
    with closing(sqlite3.connect(partial)) as copy:
        source.backup(copy)  # pages=-1: every page in one step, one snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file


def kind_of(path: Path) -> str:
    """ "sqlite" or "postgresql" for a backup file of this application; BackupRefused else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as unreadable:
        raise BackupRefused(
            f"{path} を読めません / cannot read {path}: {unreadable.strerror}"
        ) from None
    if head == SQLITE_MAGIC:
        # An SQLite file it cannot read, even its list of tables, is a damaged one.
        _check_sqlite(path)
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (MARKER_TABLE,)
            ).fetchone()
        if found:
            return "sqlite"
    elif head.startswith(PG_CUSTOM_MAGIC):
        listing = subprocess.run(  # noqa: S603 - our own argument list, no shell
            [_pg_bin("pg_restore"), "--list", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if listing.returncode == 0 and f" TABLE public {MARKER_TABLE} " in listing.stdout:
            return "postgresql"
    raise BackupRefused(
        f"{path} は shiori backup で作ったバックアップではありません。 / "
        f"{path} is not a backup made by `shiori backup`."
    )


def _check_sqlite(path: Path) -> None:
    """Refuse a damaged SQLite backup before anything is replaced (the backup API would
    copy damaged pages as they are)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            verdict = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as failed:
        verdict = [str(failed)]
    if verdict != ["ok"]:
        raise BackupRefused(f"{path} は壊れています / {path} is damaged: {'; '.join(verdict)}")


def is_empty(url: str) -> bool:
    """Whether the database holds no table at all (a new, never migrated one)."""
    probe = create_engine(url)
    try:
        with probe.connect() as conn:
            return not inspect(conn).get_table_names()
    finally:
        probe.dispose()


def _ask(url: str, sql: str) -> object:
    """One answer about the role of `url`, on a connection of its own (not the app's pool)."""
    probe = create_engine(url)
    try:
        with probe.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        probe.dispose()


def sees_every_library(url: str) -> bool:
    """Whether row-level security leaves the role of `url` every row (superuser or
    BYPASSRLS): what pg_dump needs, since it turns row security off."""
    return bool(
        _ask(url, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    )


def owns_public_schema(url: str) -> bool:
    """Whether the role of `url` may DROP SCHEMA public: its owner, a member of the owning
    role (pg_database_owner on PostgreSQL 15+), or a superuser."""
    return bool(
        _ask(
            url,
            "SELECT pg_has_role(current_user, nspowner, 'USAGE') "
            "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
            "FROM pg_namespace WHERE nspname = 'public'",
        )
    )


def restore(url: str, source: Path, *, force: bool = False) -> str:
    """Replace the database at `url` with the backup `source` (the migrations are left to
    the caller). → the engine restored. The server and workers must be stopped."""
    parsed = make_url(url)
    kind = kind_of(Path(source))
    backend = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    if kind != backend:
        raise BackupRefused(
            f"{source} は {kind} のバックアップで、データベースは {backend} です。 / "
            f"{source} is a {kind} backup; the database is {backend}."
        )
    if not force and not is_empty(url):
        raise BackupRefused(
            "データベースが空ではありません。新しいデータベースに戻すか、中身をすべて置き換える"
            "なら --force を付けてください。 / The database is not empty: restore into a new"
            " database, or give --force to replace everything in it."
        )
    if backend == "postgresql" and force and not owns_public_schema(url):
        raise BackupRefused(
            "--force はスキーマ public を削除して作り直します。アプリのロールがデータベース"
            "（PostgreSQL 15 以降はその public スキーマ）の所有者である必要があります"
            "（createdb --owner shiori）。 / --force drops and re-creates schema public: the"
            " app's role must own the database (on PostgreSQL 15+ its public schema belongs to"
            " the database owner; createdb --owner shiori)."
        )
    if backend == "sqlite":
        with (
            closing(sqlite3.connect(source)) as backup_file,
            closing(sqlite3.connect(_sqlite_path(parsed))) as database,
        ):
            backup_file.backup(database)  # replaces every page of the target
        return kind
    _pg_restore(parsed, Path(source), replace=force)
    return kind


def backup_configured(target: Path) -> BackupInfo:
    """`backup` of the database the query layer is configured for."""
    return backup(_configured_url(), target)


def restore_configured(source: Path, force: bool = False) -> str:
    """`restore` into the database the query layer is configured for: its pooled
    connections are closed first (none may outlive the old contents), and it is configured
    again afterwards."""
    url = _configured_url()
    engine.dispose()
    try:
        return restore(url, source, force=force)
    finally:
        engine.configure(url)


def _configured_url() -> str:
    return engine.get_engine().url.render_as_string(hide_password=False)


def _sqlite_path(url: URL) -> str:
    return url.database or ""


def _pg_bin(name: str) -> str:
    configured = os.environ.get("SHIORI_PG_BIN", "")
    if configured:
        return str(Path(configured) / name)
    debian = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if debian:
        return str(debian[-1])
    found = shutil.which(name)
    if found is None:
        raise BackupRefused(
            f"{name} が見つかりません。PostgreSQL のクライアントを入れるか SHIORI_PG_BIN を"
            f"設定してください。 / {name} not found: install the PostgreSQL client or set"
            " SHIORI_PG_BIN."
        )
    return found


# Before a --force restore, in the same transaction: everything in the database goes.
REPLACE_SQL = b"DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n"


def _pg_restore(url: URL, source: Path, replace: bool) -> None:
    """pg_restore's SQL piped into psql as ONE transaction that stops at the first error
    and commits only once pg_restore has written all of it (a damaged file ends its script
    early: psql alone would commit what came). A restore that fails leaves the database as
    it was, even with --force, whose emptying is part of that transaction."""
    env = _libpq_env(url)
    restore_cmd = [_pg_bin("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(source)]
    apply_cmd = [
        _pg_bin("psql"),
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        f"--dbname={url.database}",
    ]
    # Their messages go to files: a full stderr pipe nobody reads would stall the copy.
    with (
        tempfile.TemporaryFile() as script_log,
        tempfile.TemporaryFile() as apply_log,
        subprocess.Popen(  # noqa: S603 - our own argument list, no shell
            restore_cmd, stdout=subprocess.PIPE, stderr=script_log, env=env
        ) as script,
        subprocess.Popen(  # noqa: S603 - our own argument list, no shell
            apply_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=apply_log, env=env
        ) as apply,
    ):
        assert script.stdout is not None and apply.stdin is not None  # both PIPE
        try:
            apply.stdin.write(b"BEGIN;\n" + (REPLACE_SQL if replace else b""))
            shutil.copyfileobj(script.stdout, apply.stdin, 1 << 20)
            if script.wait() == 0:
                apply.stdin.write(b"COMMIT;\n")
            apply.stdin.close()  # without COMMIT: psql ends, the transaction rolls back
        except BrokenPipeError:
            pass  # psql stopped at an error: its message follows
        for name, process, log in (("pg_restore", script, script_log), ("psql", apply, apply_log)):
            if process.wait() != 0:
                log.seek(0)
                text = log.read().decode(errors="replace").strip()
                raise BackupRefused(f"{name}: {(text.splitlines() or ['failed'])[-1]}")


def _libpq_env(url: URL) -> dict[str, str]:
    """The URL's connection in libpq's environment: the password never on a command line,
    where `ps` shows it."""
    env: dict[str, str] = dict(os.environ)
    settings: Mapping[str, object] = {
        "PGHOST": url.host,
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
    }
    env.update({name: str(value) for name, value in settings.items() if value})
    return env


def _run(command: list[str], url: URL) -> None:
    """Run a PostgreSQL client on the URL's database."""
    done = subprocess.run(  # noqa: S603 - our own argument list, no shell
        command, env=_libpq_env(url), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupRefused(f"{Path(command[0]).name}: {last}")
