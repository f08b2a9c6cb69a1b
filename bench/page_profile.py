"""Where the search page's time goes, in process: the ranked query, the facets, もしかして
and the rest (form, rendering, middleware), per query class of bench/search_bench.py.

    .venv/bin/python bench/page_profile.py --db /tmp/copy-of-bench.db [--per-class 100]

Each query is requested `--rounds` times through Starlette's TestClient with the ranking
cache off; the per-piece time is the median over rounds, then p50/p95 over the queries.
Use a copy of the bench database: the page only reads, but the app opens it for writing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_bench import CLASSES, draw_queries, percentile  # noqa: E402
from db import queries  # noqa: E402

PIECES = ("search_works", "get_search_facets", "suggest_queries")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(
        {
            "SHIORI_DATABASE_URL": f"sqlite:///{args.db}",
            "SHIORI_ENV": "development",
            "SHIORI_SEARCH_CACHE_SECONDS": "0",
            "SHIORI_SEARCH_BURST": "1000000",
            "SHIORI_SEARCH_PER_MINUTE": "1000000",
        }
    )
    from starlette.testclient import TestClient

    from web.app import create_app

    spent: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    for name in PIECES:
        setattr(queries, name, timed(name, getattr(queries, name)))
    queries.configure(f"sqlite:///{args.db}")
    query_sets = draw_queries(args.per_class)
    with TestClient(create_app()) as client:
        for cls in CLASSES:
            rows: dict[str, list[float]] = {p: [] for p in (*PIECES, "rest", "page")}
            for q in query_sets[cls]:
                per_round: dict[str, list[float]] = {p: [] for p in rows}
                client.get(f"/search?q={quote(q)}")  # warm
                for _ in range(args.rounds):
                    spent.clear()
                    t0 = time.perf_counter()
                    response = client.get(f"/search?q={quote(q)}")
                    total = time.perf_counter() - t0
                    assert response.status_code == 200, (q, response.status_code)
                    for p in PIECES:
                        per_round[p].append(spent.get(p, 0.0))
                    per_round["rest"].append(total - sum(spent.values()))
                    per_round["page"].append(total)
                for p, values in per_round.items():
                    rows[p].append(statistics.median(values) * 1000)
            print(f"\n{cls} ({len(query_sets[cls])} queries, ms)")
            print(f"  {'piece':<18} {'mean':>7} {'p50':>7} {'p95':>7}")
            for p, values in rows.items():
                print(
                    f"  {p:<18} {statistics.fmean(values):>7.2f} "
                    f"{percentile(values, 50):>7.2f} {percentile(values, 95):>7.2f}"
                )


if __name__ == "__main__":
    main()
