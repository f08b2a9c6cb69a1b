"""The database of bench/library_load.py: N Fujisawa-shaped libraries on one PostgreSQL.

The schema comes from the normal path (db/migrate.py through `queries.migrate_database`),
the shared catalogue from bench/synth.py (`queries.add_works`, search index included);
then, per library, copies, patrons, open loans, active holds and staff go in by COPY, with
ids chosen here so that the manifest can name each web patron's loans. Every synthetic
patron has one password, hashed once (argon2id, the standard profile); the load driver
knows it. The manifest (JSON next to the cluster) says what was built, so that `--reuse`
can check it matches and skip the build.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import psycopg

from bench import load_model
from bench.synth import _FAMILY, _GIVEN, synthesize

PASSWORD = "shiori-load-bench-2026"
WEB_PATRONS = 2000  # per library: the patrons the driver logs in as
BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Library:
    id: int
    code: str
    host: str
    branches: list[str]
    # [card, [loan ids]] of the patrons the driver logs in as (each has loans out).
    web_patrons: list[list[Any]] = field(default_factory=list)


@dataclass
class Manifest:
    libraries: int
    works: int
    scale: float
    seed: int
    tenancy: bool
    password: str
    built_seconds: float
    library: list[Library]
    queries: list[str]
    max_work_id: int
    app_role: str = ""  # the site's role (tenancy: row-level security applies to it)

    def key(self) -> tuple[int, int, float, int]:
        return (self.libraries, self.works, self.scale, self.seed)

    @staticmethod
    def load(path: Path) -> Manifest | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["library"] = [Library(**lib) for lib in raw["library"]]
        return Manifest(**raw)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False))


# --- the cluster ------------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_cluster(directory: Path, port: int) -> str:
    """A private PostgreSQL 15 cluster in `directory` (made once, kept), started on
    127.0.0.1:`port`; returns its admin URL."""
    directory = directory.resolve()
    data = directory / "data"
    if not data.exists():
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["chown", "postgres:", str(directory)], check=True)
        subprocess.run(
            _as_postgres(
                [str(BIN / "initdb"), "-D", str(data), "-U", "shiori", "-A", "trust", "-E", "UTF8",
                 "--locale=C.UTF-8"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    running = subprocess.run(
        _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "status"]), capture_output=True
    )
    if running.returncode != 0:
        # Production-like durability (fsync on); memory for a 2-core, few-GB machine.
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB "
            "-c max_connections=200 -c max_wal_size=4GB"
        )
        subprocess.run(
            _as_postgres(
                [str(BIN / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "-o",
                 options, "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return f"postgresql+psycopg://shiori@127.0.0.1:{port}/postgres"


def stop_cluster(directory: Path) -> None:
    subprocess.run(
        _as_postgres(
            [str(BIN / "pg_ctl"), "-D", str(directory.resolve() / "data"), "-m", "fast", "stop"]
        ),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def prewarm(url: str) -> int:
    """Read every table and index of the database into the OS page cache (pg_prewarm's
    'read' mode) and return the blocks read: a server in service has its data in memory,
    while a cluster just started would otherwise measure its disk reads, not the site."""
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        row = conn.execute(
            "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'm', 't')"
        ).fetchone()
    return int(row[0]) if row else 0


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def recreate_database(admin_url: str, name: str) -> str:
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return database_url(admin_url, name)


# --- the build ---------------------------------------------------------------------------


def _copy(conn: psycopg.Connection[Any], table: str, cols: list[str], lines: list[str]) -> None:
    """COPY tab-separated `lines` (no tabs or backslashes in the values; \\N is NULL)."""
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        buf = io.StringIO()
        for n, line in enumerate(lines, 1):
            buf.write(line)
            buf.write("\n")
            if n % 50_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def _has_table(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone() == (True,)


def app_role(conn: psycopg.Connection[Any], database: str) -> str:
    """The role the site connects as, with the rights the application needs (README,
    "Many libraries on one PostgreSQL"): neither superuser nor BYPASSRLS, so row-level
    security applies to every request as in production. Returns its name."""
    role = f"{database}_app"
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app' NOSUPERUSER NOBYPASSRLS")
    conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    conn.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    conn.commit()
    return role


def role_url(url: str, role: str) -> str:
    """`url` (postgresql+psycopg://user@host:port/db) with `role` as its user."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}:app@{rest.split('@', 1)[1]}"


def _add_library(app_url: str, lib: Library) -> None:
    """`shiori library add` as the site's role (it seeds the library's code tables)."""
    added = subprocess.run(
        [sys.executable, "-m", "web.cli", "library", "add", lib.code, "--name",
         f"負荷試験図書館 {lib.id:02d}", "--host", lib.host],
        cwd=ROOT,
        env={**os.environ, "SHIORI_DATABASE_URL": app_url},
        capture_output=True,
    )  # fmt: skip
    if added.returncode != 0:
        raise RuntimeError(f"shiori library add {lib.code}: {added.stderr.decode()}")


def _setup_libraries(
    conn: psycopg.Connection[Any], app_url: str, n: int, tenancy: bool
) -> list[Library]:
    """Library rows and hosts (`shiori library add`, which also seeds each library's code
    tables: branches, material types, categories, rules); library 1 is the migration's
    "default". Without the tenancy schema there is only library 1."""
    libs = [
        Library(k, "default" if k == 1 else f"lib{k:02d}", f"lib{k:02d}.load.test", [])
        for k in range(1, (n if tenancy else 1) + 1)
    ]
    if tenancy:
        conn.execute(
            "INSERT INTO library_host (host, library_id) VALUES (%s, 1) ON CONFLICT DO NOTHING",
            (libs[0].host,),
        )
        conn.commit()
        known = dict(conn.execute("SELECT code, id FROM library").fetchall())
        for lib in libs[1:]:
            if lib.code not in known:
                _add_library(app_url, lib)
        known = dict(conn.execute("SELECT code, id FROM library").fetchall())
        for lib in libs:
            lib.id = int(known[lib.code])
    for lib in libs:
        where = "WHERE library_id = %s" if tenancy else "WHERE %s = %s"
        args = (lib.id,) if tenancy else (1, 1)
        rows = conn.execute(f"SELECT code FROM branch {where} ORDER BY sort_order, id", args)
        lib.branches = [str(code) for (code,) in rows.fetchall()]
    return libs


def _branch_ids(conn: psycopg.Connection[Any], lib: Library, tenancy: bool) -> list[int]:
    query = "SELECT code, id FROM branch WHERE code = ANY(%s)"
    if tenancy:
        query += f" AND library_id = {int(lib.id)}"
    rows = dict(conn.execute(query, (lib.branches,)).fetchall())
    return [int(rows[c]) for c in lib.branches]


def _library_rows(
    conn: psycopg.Connection[Any],
    lib: Library,
    shape: load_model.LibraryShape,
    works: int,
    ids: dict[str, int],
    password_hash: str,
    rng: random.Random,
    tenancy: bool,
    cum_weights: list[float],
) -> None:
    """Copies, patrons, loans, holds and staff of one library, by COPY."""
    now = datetime.now().replace(microsecond=0)
    today = now.date()
    branch_ids = _branch_ids(conn, lib, tenancy)
    extra_cols = ["library_id"] if tenancy else []
    extra = f"\t{lib.id}" if tenancy else ""
    work_ids = range(1, works + 1)

    # Copies: works drawn by popularity (a Zipf-like weight shared by all libraries).
    copy_works = rng.choices(work_ids, cum_weights=cum_weights, k=shape.copies)
    on_loan = set(rng.sample(range(shape.copies), min(shape.open_loans, shape.copies)))
    first_item = ids["item"] + 1
    lines = []
    for n, work in enumerate(copy_works):
        branch = branch_ids[0] if rng.random() < 0.4 else rng.choice(branch_ids)
        kind = "book" if rng.random() < 0.85 else ("bunko" if rng.random() < 0.6 else "children")
        acquired = today - timedelta(days=rng.randrange(1, 20 * 365))
        status = "on_loan" if n in on_loan else "available"
        lines.append(
            f"{first_item + n}\t{lib.id:02d}{n:08d}\t{work}\t{branch}\t{kind}\t\t\t"
            f"{status}\t{acquired}{extra}"
        )
    _copy(
        conn,
        "item",
        ["id", "barcode", "work_id", "branch_id", "material_type", "call_number", "shelf_location",
         "status", "acquired_on", *extra_cols],
        lines,
    )  # fmt: skip
    ids["item"] += shape.copies

    # Patrons: one password for all (hashed once).
    first_patron = ids["patron"] + 1
    lines = []
    for n in range(shape.patrons):
        family, given = rng.choice(_FAMILY), rng.choice(_GIVEN)
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(75 * 365))
        registered = today - timedelta(days=rng.randrange(1, 15 * 365))
        email = f"p{lib.id:02d}{n:06d}@example.jp" if rng.random() < 0.6 else "\\N"
        category = (
            "general"
            if rng.random() < 0.8
            else rng.choice(("university", "high_school", "elementary"))
        )
        lines.append(
            f"{first_patron + n}\t22{lib.id:02d}{n:06d}\t{family[0]} {given[0]}\t"
            f"{family[1]} {given[1]}\t{born}\t神奈川県藤沢市朝日町{n % 50 + 1}-{n % 7 + 1}\t"
            f"0466-{n % 90 + 10}-{n % 9000 + 1000}\t0466{n % 90 + 10}{n % 9000 + 1000}\t"
            f"{email}\t{category}\t{rng.choice(branch_ids)}\tja\t"
            f"{registered}\t{today + timedelta(days=rng.randrange(30, 3 * 365))}\t{password_hash}\t"
            f"{now}\tactivation_code{extra}"
        )
    _copy(
        conn,
        "patron",
        ["id", "card_number", "name", "name_kana", "birth_date", "address", "phone", "phone_digits",
         "email", "category", "home_branch_id", "lang", "registered_on", "expires_on",
         "password_hash", "password_set_at", "password_set_via", *extra_cols],
        lines,
    )  # fmt: skip
    ids["patron"] += shape.patrons

    # Open loans, to the borrowers (a third of the patrons); 5 % of them overdue.
    borrowers = rng.sample(range(shape.patrons), min(shape.borrowers, shape.patrons))
    first_loan = ids["loan"] + 1
    loans_of: dict[int, list[int]] = {}
    lines = []
    for n, item in enumerate(sorted(on_loan)):
        patron = rng.choice(borrowers)
        days_out = rng.randrange(15, 40) if rng.random() < 0.05 else rng.randrange(0, 14)
        out = now - timedelta(days=days_out, minutes=rng.randrange(600))
        loans_of.setdefault(patron, []).append(first_loan + n)
        lines.append(
            f"{first_loan + n}\t{first_patron + patron}\t{first_item + item}\t{out}\t"
            f"{out.date() + timedelta(days=load_model.LOAN_DAYS)}\t0{extra}"
        )
    _copy(
        conn,
        "loan",
        ["id", "patron_id", "item_id", "checked_out_at", "due_on", "renewals", *extra_cols],
        lines,
    )
    ids["loan"] += len(on_loan)

    # Active holds, on the most wanted works (the first tenth by popularity), waiting.
    popular = max(1, works // 10)
    web = [p for p in borrowers[: WEB_PATRONS * 2] if p in loans_of][:WEB_PATRONS]
    web_set = set(web)
    seen: set[tuple[int, int]] = set()
    first_hold = ids["hold"] + 1
    lines = []
    while len(lines) < shape.active_holds and len(seen) < shape.patrons * popular:
        patron = rng.randrange(shape.patrons)
        work = rng.choices(work_ids[:popular], cum_weights=cum_weights[:popular])[0]
        if (patron, work) in seen or patron in web_set:  # web patrons start with none
            continue
        seen.add((patron, work))
        placed = now - timedelta(days=rng.randrange(60), minutes=rng.randrange(1440))
        lines.append(
            f"{first_hold + len(lines)}\t{first_patron + patron}\t{work}\t"
            f"{rng.choice(branch_ids)}\t{placed}\twaiting\t0{extra}"
        )
    _copy(
        conn,
        "hold",
        ["id", "patron_id", "work_id", "pickup_branch_id", "placed_at", "state", "step_back_passes",
         *extra_cols],
        lines,
    )  # fmt: skip
    ids["hold"] += len(lines)

    # Staff accounts (no password: the load logs in no staff).
    first_staff = ids["staff_account"] + 1
    lines = [
        f"{first_staff + n}\tL{lib.id:02d}S{n:04d}\t職員 {n}\t図書館\t{rng.choice(branch_ids)}\t"
        f"{'manager' if n == 0 else 'staff'}\t\t{today - timedelta(days=n)}\tf\t0{extra}"
        for n in range(shape.staff)
    ]
    _copy(
        conn,
        "staff_account",
        ["id", "staff_code", "name", "affiliation", "branch_id", "role", "duties", "registered_on",
         "totp_confirmed", "totp_last_step", *extra_cols],
        lines,
    )  # fmt: skip
    ids["staff_account"] += shape.staff
    conn.commit()
    lib.web_patrons = [[f"22{lib.id:02d}{p:06d}", loans_of[p]] for p in web]


def build(
    admin_url: str, name: str, libraries: int, works: int, scale: float, seed: int, log: Any
) -> Manifest:
    """Make the database `name` afresh and fill it; returns its manifest."""
    from bench.search_bench import draw_queries
    from db import passwords, queries

    started = time.monotonic()
    url = recreate_database(admin_url, name)
    queries.configure(url)
    queries.migrate_database()
    queries.ensure_reference_data()
    log(f"migrated in {time.monotonic() - started:.1f} s; synthesising {works:,} works …")
    synthesize(works, seed)
    log(f"catalogue in {time.monotonic() - started:.1f} s")
    query_sets = draw_queries(100, seed)
    search_queries = [q for qs in query_sets.values() for q in qs]
    password_hash = passwords.hash_password(PASSWORD)
    rng = random.Random(f"library-load:{seed}")
    shape = load_model.shape(scale)
    with psycopg.connect(_plain(url)) as conn:
        tenancy = _has_table(conn, "library_host")
        role = app_role(conn, name) if tenancy else ""
        app_url = role_url(url, role) if role else url
        # The copies synth made for the demo branches are replaced by each library's own.
        conn.execute("DELETE FROM item")
        max_work = int(conn.execute("SELECT max(id) FROM work").fetchone()[0])  # type: ignore[index]
        libs = _setup_libraries(conn, app_url, libraries, tenancy)
        ids = {
            t: int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ("item", "patron", "loan", "hold", "staff_account")
        }
        cum = list(accumulate(1.0 / (rank**0.8) for rank in range(1, max_work + 1)))
        # Bulk load: rows are consistent by construction, so no per-row foreign-key
        # triggers, and the plain indexes are built once at the end instead of row by row
        # (those that back constraints stay).
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '512MB'")
        plain = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' "
            "AND tablename = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (list(ids),),
        ).fetchall()
        for index, _ in plain:
            conn.execute(f'DROP INDEX "{index}"')
        for lib in libs:
            t0 = time.monotonic()
            _library_rows(conn, lib, shape, max_work, ids, password_hash, rng, tenancy, cum)
            log(f"library {lib.code}: {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        for _, ddl in plain:
            conn.execute(ddl)
        conn.execute("SET session_replication_role = DEFAULT")
        log(f"indexes built again in {time.monotonic() - t0:.1f} s")
        for table in ids:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    manifest = Manifest(
        libraries=libraries,
        works=works,
        scale=scale,
        seed=seed,
        tenancy=tenancy,
        password=PASSWORD,
        built_seconds=round(time.monotonic() - started, 1),
        library=libs,
        queries=search_queries,
        max_work_id=max_work,
        app_role=role,
    )
    return manifest
