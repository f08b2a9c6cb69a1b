"""Search benchmark: 1,000,000 synthetic works on SQLite, bare query vs. page over HTTP,
by query length, then throughput of a mixed load at 32 connections against 2 workers.

    .venv/bin/python bench/search_bench.py [--works 1000000] [--db bench/results/bench.db]

The catalog is built once and reused (delete the file to rebuild). Queries are drawn with a
fixed seed from the catalog's own titles and authors, so runs are comparable.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synth import synthesize  # noqa: E402
from db import queries  # noqa: E402

CLASSES = ("1 char", "2 chars", "3+ chars", "multi-word")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def build_catalog(db: Path, works: int) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    queries.configure(f"sqlite:///{db}")
    queries.migrate_database()
    queries.ensure_reference_data()
    have = queries.get_catalog_stats().works
    if have < works:
        started = time.monotonic()
        synthesize(works - have, seed_value=7)
        print(f"built {works - have:,} synthetic works in {time.monotonic() - started:.0f} s")
    print(
        f"catalog: {queries.get_catalog_stats().works:,} works, "
        f"{queries.get_catalog_stats().items:,} copies"
    )


def draw_queries(per_class: int, seed: int = 42) -> dict[str, list[str]]:
    """Substrings of real titles and authors of the catalog, by length class."""
    rng = random.Random(seed)
    stats = queries.get_catalog_stats()
    samples = []
    while len(samples) < per_class * 6:
        try:
            record = queries.get_record(rng.randint(1, stats.works))
        except queries.NotFound:
            continue
        samples.append(record)

    def piece(text: str, length: int) -> str:
        chars = [c for c in text if not c.isspace()]
        if len(chars) <= length:
            return "".join(chars)
        start = rng.randrange(len(chars) - length + 1)
        return "".join(chars[start : start + length])

    out: dict[str, list[str]] = {c: [] for c in CLASSES}
    for record in samples:
        title = record.title
        if len(out["1 char"]) < per_class:
            out["1 char"].append(piece(title, 1))
        elif len(out["2 chars"]) < per_class:
            out["2 chars"].append(piece(title, 2))
        elif len(out["3+ chars"]) < per_class:
            out["3+ chars"].append(piece(title, rng.randint(3, 6)))
        elif len(out["multi-word"]) < per_class and record.authors:
            family = record.authors[0].split()[0]
            out["multi-word"].append(f"{piece(title, rng.randint(2, 4))} {family}")
    return out


def bare(query_sets: dict[str, list[str]]) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for cls, qs in query_sets.items():
        for q in qs[:20]:  # warm the page cache
            queries.search_works(queries.SearchParams(q=q))
        times = []
        for q in qs:
            t0 = time.perf_counter()
            queries.search_works(queries.SearchParams(q=q))
            times.append((time.perf_counter() - t0) * 1000)
        timings[cls] = times
    return timings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self,
        db: Path,
        workers: int,
        cache_seconds: int,
        extra_env: dict[str, str] | None = None,
        app: tuple[str, ...] = ("web.app:asgi", "--factory"),
    ) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            **(extra_env or {}),
            "SHIORI_DATABASE_URL": f"sqlite:///{db}",
            "SHIORI_PORT": str(self.port),
            "SHIORI_ENV": "development",
            "SHIORI_SEARCH_CACHE_SECONDS": str(cache_seconds),
            # Every benchmark request comes from 127.0.0.1: the burst limit (web/burst.py)
            # still runs for each search, but never refuses one.
            "SHIORI_SEARCH_BURST": "1000000",
            "SHIORI_SEARCH_PER_MINUTE": "1000000",
        }
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/python"),
                "-m",
                "uvicorn",
                *app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def fetch(conn: http.client.HTTPConnection, path: str) -> bytes:
    """GET `path` on a kept-alive connection and read the whole answer (it must be a 200)."""
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    return body


def over_http(base: str, query_sets: dict[str, list[str]]) -> dict[str, list[float]]:
    """One keep-alive connection with the standard library's client: it adds far less of
    its own time to each request than a full-featured client would."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    timings: dict[str, list[float]] = {}

    def get(q: str) -> None:
        fetch(conn, f"/search?q={quote(q)}")

    for cls, qs in query_sets.items():
        for q in qs[:20]:
            get(q)
        times = []
        for q in qs:
            t0 = time.perf_counter()
            get(q)
            times.append((time.perf_counter() - t0) * 1000)
        timings[cls] = times
    conn.close()
    return timings


def throughput(base: str, query_sets: dict[str, list[str]], seconds: int, connections: int) -> str:
    """wrk with 32 connections over the mixed query list (a Lua script picks the paths)."""
    paths = [f"/search?q={quote(q)}" for qs in query_sets.values() for q in qs]
    random.Random(1).shuffle(paths)
    script = ROOT / "bench" / "results" / "paths.lua"
    script.parent.mkdir(parents=True, exist_ok=True)  # --db elsewhere: nothing made it yet
    script.write_text(
        "local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\nend\n",
        encoding="utf-8",
    )
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: apt-get install wrk (bench/run.sh does it)")
    out = subprocess.run(
        [
            wrk,
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def table(title: str, timings: dict[str, list[float]]) -> str:
    lines = [title, f"{'query length':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for cls, times in timings.items():
        lines.append(
            f"{cls:<12} {len(times):>5} {percentile(times, 50):>8.1f} "
            f"{percentile(times, 95):>8.1f} {percentile(times, 99):>8.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "results" / "bench.db")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="time the index build first: shiori catalog reindex on the whole catalog",
    )
    args = parser.parse_args()

    build_catalog(args.db, args.works)
    if args.reindex:
        started = time.monotonic()
        done = queries.rebuild_search_index()
        seconds = time.monotonic() - started
        print(f"index build (shiori catalog reindex): {done:,} works in {seconds:.0f} s")
    query_sets = draw_queries(args.per_class)
    print("sample queries:", {c: q[:5] for c, q in query_sets.items()})
    bare_t = bare(query_sets)
    queries.dispose()
    print(table("\n== bare query (db.queries.search_works, in process) ==", bare_t))

    # Latency with the ranking cache off, so page and bare query do the same work.
    server = Server(args.db, workers=1, cache_seconds=0)
    try:
        http_t = over_http(server.base, query_sets)
    finally:
        server.stop()
    print(table("\n== search page over HTTP (1 worker, one client, cache off) ==", http_t))
    print("\npage overhead over bare query at p50:")
    for cls in CLASSES:
        b, h = percentile(bare_t[cls], 50), percentile(http_t[cls], 50)
        print(f"  {cls:<12} {100 * (h - b) / b:+.0f}%  ({b:.1f} ms -> {h:.1f} ms)")

    distinct = sum(len(set(q)) for q in query_sets.values())
    for cache_seconds in (0, 30):
        server = Server(args.db, workers=2, cache_seconds=cache_seconds)
        try:
            print(
                f"\n== mixed load: {args.connections} connections, 2 workers, {args.seconds} s, "
                f"{distinct} distinct queries in rotation, ranking cache "
                f"{'off' if cache_seconds == 0 else f'{cache_seconds} s'} =="
            )
            print(throughput(server.base, query_sets, args.seconds, args.connections))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
