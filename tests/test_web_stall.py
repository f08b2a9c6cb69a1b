"""One slow request must not stall everyone (issue 10): argon2 and the query layer run off
the event loop, and argon2 work is bounded, so a login storm queues instead of taking every
thread and every core."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher, profiles

from db import queries
from tests.browser.conftest import start_server, stop_server
from tests.conftest import TEST_PASSWORD_HASHING, Database, app_settings
from web import offload
from web.app import create_app

UNKNOWN_CARD = "2199999999"  # verified against the equaliser hash: the full argon2 cost


def _one_verification_seconds() -> float:
    hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
    made = hasher.hash("shiori")
    started = time.perf_counter()
    assert hasher.verify(made, "shiori")
    return time.perf_counter() - started


def _storm(base: str, until: threading.Event, answers: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        while not until.is_set():
            try:
                response = client.post(
                    "/login",
                    data={"card": UNKNOWN_CARD, "password": "wrong", "csrf_token": token[1]},
                    headers={"Origin": base},
                )
            except httpx.HTTPError:  # the server stopped under it
                return
            answers.append(response.status_code)


def test_a_static_file_is_served_while_a_login_storm_runs(library_db: Database) -> None:
    verification = _one_verification_seconds()
    proc, base = start_server(library_db.url, SHIORI_PASSWORD_HASHING="standard")
    until, answers = threading.Event(), list[int]()
    storm = [
        threading.Thread(target=_storm, args=(base, until, answers), daemon=True) for _ in range(6)
    ]
    try:
        for thread in storm:
            thread.start()
        deadline = time.monotonic() + 30
        while not answers and time.monotonic() < deadline:
            time.sleep(0.02)
        assert answers, "the storm never got an answer"
        timings = []
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(6):
                started = time.perf_counter()
                assert client.get("/static/site.css").status_code == 200
                timings.append(time.perf_counter() - started)
                time.sleep(0.05)
    finally:
        until.set()
        for thread in storm:
            thread.join(timeout=30)
        stop_server(proc)
    assert set(answers) == {422}
    # Before the fix a static file waited for every verification queued ahead of it.
    assert statistics.median(timings) < verification / 2, (timings, verification)


@pytest.fixture
def counted_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every argon2 verification, wrapped to record how many run at once."""
    running, most = [0], [0]
    lock = threading.Lock()
    real = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)  # long enough for the others to pile up
            return real(self, hash, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    yield most


def test_a_login_storm_runs_at_most_the_set_number_of_argon2_computations(
    library_db: Database, counted_argon2: list[int]
) -> None:
    queries.configure_password_hashing(TEST_PASSWORD_HASHING, concurrency=2)
    failed = list[bool]()

    def wrong_login(n: int) -> None:
        try:
            queries.log_in(
                UNKNOWN_CARD, "wrong", f"192.0.2.{n}", "test", False, queries.Timeouts.of(30, 12)
            )
        except queries.LoginFailed:
            failed.append(True)

    try:
        threads = [threading.Thread(target=wrong_login, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        queries.configure_password_hashing(TEST_PASSWORD_HASHING)
    assert len(failed) == 8
    assert counted_argon2 == [2]


def test_every_route_given_a_lane_exists(library_db: Database) -> None:
    app = create_app(app_settings(library_db.url))
    for name in offload.LANES:
        assert app.url_path_for(name)
