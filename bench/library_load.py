"""Multi-library load test on PostgreSQL (issue 21, "Measured").

    .venv/bin/python bench/library_load.py [--libraries 10] [--seconds 30] [--reuse]

1. A private PostgreSQL 15 cluster (bench/results/library-load/pg, port 5462; or
   `--pg-url` for a server of your own) holds one database: N libraries shaped like
   Fujisawa FY2017 on a shared synthetic catalogue (bench/load_data.py). `--reuse` keeps
   the database of an earlier run with the same shape instead of building it again.
2. `shiori serve --workers 2` behind Debian's nginx (deploy/nginx.conf), https on
   127.0.0.1, each library reached by its own host name (library_host).
3. An open-loop Poisson load (bench/load_driver.py) at the N libraries' peak-hour rates
   (bench/load_model.py) times a multiple, for `--seconds` per step: 1, 2, 4, … until a
   step misses the target (p95 <= 100 ms for every type, under 1 % errors), then halfway
   steps between the last pass and the first miss (`--refine`).

Prints a table per step and the largest multiple that held; writes the same to
bench/results/library-load-<time>.txt. The load generator runs on the same cores as
the server: say so with any figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import load_data, load_model  # noqa: E402
from bench.load_driver import Driver, StepResult, passes, percentile  # noqa: E402
from bench.load_stack import Stack  # noqa: E402

RESULTS = ROOT / "bench" / "results"


args_verbose = os.environ.get("SHIORI_LOAD_VERBOSE") == "1"


def report_step(result: StepResult, target_ms: float, login_floor_ms: float) -> str:
    lines = [
        f"multiple {result.multiple:g} ({sum(result.offered.values()):.1f} req/s offered, "
        f"{result.seconds:g} s): generator lag p95 {percentile(result.lag_ms, 95):.1f} ms"
        + (f", {result.unfinished} unfinished" if result.unfinished else ""),
        f"  {'type':<8} {'offered/s':>9} {'count':>6} {'errors':>6} {'refused':>7} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'done/s':>7}",
    ]
    for kind in load_model.TYPES:
        o = result.outcomes.get(kind)
        lat = o.latency_ms if o else []
        errors = o.errors if o else 0
        lines.append(
            f"  {kind:<8} {result.offered[kind]:>9.2f} {len(lat) + errors:>6} {errors:>6} "
            f"{(o.refused if o else 0):>7} {percentile(lat, 50):>8.1f} {percentile(lat, 95):>8.1f} "
            f"{percentile(lat, 99):>8.1f} {len(lat) / result.seconds:>7.2f}"
        )
        if o and errors:
            lines.append(f"           errors: {dict(o.error_statuses)}")
        if args_verbose and o:
            lines.append(f"           answers: {dict(o.statuses)}")
    strict = passes(result, target_ms)
    floor = passes(result, target_ms, login_floor_ms)
    lines.append(
        f"  => every type p95 <= {target_ms:g} ms: {'yes' if strict else 'no'}; "
        f"with login judged over its idle time: {'yes' if floor else 'no'}"
    )
    return "\n".join(lines)


async def run_load(
    stack: Stack, manifest: load_data.Manifest, args: argparse.Namespace, say: Any
) -> None:
    driver = Driver(stack.base, stack.tls, manifest, args.libraries, seed=args.seed)
    try:
        idle = await driver.warm_up(args.warm)
        floor = percentile(idle, 50) if idle else 0.0
        say(
            f"warm-up: {len(idle)} visitors logged in one at a time; idle login p50 "
            f"{floor:.0f} ms (one argon2id verification, the standard profile)"
        )
        if args.warm_seconds:
            await driver.step(1, args.warm_seconds)  # every worker's caches and pools, untimed
            say(f"warm-up: {args.warm_seconds:g} s of the mixed load at multiple 1, not counted")
        multiples = [float(m) for m in args.multiples.split(",")]
        results: dict[float, StepResult] = {}
        best: dict[str, float] = {"strict": 0.0, "floor": 0.0}
        first_miss: dict[str, float | None] = {"strict": None, "floor": None}

        async def run(multiple: float) -> StepResult:
            result = await driver.step(multiple, args.seconds)
            results[multiple] = result
            say(report_step(result, args.target_ms, floor))
            for name, login_floor in (("strict", 0.0), ("floor", floor)):
                if passes(result, args.target_ms, login_floor):
                    best[name] = max(best[name], multiple)
                else:
                    miss = first_miss[name]
                    first_miss[name] = multiple if miss is None else min(miss, multiple)
            return result

        for multiple in multiples:
            await run(multiple)
            if first_miss["floor"] is not None and first_miss["strict"] is not None:
                break
        for _ in range(args.refine):
            miss = first_miss["floor"]
            if miss is None or miss - best["floor"] <= 0.25 * max(best["floor"], 1):
                break
            await run(round((best["floor"] + miss) / 2, 2))
        n = args.libraries
        say("")
        say(
            f"largest multiple of the {n} libraries' peak hour with p95 <= {args.target_ms:g} ms "
            f"for every type: {best['strict']:g}"
            + ("" if best["strict"] else " (none of the steps; see login)")
        )
        say(
            f"the same with login judged over its idle time ({floor:.0f} ms of argon2id + "
            f"{args.target_ms:g} ms): {best['floor']:g} "
            f"(= {best['floor'] * sum(load_model.peak_rates().values()) * n:.1f} requests/s)"
        )
    finally:
        await driver.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="multi-library load test on PostgreSQL")
    parser.add_argument("--libraries", type=int, default=10)
    parser.add_argument("--works", type=int, default=200_000, help="shared catalogue size")
    parser.add_argument("--scale", type=float, default=1.0, help="of Fujisawa's rows per library")
    parser.add_argument("--patrons", type=int, default=0, help="patrons per library (sets --scale)")
    parser.add_argument("--seconds", type=float, default=30, help="per step")
    parser.add_argument("--multiples", default="1,2,4,8,16,32,64")
    parser.add_argument("--refine", type=int, default=2, help="halfway steps after the first miss")
    parser.add_argument("--target-ms", type=float, default=100.0)
    parser.add_argument("--warm", type=int, default=3, help="logins per library before the steps")
    parser.add_argument("--warm-seconds", type=float, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    parser.add_argument(
        "--pg-url", default="", help="admin URL of a server to use (else a private cluster)"
    )
    parser.add_argument("--pg-dir", type=Path, default=RESULTS / "library-load" / "pg")
    parser.add_argument("--pg-port", type=int, default=5462)
    parser.add_argument("--db-name", default="shiori_load")
    parser.add_argument("--https-port", type=int, default=18462)
    parser.add_argument("--app-port", type=int, default=18464)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # so that nginx, the app and the cluster are stopped

    signal.signal(signal.SIGTERM, stop)
    if args.patrons:
        args.scale = args.patrons / load_model.PATRONS

    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = args.out or RESULTS / f"library-load-{stamp}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"library load test {stamp} UTC, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")  # fmt: skip
    say("the load generator, nginx, the two app workers and PostgreSQL share these cores")
    say("")
    say(load_model.table(args.libraries))
    say("")

    own_cluster = not args.pg_url
    admin = args.pg_url or load_data.start_cluster(args.pg_dir, args.pg_port)
    manifest_path = (
        args.pg_dir if own_cluster else RESULTS / "library-load"
    ) / f"{args.db_name}.json"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    stack = None
    try:
        manifest = load_data.Manifest.load(manifest_path) if args.reuse else None
        wanted = (args.libraries, args.works, args.scale, args.seed)
        if manifest is not None and manifest.key() != wanted:
            say(
                f"--reuse: the database was built for {manifest.key()}, not {wanted}: "
                "building again"
            )
            manifest = None
        if manifest is None:
            manifest_path.unlink(missing_ok=True)
            manifest = load_data.build(
                admin, args.db_name, args.libraries, args.works, args.scale, args.seed, say
            )
            manifest.save(manifest_path)
            say(f"built in {manifest.built_seconds:.0f} s")
        else:
            say(f"reusing the database built in {manifest.built_seconds:.0f} s ({manifest_path})")
        shape = load_model.shape(args.scale)
        say(
            f"{len(manifest.library)} libraries x {shape.patrons:,} patrons, "
            f"{shape.copies:,} copies, "
            f"{shape.open_loans:,} open loans, {shape.active_holds:,} holds; {manifest.works:,} "
            f"shared works; tenancy schema: {'yes' if manifest.tenancy else 'NO (one library)'}"
        )
        if len(manifest.library) < args.libraries:
            say(
                f"only {len(manifest.library)} of {args.libraries} libraries: this schema has no "
                "library table (migration 0030_tenancy), so the load of all of them goes to one"
            )
        url = load_data.database_url(admin, args.db_name)
        warm_started = time.monotonic()
        blocks = load_data.prewarm(url)
        say(f"prewarm: {blocks * 8 // 1024:,} MiB of tables and indexes read into the page cache "
            f"in {time.monotonic() - warm_started:.0f} s")  # fmt: skip
        if manifest.app_role:
            url = load_data.role_url(url, manifest.app_role)
        stack = Stack(
            url,
            [lib.host for lib in manifest.library],
            args.https_port,
            args.app_port,
        )
        say(f"serving: shiori serve --workers 2 behind nginx, https://127.0.0.1:{args.https_port}")
        asyncio.run(run_load(stack, manifest, args, say))
    finally:
        if stack is not None:
            stack.stop()
        if own_cluster:
            load_data.stop_cluster(args.pg_dir)
    say(f"whole run {time.monotonic() - started:.0f} s; written to {out}")
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
