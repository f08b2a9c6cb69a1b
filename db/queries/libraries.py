"""The libraries of a deployment and the host names they are served at (db.tenancy).

`shiori library add` and `list`, `--library CODE` on the other commands, the timers'
loop over every library, and the web tier's host map (web/library_host.py, cached per
process) come through here. SQLite is one library: adding one is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import rules, search_cache, seed
from db.engine import reads, writes
from db.localized import Localized
from db.models import TABLES
from db.tenancy import DEFAULT_LIBRARY, SETTING, current_library, use_library

__all__ = [
    "DEFAULT_LIBRARY",
    "LibraryInfo",
    "LibraryRefused",
    "add_host",
    "add_library",
    "check_runtime_role",
    "current_library",
    "get_library",
    "library_hosts",
    "list_libraries",
    "normalise_host",
    "remove_host",
    "use_library",
]

MAX_CODE = 40
MAX_NAME = 200


class LibraryRefused(Exception):
    """A library that cannot be added or found; the message says why in Japanese and
    English (for the console: these commands have no page)."""


@dataclass(frozen=True)
class LibraryInfo:
    id: int
    code: str
    name: str
    hosts: tuple[str, ...]


def normalise_host(host: str) -> str:
    """A Host header or a configured host as the map keys it: lower case, no port, no
    trailing dot ("[::1]:8000" → "[::1]")."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        host = host[: end + 1] if end >= 0 else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _libraries(conn: Connection) -> tuple[LibraryInfo, ...]:
    hosts: dict[int, list[str]] = {}
    for host, library in conn.execute(
        text("SELECT host, library_id FROM library_host ORDER BY host")
    ):
        hosts.setdefault(library, []).append(host)
    return tuple(
        LibraryInfo(row.id, row.code, row.name, tuple(hosts.get(row.id, ())))
        for row in conn.execute(text("SELECT id, code, name FROM library ORDER BY id"))
    )


def _bypasses_row_security(conn: Connection) -> bool:
    return bool(
        conn.execute(
            text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).scalar()
    )


@reads
def check_runtime_role(conn: Connection, now: datetime) -> None:
    """Fail closed at start-up: several libraries served as a role that bypasses row-level
    security (superuser or BYPASSRLS) would let every query see every library's rows.
    One library (or SQLite) runs as any role, the owner included."""
    if conn.dialect.name != "postgresql":
        return
    libraries = conn.execute(text("SELECT count(*) FROM library")).scalar_one()
    if libraries > 1 and _bypasses_row_security(conn):
        raise LibraryRefused(
            "複数の図書館を運用していますが、このロールは行単位セキュリティを迂回します"
            "（スーパーユーザーか BYPASSRLS）。どの図書館の画面にも他の図書館の行が見えてしまうため"
            "起動しません。SHIORI_DATABASE_URL をアプリ用のロール（README「Many libraries on one"
            " PostgreSQL」）にしてください。 / This deployment serves several libraries and its"
            " role bypasses row-level security (superuser or BYPASSRLS), so each library would"
            " see the others' rows: not starting. Set SHIORI_DATABASE_URL to the runtime role"
            ' (README, "Many libraries on one PostgreSQL").'
        )


@reads
def list_libraries(conn: Connection, now: datetime) -> tuple[LibraryInfo, ...]:
    """Every library, by id, with its hosts."""
    return _libraries(conn)


@reads
def get_library(conn: Connection, now: datetime, code: str) -> LibraryInfo:
    """The library with this code; LibraryRefused when there is none."""
    for library in _libraries(conn):
        if library.code == code.strip():
            return library
    raise LibraryRefused(
        f"図書館コード {code!r} はありません（shiori library list）。 / "
        f"No library has the code {code!r} (see shiori library list)."
    )


@reads
def library_hosts(conn: Connection, now: datetime) -> dict[str, int]:
    """host → library id of every configured host (empty: one library serves every host)."""
    return {
        host: library
        for host, library in conn.execute(text("SELECT host, library_id FROM library_host"))
    }


def add_library(
    code: str,
    name: str,
    hosts: tuple[str, ...],
    branches: tuple[rules.BranchSpec, ...] | None = None,
) -> LibraryInfo:
    """A new library with its hosts and code tables: `branches` (SHIORI_BRANCHES' format on
    the command line) or one branch "main" named after the library, not Fujisawa's; the
    default material types, categories and card rule, as db.seed gives a new database, and
    the identity named `name`."""
    code, name = code.strip(), name.strip()
    wanted = tuple(dict.fromkeys(normalise_host(h) for h in hosts if normalise_host(h)))
    if not code or len(code) > MAX_CODE or not code.isascii() or not code.isprintable():
        raise LibraryRefused(
            f"図書館コードは {MAX_CODE} 文字までの半角英数字です。 / "
            f"A library code is up to {MAX_CODE} ASCII characters."
        )
    if not name or len(name) > MAX_NAME:
        raise LibraryRefused(
            f"図書館名を {MAX_NAME} 文字までで入力してください。 / "
            f"Give the library a name of up to {MAX_NAME} characters."
        )
    if not wanted:
        raise LibraryRefused(
            "図書館のホスト名を --host で一つ以上指定してください。 / "
            "Give the library at least one host name (--host)."
        )
    names = Localized.of({"ja": name, "en": name})
    library = _add(code, name, wanted, branches or (rules.BranchSpec("main", names),))
    search_cache.clear()
    return library


