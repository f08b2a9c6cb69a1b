"""The timers on two hosts at once (db/jobs.py): `holds daily` and `retention run` started
together on two machines queue each notice once and neither run fails; two mail workers
then send every message once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text

from db import engine, queries
from db.clock import library_today
from db.queries import mail
from tests import mailbox
from tests.conftest import Database
from tests.smtp_sink import Server
from tests.test_web_holds import HANAKO, MISAKI, patron_id


def at_once(jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the jobs in threads released together; their results and errors."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            start.wait(timeout=10)
            results.append(job())
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def slow_commits(seconds: float) -> Callable[[], None]:
    """Each commit waits a moment first, so the other host's run starts while this one still
    holds its transaction (as on two machines whose timers fire at the same second)."""

    def wait(_conn: Any) -> None:
        time.sleep(seconds)

    target = engine.get_engine()
    event.listen(target, "commit", wait)
    return lambda: event.remove(target, "commit", wait)


def test_two_hosts_running_the_daily_timers_at_once_queue_each_notice_once(
    library_db: Database, smtp_server: Server
) -> None:
    for card in (HANAKO[0], MISAKI[0]):
        queries.set_notice_prefs(patron_id(card), hold_ready=True, due_reminder_days=7)
    with engine.read() as conn:
        overdue_patrons = conn.execute(
            text(
                "SELECT count(DISTINCT l.patron_id) FROM loan l JOIN patron p "
                "ON p.id = l.patron_id WHERE p.email IS NOT NULL AND l.due_on < :today"
            ),
            {"today": library_today(queries.current_time())},
        ).scalar_one()
    assert overdue_patrons >= 1

    def timers() -> tuple[queries.HoldsDailyReport, queries.RetentionReport]:
        return queries.run_daily_holds(), queries.run_retention(30, 30)

    undo = slow_commits(0.3)
    try:
        reports, errors = at_once([timers, timers])
    finally:
        undo()
    assert errors == []
    assert sum(daily.overdue for daily, _ in reports) == overdue_patrons
    with engine.read() as conn:
        queued = conn.execute(
            text(
                "SELECT kind, to_addr FROM mail_outbox "
                "WHERE kind IN ('due_reminder', 'overdue_reminder')"
            )
        ).all()
    assert queued and max(Counter(queued).values()) == 1  # one of each kind per patron

    now = datetime.now(UTC)
    sent, errors = at_once(
        [lambda: mail.send_due(smtp_server.settings, now, limit=1, compose=mailbox.COMPOSE)] * 2
        + [lambda: mail.send_due(smtp_server.settings, now, compose=mailbox.COMPOSE)] * 2
    )
    assert errors == []
    received = [r.message["Message-ID"] for r in smtp_server.recorder.received]
    assert len(received) == len(set(received)) == sum(r.sent for r in sent) >= len(queued)
