"""Killing the mail sender mid-batch loses nothing and sends nothing twice (db.queries.mail doc).

A real `shiori mail send` process delivers to a real SMTP server (aiosmtpd) and is killed
with SIGKILL at the two places that matter:

* `before_data`: the server stalls at RCPT of the third message; the kill comes before the
  message text ended, so the server never accepted it. The next run sends it.
* `after_reply`: the server accepts the third message (250) while the test holds a database
  lock, so the sender cannot record the delivery; it is killed in exactly the window SMTP
  cannot close. The row is "in doubt" and re-sent with the same Message-ID (at least once).
* `dropped`: the same window with a server that drops a message when the client goes away
  before its reply (the issue's: 4 of 5 lost). The re-sent copy is the only one.

The next run a minute and a half later (not after a five-minute claim) finishes the batch:
every message arrives, and only the in-doubt one of `after_reply` twice, with one Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from db import engine, outbox, queries, rules
from db.queries import mail
from tests.conftest import Database
from tests.smtp_sink import SENDER, Received, free_port, listed_for_staff, settings_for

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = 6
TRIGGER = 3  # the message at which the sender is killed


class StallingHandler:
    def __init__(self, stage: str, take_lock: Callable[[], None]) -> None:
        self.stage = stage
        self.take_lock = take_lock
        self.received: list[Received] = []
        self.rcpts = 0
        self.reached = threading.Event()
        self.released = threading.Event()  # set once the sender is dead
        self.stall_over = threading.Event()
        self.armed = True

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpts += 1
        envelope.rcpt_tos.append(address)
        if self.armed and self.stage == "before_data" and self.rcpts == TRIGGER:
            self.reached.set()
            try:  # the sender is killed meanwhile (aiosmtpd may cancel this on the hang-up)
                await asyncio.to_thread(self.released.wait, 30)
            finally:
                self.stall_over.set()
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        got = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        if self.armed and self.stage == "dropped" and len(self.received) == TRIGGER - 1:
            self.reached.set()
            try:  # the sender is killed while it waits for the reply: the message is dropped
                await asyncio.to_thread(self.released.wait, 30)
            finally:
                self.stall_over.set()
            return "451 client gone"
        self.received.append(got)
        if self.armed and self.stage == "after_reply" and len(self.received) == TRIGGER:
            self.take_lock()  # the sender will not be able to mark it sent
            self.reached.set()
        return "250 Message accepted for delivery"


class DatabaseLock:
    """Holds the write lock on mail_outbox from another connection, like a slow database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def take(self) -> None:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            self.conn = sqlite3.connect(
                parsed.database or "", isolation_level=None, check_same_thread=False
            )
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(dsn)
            self.conn.execute("LOCK TABLE mail_outbox IN EXCLUSIVE MODE")

    def release(self) -> None:
        if self.conn is not None:
            if isinstance(self.conn, sqlite3.Connection):
                self.conn.execute("ROLLBACK")
            else:
                self.conn.rollback()
            self.conn.close()
            self.conn = None


@pytest.fixture
def lock(fresh_db: Database) -> Iterator[DatabaseLock]:
    held = DatabaseLock(fresh_db.url)
    yield held
    held.release()


def sender(db: Database, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHIORI_DATABASE_URL": db.url,
        "SHIORI_SMTP_HOST": "127.0.0.1",
        "SHIORI_SMTP_PORT": str(port),
        "SHIORI_SMTP_FROM": SENDER,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", "mail", "send"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("stage", ["before_data", "after_reply", "dropped"])
def test_killed_sender_loses_nothing_and_resends_promptly(
    fresh_db: Database, lock: DatabaseLock, stage: str
) -> None:
    now = datetime.now(UTC)
    ids = []
    for n in range(MESSAGES):
        with engine.write() as conn:
            ids.append(
                outbox.enqueue(
                    conn,
                    kind="hold_ready",
                    to_addr=f"patron{n}@example.jp",
                    subject="【藤沢市図書館】ご予約の資料をご用意しました",
                    body=f"資料 {n}\n",
                    now=now,
                )
            )
    handler = StallingHandler(stage, lock.take)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        proc = sender(fresh_db, port)
        try:
            assert handler.reached.wait(timeout=60), "the sender never reached the trigger"
            time.sleep(1.0)  # let it get to the blocked step (RCPT reply / marking sent)
            assert proc.poll() is None, "the sender finished before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stderr is not None:
                proc.stderr.close()
        lock.release()
        handler.armed = False
        handler.released.set()
        if stage == "after_reply":
            time.sleep(0.5)
        else:
            assert handler.stall_over.wait(timeout=30)  # the stalled handler finishes

        # The next run a minute and a half later: the dead sender's lease has run out.
        assert rules.MAIL_CLAIM_SECONDS < 90
        later = datetime.now(UTC) + timedelta(seconds=90)
        report = mail.send_due(settings_for(port), later)
        assert mail.send_due(settings_for(port), later + timedelta(hours=7)) == mail.SendReport(
            0, 0, 0
        )
    finally:
        controller.stop()

    arrived = Counter(int(r.message["Message-ID"].split(".")[1]) for r in handler.received)
    in_doubt = ids[TRIGGER - 1]
    if stage == "after_reply":
        # Accepted before the kill and re-sent after it: twice, with one Message-ID.
        assert arrived == {**dict.fromkeys(ids, 1), in_doubt: 2}
        assert len({r.message["Message-ID"] for r in handler.received}) == MESSAGES
    else:
        assert arrived == dict.fromkeys(ids, 1), "each message exactly once"
    assert report.sent == MESSAGES - TRIGGER + 1
    assert listed_for_staff() == ()
    assert queries.get_mail_counts() == mail.MailCounts(pending=0, sent=MESSAGES, failed=0)
    with engine.read() as conn:
        bodies = conn.execute(
            outbox.mail_outbox.select().where(outbox.mail_outbox.c.body.is_not(None))
        ).all()
    assert bodies == []  # no body survives delivery (or giving up)
