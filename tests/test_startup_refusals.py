"""Configurations that must not start say so in one line (issue 11): an unknown SHIORI_ENV,
an in-memory database, an unreachable PostgreSQL, a read-only SQLite database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.browser.conftest import _free_port
from tests.conftest import BACKEND, SERVER_START_SECONDS
from web import cli
from web.settings import SettingsError, load

ROOT = Path(__file__).resolve().parents[1]


def _shiori(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:shiori?mode=memory&uri=true",
        "sqlite://",
    ],
)
def test_an_in_memory_database_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="SHIORI_DATABASE_URL") as refused:
        load({"SHIORI_DATABASE_URL": url})
    assert " / " in str(refused.value)


def test_a_database_file_is_accepted() -> None:
    assert load({"SHIORI_DATABASE_URL": "sqlite:///var/memory.db"}).database_url.endswith(
        "memory.db"
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SHIORI_ENV": "prod"}, "SHIORI_ENV"),
        ({"SHIORI_DATABASE_URL": "sqlite:///"}, "SHIORI_DATABASE_URL"),
    ],
)
def test_serve_refuses_a_bad_configuration_in_one_line(env: dict[str, str], words: str) -> None:
    line = _one_clear_line(_shiori("serve", env=env))
    assert words in line and "Configuration error" in line


def _closed_port() -> int:
    return _free_port()  # nothing listens there once the probe's socket is closed


UNREACHABLE_PASSWORD = "s3cret-pw"  # must never be printed


def _unreachable(port: int) -> str:
    return f"postgresql+psycopg://shiori:{UNREACHABLE_PASSWORD}@127.0.0.1:{port}/shiori"


def test_serve_says_in_one_line_that_postgresql_is_unreachable() -> None:
    port = _closed_port()
    line = _one_clear_line(_shiori("serve", env={"SHIORI_DATABASE_URL": _unreachable(port)}))
    assert f"127.0.0.1:{port}" in line and "refused" in line
    assert UNREACHABLE_PASSWORD not in line


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate"],
        ["mail", "send"],
        ["holds", "daily"],
        ["retention", "run"],
        ["circ", "return", "0000000815"],
        ["staff", "create-manager", "--staff-id", "M1", "--name", "管理", "--branch", "sogo"],
    ],
)
def test_every_command_says_in_one_line_that_postgresql_is_unreachable(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    monkeypatch.setenv("SHIORI_DATABASE_URL", _unreachable(port))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"127.0.0.1:{port}" in err[0] and UNREACHABLE_PASSWORD not in err[0]


# Root ignores file permissions through these two capabilities; without them it is bound
# by them like any user (and still reaches the interpreter under /root).
AS_A_USER = [
    "setpriv",
    *(f"--{s}=-dac_override,-dac_read_search" for s in ("bounding-set", "inh-caps")),
]


def _as_database_user(argv: list[str]) -> list[str]:
    """`argv` run so that file permissions bind it."""
    return [*AS_A_USER, *argv] if os.geteuid() == 0 else argv


@pytest.fixture
def user_folder() -> Iterator[Path]:
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("needs setpriv (util-linux) to give up root's permission override")
    folder = Path(tempfile.mkdtemp(prefix="shiori-ro-"))
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder)


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_a_read_only_database_is_one_line_and_starts_once_fixed(
    read_only: str, user_folder: Path
) -> None:
    db = user_folder / "shiori.db"
    env = {"SHIORI_DATABASE_URL": f"sqlite:///{db}"}
    command = _as_database_user([sys.executable, "-m", "web.cli", "migrate"])
    made = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True)
    assert made.returncode == 0, made.stderr

    target = db if read_only == "file" else user_folder
    writable = target.stat().st_mode
    target.chmod(0o444 if read_only == "file" else 0o555)
    refused = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )
    line = _one_clear_line(refused)
    assert str(target) in line and "read-only" in line
    # Nothing was opened: no -wal or -shm made with the file's read-only permissions.
    assert sorted(p.name for p in user_folder.iterdir()) == ["shiori.db"]

    target.chmod(writable)
    port = _closed_port()
    server = subprocess.Popen(
        _as_database_user([sys.executable, "-m", "web.cli", "serve"]),
        cwd=ROOT,
        env={**os.environ, **env, "SHIORI_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        answer = None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.05)
        assert answer is not None and answer.status_code == 200
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert b"Traceback" not in err


def test_read_only_wal_and_shm_left_by_an_earlier_start_do_not_keep_it_failing(
    user_folder: Path,
) -> None:
    """Before this check existed, a start while the file was read-only left `-wal` and `-shm`
    with its read-only permissions; fixing the file's permissions alone must be enough."""
    db = user_folder / "shiori.db"
    env = {**os.environ, "SHIORI_DATABASE_URL": f"sqlite:///{db}"}
    command = _as_database_user([sys.executable, "-m", "web.cli", "migrate"])
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode == 0
    for leftover in ("shiori.db-wal", "shiori.db-shm"):
        (user_folder / leftover).touch()
        (user_folder / leftover).chmod(0o444)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(BACKEND != "postgresql", reason="needs the test suite's PostgreSQL server")
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"database": "shiori_no_such_database"}, "There is no database shiori_no_such_database"),
        ({"username": "shiori_no_such_role"}, "refused the login of user shiori_no_such_role"),
    ],
)
def test_a_postgresql_server_that_says_no_is_one_clear_line(
    change: dict[str, str],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_url(os.environ["SHIORI_TEST_PG_URL"])
    url = server.set(password=UNREACHABLE_PASSWORD, **change)  # type: ignore[arg-type]
    monkeypatch.setenv("SHIORI_DATABASE_URL", url.render_as_string(hide_password=False))
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]
    assert f"{server.host}:{server.port}" in err[0] and UNREACHABLE_PASSWORD not in err[0]
