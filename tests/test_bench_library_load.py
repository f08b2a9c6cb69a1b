"""bench/library_load.py runs end to end at a tiny size (issue 21, "Measured").

Two libraries of 200 patrons on a catalogue of 1,000 works, built in a fresh database of
the suite's PostgreSQL server (`--pg-url`), served by `shiori serve --workers 2` behind
Debian's nginx over https, one short step of the mixed open-loop load. It takes 30-120 s
on a shared 2-core machine (starting two app workers and nginx, adding a library, four
argon2id logins), over the suite's budget for one test: so it runs only when asked,
SHIORI_TEST_LOAD_BENCH=1, in the PostgreSQL pass (the bench is PostgreSQL's):

    SHIORI_TEST_LOAD_BENCH=1 SHIORI_TEST_BACKENDS=postgresql bash scripts/test.sh \
        tests/test_bench_library_load.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND, _drop_pg_database, _pg_admin, _pg_admin_url

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SHIORI_TEST_LOAD_BENCH") != "1",
        reason="the load bench's end-to-end run is opt-in: SHIORI_TEST_LOAD_BENCH=1",
    ),
    pytest.mark.skipif(BACKEND != "postgresql", reason="the load bench runs on PostgreSQL"),
    pytest.mark.skipif(
        shutil.which("nginx") is None and not os.access("/usr/sbin/nginx", os.X_OK),
        reason="needs Debian's nginx (scripts/system-deps.sh installs it)",
    ),
]


def _free_port_pair() -> tuple[int, int]:
    from bench.load_stack import port_free

    for port in range(18600, 18900, 3):
        if port_free(port) and port_free(port + 1) and port_free(port + 2):
            return port, port + 2
    raise AssertionError("no free ports in 18600-18900")


def test_library_load_bench_runs_end_to_end(tmp_path: Path) -> None:
    name = f"load_bench_{os.getpid()}"
    https_port, app_port = _free_port_pair()
    out = tmp_path / "result.txt"
    try:
        run = subprocess.run(
            [sys.executable, "bench/library_load.py", "--pg-url", _pg_admin_url(),
             "--db-name", name, "--libraries", "2", "--patrons", "200", "--works", "1000",
             "--seconds", "3", "--multiples", "8", "--refine", "0", "--warm", "2",
             "--warm-seconds", "1", "--https-port", str(https_port), "--app-port",
             str(app_port), "--out", str(out)],
            cwd=ROOT,
            env={**os.environ, "SHIORI_LOAD_VERBOSE": "1"},
            capture_output=True,
            text=True,
            timeout=240,
        )  # fmt: skip
    finally:
        _drop_pg_database(name)
        _pg_admin(f"DROP ROLE IF EXISTS {name}_app")  # the site's role (bench/load_data.py)
    assert run.returncode == 0, run.stdout + run.stderr
    text = out.read_text()
    # Real sessions: the warm-up logged in visitors of both libraries through nginx.
    assert re.search(r"warm-up: [1-9]\d* visitors logged in", text), text
    # One step's table: every request type, and the answers the site gave each.
    for kind in ("search", "record", "login", "my", "reserve", "renew"):
        assert re.search(rf"^  {kind} +\d", text, re.M), text
    assert "answers: {'200':" in text, text
    assert "largest multiple of the 2 libraries' peak hour" in text
    # No error statuses: a refused reservation or renewal (422) is an answer, not an error.
    assert "errors: {" not in text, text
