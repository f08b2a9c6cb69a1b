"""`shiori serve` stays up (issue 11): its timeouts are settings, and a master killed outright
leaves no worker holding the port."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.browser.conftest import _free_port
from tests.conftest import SERVER_START_SECONDS, Database
from web import cli, serve
from web.settings import SettingsError, load

ROOT = Path(__file__).resolve().parents[1]
CHILD_PREPARES = (
    "import pickle, sys; from multiprocessing import spawn; "
    "spawn.prepare(pickle.load(sys.stdin.buffer)); print(*sys.modules)"
)


def _port_is_free(port: int) -> bool:
    # As uvicorn binds: SO_REUSEADDR, so only a listening socket (not TIME_WAIT) is in the way.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # The parent's id is the second field after the parenthesised command name.
        if int(stat.rpartition(")")[2].split()[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _serve(url: str, port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", *args],
            cwd=ROOT,
            env={**os.environ, "SHIORI_DATABASE_URL": url, "SHIORI_PORT": str(port)},
            stdout=out,
            stderr=out,
        )


def _wait_until_it_answers(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(base + "/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_master_leaves_no_worker_holding_the_port(
    fresh_db: Database, tmp_path: Path
) -> None:
    port, log = _free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    master = _serve(fresh_db.url, port, log, "--workers", "2")
    workers: list[int] = []
    again: subprocess.Popen[bytes] | None = None
    try:
        _wait_until_it_answers(base, master, log)
        deadline = time.monotonic() + 20
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _children(master.pid)
            time.sleep(0.05)
        assert len(workers) == 2, log.read_text()

        master.send_signal(signal.SIGKILL)
        master.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_running(pid) for pid in workers):
            time.sleep(0.05)
        assert not [pid for pid in workers if _running(pid)], log.read_text()
        assert _port_is_free(port)

        again = _serve(fresh_db.url, port, log)
        _wait_until_it_answers(base, again, log)
        assert "Address already in use" not in log.read_text()
    finally:
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if master.poll() is None:
            master.kill()
            master.wait()
        if again is not None:
            again.terminate()
            again.wait(timeout=20)


def test_the_timeouts_are_settings_and_options(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **kwargs: given.update(kwargs))
    monkeypatch.setenv("SHIORI_DATABASE_URL", fresh_db.url)
    monkeypatch.setenv("SHIORI_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SHIORI_WORKER_HEALTHCHECK_SECONDS", "45")
    monkeypatch.setenv("SHIORI_KEEP_ALIVE_SECONDS", "9")
    assert cli.main(["serve", "--timeout-keep-alive", "7"]) == 0
    assert given["timeout_worker_healthcheck"] == 45  # the setting
    assert given["timeout_keep_alive"] == 7  # the option wins over the setting
    assert given["timeout_graceful_shutdown"] == 30  # the default


def test_the_defaults_give_a_busy_worker_time_to_answer() -> None:
    settings = load({})
    # uvicorn's own 5 s killed workers still starting on a busy machine (issue 11).
    assert settings.worker_healthcheck_seconds == 30
    limits = serve.timeouts(settings)
    assert limits == serve.Timeouts(worker_healthcheck=30, keep_alive=5, graceful_shutdown=30)


@pytest.mark.parametrize(
    "name",
    [
        "SHIORI_WORKER_HEALTHCHECK_SECONDS",
        "SHIORI_KEEP_ALIVE_SECONDS",
        "SHIORI_GRACEFUL_SHUTDOWN_SECONDS",
    ],
)
def test_a_bad_timeout_names_the_variable(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load({name: "0"})


def test_a_bad_timeout_option_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--timeout-worker-healthcheck", "soon"])
    assert stopped.value.code == 2
    assert "--timeout-worker-healthcheck" in capsys.readouterr().err


def test_a_new_worker_answers_before_it_loads_the_application(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spawned worker imports the master's main module before it can answer a health
    ping; that was `shiori` (web.cli, the whole application), which on a busy machine took
    longer than the timeout. The workers' main module must not load the application."""
    import multiprocessing.spawn

    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", main.__spec__)  # restored after the test
    monkeypatch.setenv(serve.MASTER_ENV, "")
    prepared: dict[str, Any] = {}
    monkeypatch.setattr(
        uvicorn,
        "run",
        lambda *_a, **_k: prepared.update(multiprocessing.spawn.get_preparation_data("w")),
    )
    serve.run(load({}), 2, serve.timeouts(load({})))
    name = prepared["init_main_from_name"]
    assert name == "web.serve"
    # What a spawned child does first (multiprocessing.spawn.prepare), then what it loaded.
    loaded = subprocess.run(
        [sys.executable, "-c", CHILD_PREPARES],
        input=pickle.dumps({**prepared, "authkey": bytes(prepared["authkey"])}),
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split()
    heavy = {b"db", b"sqlalchemy", b"starlette", b"jinja2", b"web.settings", b"web.cli"}
    assert not [m for m in loaded if m in heavy or m.split(b".")[0] in heavy]
