"""The search page's cost over its own query, query by query: each query of a bench class is
run warm in process (db.queries.search_works) and then as a page over HTTP from a one-worker
server (ranking cache off), both repeated, so the difference is the page's own work and not
a colder cache on one side. The floor under it: a bare Starlette app (bench/floor_app.py)
answering the bytes of a search page of median size from memory, over the same kind of
connection, from uvicorn run the same way; /health (a database check, no page) is shown too.

    .venv/bin/python bench/page_overhead.py --db /tmp/copy-of-bench.db [--per-class 40]

Use a copy of the bench database (bench/search_bench.py builds it): the server opens it for
writing.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_bench import CLASSES, Server, draw_queries, fetch, percentile  # noqa: E402
from db import queries  # noqa: E402

REPEATS = 6  # the first of each is a warm-up and is dropped


def warm_median(run: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def floor(db: Path, body: bytes) -> float:
    """The median time of the bare Starlette app answering `body`."""
    with tempfile.NamedTemporaryFile(suffix=".html") as page:
        page.write(body)
        page.flush()
        server = Server(
            db,
            workers=1,
            cache_seconds=0,
            extra_env={"SHIORI_FLOOR_BODY": page.name},
            app=("bench.floor_app:app",),
        )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            times = [warm_median(lambda: fetch(conn, "/")) for _ in range(50)]
            conn.close()
        finally:
            server.stop()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args()
    queries.configure(f"sqlite:///{args.db}")
    query_sets = {c: qs[: args.per_class] for c, qs in draw_queries(100).items()}
    bare = {
        q: warm_median(lambda q=q: queries.search_works(queries.SearchParams(q=q)))
        for qs in query_sets.values()
        for q in qs
    }
    queries.dispose()

    server = Server(args.db, workers=1, cache_seconds=0)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        page = {
            q: warm_median(lambda q=q: fetch(conn, f"/search?q={quote(q)}"))
            for qs in query_sets.values()
            for q in qs
        }
        health = statistics.median(warm_median(lambda: fetch(conn, "/health")) for _ in range(50))
        pages = sorted(
            (fetch(conn, f"/search?q={quote(q)}") for qs in query_sets.values() for q in qs),
            key=len,
        )
        conn.close()
    finally:
        server.stop()
    median_page = pages[len(pages) // 2]
    bare_floor = floor(args.db, median_page)

    print(
        f"floor: a bare Starlette app sending a {len(median_page) / 1000:.1f} KB search page "
        f"from memory: {bare_floor:.2f} ms; /health (a database check): {health:.2f} ms"
    )
    header = ("query length", "bare p50", "page p50", "page - bare p50", "ratio p50")
    print(f"{header[0]:<12} {header[1]:>9} {header[2]:>9} {header[3]:>16} {header[4]:>10}")
    for cls in CLASSES:
        qs = query_sets[cls]
        extra = [page[q] - bare[q] for q in qs]
        ratio = [100 * (page[q] / bare[q] - 1) for q in qs]
        print(
            f"{cls:<12} {percentile([bare[q] for q in qs], 50):>9.2f} "
            f"{percentile([page[q] for q in qs], 50):>9.2f} {percentile(extra, 50):>16.2f} "
            f"{percentile(ratio, 50):>+9.0f}%"
        )


if __name__ == "__main__":
    main()
