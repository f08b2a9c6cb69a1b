"""Throttling counts attempts in the database, so parallel worker processes share it."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from db import engine, throttle

if TYPE_CHECKING:  # the spawned workers import this module: keep them light
    from tests.conftest import Database

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def _attempts(url: str, tries: int, start: Any, results: Any) -> None:
    """One worker process: try `tries` logins for the same card; report those let through."""
    engine.configure(url)
    start.wait(timeout=30)
    allowed = 0
    for _ in range(tries):
        try:
            with engine.write() as conn:
                throttle.reserve(
                    conn, [(throttle.LOGIN_CARD, "2100000001"), (throttle.LOGIN_ALL, "")], NOW
                )
            allowed += 1
        except throttle.Throttled:
            pass
    engine.dispose()
    results.put(allowed)


def test_parallel_processes_let_through_no_more_than_the_limit(fresh_db: Database) -> None:
    engine.dispose()  # children open their own connections
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_attempts, args=(fresh_db.url, 5, start, results)) for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    start.set()
    allowed = sum(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert allowed == throttle.LOGIN_CARD.attempts  # 30 tries, exactly 5 let through


def test_waits_double_and_end(fresh_db: Database) -> None:
    checks = [(throttle.LOGIN_CARD, "2100000001")]
    waits = []
    moment = NOW
    for _ in range(10):
        try:
            with engine.write() as conn:
                throttle.reserve(conn, checks, moment)
        except throttle.Throttled as wait:
            waits.append(wait.retry_after)
            moment += wait.retry_after + timedelta(seconds=1)
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]


def test_success_clears_the_card_but_not_the_shared_counters(fresh_db: Database) -> None:
    checks = [(throttle.LOGIN_CARD, "2100000001"), (throttle.LOGIN_ADDRESS, "192.0.2.1")]
    with engine.write() as conn:
        for _ in range(3):
            throttle.reserve(conn, checks, NOW)
        throttle.succeeded(conn, checks)
    with engine.read() as conn:
        rows = conn.exec_driver_sql("SELECT failures FROM throttle ORDER BY failures").all()
    assert [r[0] for r in rows] == [2]  # the card row is gone; the address keeps 3 - 1


def test_keys_never_hold_the_card_number_or_address(fresh_db: Database) -> None:
    with engine.write() as conn:
        throttle.reserve(
            conn, [(throttle.LOGIN_CARD, "2100000001"), (throttle.LOGIN_ADDRESS, "192.0.2.1")], NOW
        )
    with engine.read() as conn:
        keys = [r[0] for r in conn.exec_driver_sql("SELECT key FROM throttle")]
    assert keys and all("2100000001" not in k and "192.0.2.1" not in k for k in keys)