_SQLITE_ONE = (
    "SQLite は一つの図書館専用です。複数の図書館は PostgreSQL で運用してください。 / "
    "SQLite serves one library: run several libraries on PostgreSQL."
)


def _library_id(conn: Connection, code: str) -> int:
    found = conn.execute(text("SELECT id FROM library WHERE code = :c"), {"c": code.strip()})
    library = found.scalar()
    if library is None:
        raise LibraryRefused(
            f"図書館コード {code!r} はありません（shiori library list）。 / "
            f"No library has the code {code!r} (see shiori library list)."
        )
    return int(library)


def _one_host(host: str) -> str:
    wanted = normalise_host(host)
    if not wanted:
        raise LibraryRefused("ホスト名を指定してください。 / Give a host name.")
    return wanted


@writes
def add_host(conn: Connection, now: datetime, code: str, host: str) -> str:
    """Serve the library `code` at `host` too (`shiori library host add`); the host as
    stored. A host another library is served at is refused."""
    if conn.dialect.name != "postgresql":
        raise LibraryRefused(_SQLITE_ONE)
    wanted = _one_host(host)
    library = _library_id(conn, code)
    holder = conn.execute(
        text(
            "SELECT l.code FROM library_host h JOIN library l ON l.id = h.library_id"
            " WHERE h.host = :h"
        ),
        {"h": wanted},
    ).first()
    if holder is not None and holder.code != code.strip():
        raise LibraryRefused(
            f"ホスト名 {wanted} は別の図書館（{holder.code}）が使っています。"
            "先に shiori library host remove で外してください。 / "
            f"Another library ({holder.code}) is served at {wanted}: remove it there first"
            " (shiori library host remove)."
        )
    if holder is None:
        conn.execute(
            text("INSERT INTO library_host (host, library_id) VALUES (:h, :l)"),
            {"h": wanted, "l": library},
        )
    return wanted


@writes
def remove_host(conn: Connection, now: datetime, code: str, host: str) -> str:
    """Stop serving the library `code` at `host` (`shiori library host remove`)."""
    if conn.dialect.name != "postgresql":
        raise LibraryRefused(_SQLITE_ONE)
    wanted = _one_host(host)
    library = _library_id(conn, code)
    gone = conn.execute(
        text("DELETE FROM library_host WHERE host = :h AND library_id = :l"),
        {"h": wanted, "l": library},
    ).rowcount
    if not gone:
        raise LibraryRefused(
            f"図書館 {code!r} はホスト名 {wanted} で公開されていません。 / "
            f"The library {code!r} is not served at {wanted}."
        )
    return wanted


@writes
def _add(
    conn: Connection,
    now: datetime,
    code: str,
    name: str,
    hosts: tuple[str, ...],
    branches: tuple[rules.BranchSpec, ...],
) -> LibraryInfo:
    if conn.dialect.name != "postgresql":
        raise LibraryRefused(
            "SQLite は一つの図書館専用です。複数の図書館は PostgreSQL で運用してください。 / "
            "SQLite serves one library: run several libraries on PostgreSQL."
        )
    if _bypasses_row_security(conn):
        # Its seeding would see every library's code tables as its own and add none.
        raise LibraryRefused(
            "このロールは行単位セキュリティを迂回します（スーパーユーザーか BYPASSRLS）。"
            "アプリのロールの SHIORI_DATABASE_URL で実行してください。 / This role bypasses"
            " row-level security (superuser or BYPASSRLS): run the command with"
            " SHIORI_DATABASE_URL naming the application's role."
        )
    if conn.execute(text("SELECT 1 FROM library WHERE code = :c"), {"c": code}).first():
        raise LibraryRefused(
            f"図書館コード {code!r} は使用中です。 / The library code {code!r} is taken."
        )
    taken = (
        conn.execute(
            text("SELECT host FROM library_host WHERE host = ANY(:hosts) ORDER BY host"),
            {"hosts": list(hosts)},
        )
        .scalars()
        .all()
    )
    if taken:
        raise LibraryRefused(
            f"ホスト名 {', '.join(taken)} は別の図書館が使っています。 / "
            f"Another library is served at {', '.join(taken)}."
        )
    library = conn.execute(
        text("INSERT INTO library (code, name) VALUES (:c, :n) RETURNING id"),
        {"c": code, "n": name},
    ).scalar_one()
    for host in hosts:
        conn.execute(
            text("INSERT INTO library_host (host, library_id) VALUES (:h, :l)"),
            {"h": host, "l": library},
        )
    # The rest of this transaction is the new library's (row-level security checks it).
    conn.execute(text("SELECT set_config(:s, :l, true)"), {"s": SETTING, "l": str(library)})
    seed.ensure_reference_data(conn, branches)
    names = {"ja": name, "en": name}
    conn.execute(TABLES["library_identity"].update().values(names=names, short_names=names))
    conn.execute(
        text("SELECT set_config(:s, :l, true)"),
        {"s": SETTING, "l": str(current_library.get())},
    )
    return LibraryInfo(library, code, name, hosts)
