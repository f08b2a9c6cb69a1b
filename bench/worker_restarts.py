"""Worker restarts under load: does uvicorn's master kill busy workers?

    .venv/bin/python bench/worker_restarts.py [--seconds 60] [--timeouts 5 30] [--db PATH]

For each health-check timeout, serves the demo catalogue with `shiori serve --workers 2
--timeout-worker-healthcheck T` (the search ranking cache off, the standard argon2 profile)
and runs the stall benchmark's load (8 connections of wrong logins, 40 of one-character
searches) for `--seconds`. A few seconds in, one worker is killed (SIGKILL, as the OOM
killer would): its replacement must start while the load runs. Counts, from the master's
log, the workers that died ("Child process [N] died") and the workers started, and how long
each replacement took to load the application ("never": the master killed it first).
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_bench import free_port  # noqa: E402
from bench.stall_bench import LOGINS, SEARCHES, build, load  # noqa: E402

KILL_AFTER_SECONDS = 5.0
STARTED = re.compile(r"Started server process \[(\d+)\]")
READY = "Application startup complete"
DIED = re.compile(r"Child process \[(\d+)\] died")


class Log:
    """The server's output, each line with the time it arrived."""

    def __init__(self, stream: object) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for raw in stream:  # type: ignore[attr-defined]
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip()))

    def workers(self) -> list[int]:
        return [int(m[1]) for _, line in self.lines if (m := STARTED.search(line))]

    def deaths(self) -> int:
        return sum(1 for _, line in self.lines if DIED.search(line))

    def replacements(self) -> list[str]:
        """Seconds from each death to the next "Started server process" (logged once the
        replacement has loaded the application), or "never" when it died first."""
        out: list[str] = []
        pending: float | None = None
        for at, line in self.lines:
            if DIED.search(line):
                if pending is not None:
                    out.append("never")
                pending = at
            elif STARTED.search(line) and pending is not None:
                out.append(f"{at - pending:.1f}")
                pending = None
        if pending is not None:
            out.append("never")
        return out


def run(db: Path, timeout: int, seconds: float) -> str:
    port = free_port()
    env = {
        **os.environ,
        "SHIORI_DATABASE_URL": f"sqlite:///{db}",
        "SHIORI_PORT": str(port),
        "SHIORI_ENV": "development",
        "SHIORI_SECRET_KEY": "worker-bench-" + "x" * 32,
        "SHIORI_PASSWORD_HASHING": "standard",
        "SHIORI_SEARCH_CACHE_SECONDS": "0",
    }
    command = [ROOT / ".venv/bin/shiori", "serve", "--workers", "2"]
    server = subprocess.Popen(
        [*command, "--timeout-worker-healthcheck", str(timeout)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    log = Log(server.stdout)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        results: multiprocessing.Queue[Counter[str]] = multiprocessing.Queue()
        loader = multiprocessing.Process(target=load, args=(base, seconds, results))
        loader.start()
        time.sleep(KILL_AFTER_SECONDS)
        victim = log.workers()[0]
        os.kill(victim, signal.SIGKILL)
        done = results.get(timeout=seconds + 120)
        loader.join()
        time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=60)
    deaths = log.deaths()
    extra = deaths - 1  # the one killed on purpose
    replaced = ", ".join(log.replacements())
    return "\n".join(
        [
            f"== health check {timeout} s: 2 workers, {seconds:.0f} s of load, one worker "
            f"killed at {KILL_AFTER_SECONDS:.0f} s ==",
            f"workers that died: {deaths} (killed on purpose: 1, by the master: {extra}; "
            f"{extra * 60 / seconds:.1f} a minute)",
            f"workers started: {len(log.workers())}; seconds from each death to its "
            f"replacement serving: {replaced}",
            "load completed: " + ", ".join(f"{k}: {v}" for k, v in sorted(done.items())),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "results" / "stall.db")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timeouts", type=int, nargs="+", default=[5, 30])
    args = parser.parse_args()
    build(args.db)
    print(f"load: {LOGINS} connections of wrong logins + {SEARCHES} of searches")
    for timeout in args.timeouts:
        print(run(args.db, timeout, args.seconds), flush=True)


if __name__ == "__main__":
    main()
