"""Relevance of catalogue search on the real demo catalogue, from a labelled query set.

    .venv/bin/python bench/relevance.py [--db bench/results/relevance.db] [--show N]

Builds the demo catalogue (`shiori demo load`'s files: Aozora + NDL JAPAN/MARC + LoC) once
into `--db`, re-indexes it with the code in use (so a change of the token stream is always
measured, never a stale index), then runs every query of bench/relevance/queries.json
through `db.queries.search_works` (what the search page calls) and reports precision@10 and
recall@20, macro-averaged over the queries, overall and per category.

- precision@10: relevant works among the first 10 hits / min(10, number of hits); a query
  with no hit scores 0 (the patron saw nothing useful).
- recall@20: relevant works among the first 20 hits / min(20, number of relevant works), so
  that an author with 130 works can still score 1.
- "noise": works that must NOT be on page 1 (e.g. 愛の詩集 for イノシシ); the number of such
  works found on page 1 (first 20) is reported, and each one is listed.

Works are named by their stable source ids ("aozora:000127", "ndl:029455884"), not by
database ids, so the set survives a rebuild.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import engine, queries  # noqa: E402

SET = ROOT / "bench" / "relevance" / "queries.json"
DEMO_FILES = (
    "aozora_works.csv.gz",
    "marc/ndl_japanmarc_marc21_233.mrc",
    "marc/loc_multiscript_30.mrc",
)


def build(db: Path, data_dir: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    queries.configure(f"sqlite:///{db}")
    queries.migrate_database()
    queries.ensure_reference_data()
    if not queries.get_catalog_stats().works:
        started = time.monotonic()
        for name in DEMO_FILES:
            queries.import_catalog_file(data_dir / name)
        print(f"demo catalogue loaded in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    count = queries.rebuild_search_index()
    print(f"re-indexed {count:,} works in {time.monotonic() - started:.1f} s")


def source_ids() -> dict[int, str]:
    with engine.get_engine().connect() as conn:
        rows = conn.execute(text("SELECT id, source, source_id FROM work"))
        return {r.id: f"{r.source}:{r.source_id}" for r in rows}


def ranked(q: str, ids: dict[int, str]) -> list[str]:
    """The first 20 hits of the search page for `q`, as source ids."""
    found: list[str] = []
    for page in (1, 2):
        result = queries.search_works(queries.SearchParams(q=q, page=page))
        if result.page != page:
            break
        found += [ids[h.id] for h in result.hits]
        if len(found) >= 20:
            break
    return found[:20]


def evaluate(cases: list[dict[str, Any]], ids: dict[int, str], show: int) -> dict[str, Any]:
    per_cat: dict[str, list[tuple[float, float]]] = defaultdict(list)
    noise: list[str] = []
    misses: list[str] = []
    for case in cases:
        hits = ranked(case["query"], ids)
        relevant = set(case["relevant"])
        top10 = hits[:10]
        p10 = sum(h in relevant for h in top10) / min(10, len(hits)) if hits else 0.0
        r20 = sum(h in relevant for h in hits) / min(20, len(relevant))
        per_cat[case["category"]].append((p10, r20))
        per_cat["all"].append((p10, r20))
        for bad in case.get("not_on_page_1", []):
            if bad in hits:
                noise.append(f"{case['query']!r}: {bad} on page 1")
        if p10 < 1 or r20 < 1:
            scores = f"P@10={p10:.2f} R@20={r20:.2f}"
            misses.append(f"{case['category']:<10} {case['query']!r}: {scores} {hits[:show]}")
    return {"per_cat": per_cat, "noise": noise, "misses": misses}


def report(result: dict[str, Any]) -> str:
    lines = [f"{'category':<10} {'n':>4} {'P@10':>6} {'R@20':>6}"]
    per_cat = result["per_cat"]
    for cat in sorted(per_cat, key=lambda c: (c == "all", c)):
        values = per_cat[cat]
        p = sum(v[0] for v in values) / len(values)
        r = sum(v[1] for v in values) / len(values)
        lines.append(f"{cat:<10} {len(values):>4} {p:>6.3f} {r:>6.3f}")
    lines.append(f"noise on page 1: {len(result['noise'])}")
    lines += ["  " + n for n in result["noise"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "results" / "relevance.db")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--show", type=int, default=5, help="hits listed for imperfect queries")
    parser.add_argument("--quiet", action="store_true", help="do not list imperfect queries")
    args = parser.parse_args()
    build(args.db, args.data)
    queries.configure_search_cache(0)
    cases = json.loads(SET.read_text(encoding="utf-8"))["queries"]
    result = evaluate(cases, source_ids(), args.show)
    if not args.quiet:
        print("imperfect queries (first hits):")
        print("\n".join("  " + m for m in result["misses"]))
    print(f"\n{len(cases)} queries, {SET.relative_to(ROOT)}")
    print(report(result))


if __name__ == "__main__":
    main()
