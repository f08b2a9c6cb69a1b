"""Stall benchmark: does one kind of slow request hold up everyone else?

    .venv/bin/python bench/stall_bench.py [--seconds 20] [--db bench/results/stall.db]

Serves the demo catalogue (built once with `shiori demo load`, reused) with uvicorn, 2
workers, the search ranking cache off and the standard argon2 profile, then for `--seconds`:

- a login storm: 8 connections posting wrong passwords for a real demo card, back to back;
- 40 connections searching one character at a time (uncached, rotating characters);
- one probe connection timing a record page and a static file, alternately, every 50 ms.

The probe also runs for a few seconds before the load, for the idle figures. The issue's
target: record pages and static files at p95 <= 50 ms under load. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_bench import Server, percentile  # noqa: E402

CARD = "2100000001"  # a demo patron with a password (README)
LOGINS = 8
SEARCHES = 40
TARGET_P95_MS = 50.0
# Characters common in the demo titles, so that every search does real work.
CHARS = "のにをはがとでもるいしたかな一人日本年大文学物語記集夜春秋花月山川子生風雪"


def build(db: Path) -> None:
    if db.exists():
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(ROOT / ".venv/bin/shiori"), "demo", "load"],
        cwd=ROOT,
        env={**os.environ, "SHIORI_DATABASE_URL": f"sqlite:///{db}"},
        check=True,
    )


async def _login_storm(base: str, stop_at: float, done: Counter[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if token is None:
            raise RuntimeError("no CSRF token on /login")
        while time.monotonic() < stop_at:
            try:
                response = await client.post(
                    "/login",
                    data={"card": CARD, "password": "wrong-password-0", "csrf_token": token[1]},
                    headers={"Origin": base},
                )
            except httpx.HTTPError as error:
                done[f"login {type(error).__name__}"] += 1
                continue
            done[f"login {response.status_code}"] += 1


async def _searcher(
    client: httpx.AsyncClient, stop_at: float, seed: int, done: Counter[str]
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        try:
            response = await client.get("/search", params={"q": rng.choice(CHARS)})
        except httpx.HTTPError as error:
            done[f"search {type(error).__name__}"] += 1
            continue
        done[f"search {response.status_code}"] += 1


async def _load(base: str, seconds: float) -> Counter[str]:
    stop_at = time.monotonic() + seconds
    done: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=SEARCHES)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as searches:
        await asyncio.gather(
            *(_login_storm(base, stop_at, done) for _ in range(LOGINS)),
            *(_searcher(searches, stop_at, i, done) for i in range(SEARCHES)),
        )
    return done


def load(base: str, seconds: float, out: multiprocessing.Queue[Counter[str]]) -> None:
    """The load runs in its own process, so it does not slow the probe's clock."""
    out.put(asyncio.run(_load(base, seconds)))


def probe(base: str, seconds: float, records: int) -> dict[str, list[float]]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    rng = random.Random(3)
    timings: dict[str, list[float]] = {"record page": [], "static file": []}
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        for kind, path in (
            ("record page", f"/records/{rng.randint(1, records)}"),
            ("static file", "/static/site.css"),
        ):
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            timings[kind].append((time.perf_counter() - t0) * 1000)
            if response.status not in (200, 404):
                raise RuntimeError(f"{path}: {response.status}")
            time.sleep(0.05)
    conn.close()
    return timings


def table(title: str, timings: dict[str, list[float]]) -> str:
    lines = [title, f"{'request':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for kind, times in timings.items():
        lines.append(
            f"{kind:<12} {len(times):>5} {percentile(times, 50):>8.1f} "
            f"{percentile(times, 95):>8.1f} {percentile(times, 99):>8.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "results" / "stall.db")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--idle-seconds", type=float, default=4)
    args = parser.parse_args()

    build(args.db)
    env = {"SHIORI_SECRET_KEY": "stall-bench-" + "x" * 32, "SHIORI_PASSWORD_HASHING": "standard"}
    server = Server(args.db, workers=2, cache_seconds=0, extra_env=env)
    try:
        records = 10_000
        print(table("== idle ==", probe(server.base, args.idle_seconds, records)))
        results: multiprocessing.Queue[Counter[str]] = multiprocessing.Queue()
        loader = multiprocessing.Process(target=load, args=(server.base, args.seconds, results))
        loader.start()
        time.sleep(1)  # let the storm start
        under_load = probe(server.base, args.seconds - 1, records)
        done = results.get(timeout=args.seconds + 120)
        loader.join()
        print(
            f"\n== under load: {LOGINS} connections of wrong logins + {SEARCHES} connections "
            f"of one-character searches, 2 workers, {args.seconds:.0f} s =="
        )
        print(table("", under_load).lstrip("\n"))
        print("load completed:", ", ".join(f"{k}: {v}" for k, v in sorted(done.items())))
        worst = max(percentile(t, 95) for t in under_load.values())
        verdict = "met" if worst <= TARGET_P95_MS else "NOT met"
        print(f"target p95 <= {TARGET_P95_MS:.0f} ms for record pages and static files: {verdict}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
