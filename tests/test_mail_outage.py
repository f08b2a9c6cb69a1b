"""A long SMTP outage, simulated with an injected clock (no real waiting): every notice
queued before or during it is delivered exactly once when the server is back, by the worker
and by `mail send` runs alike, with no operator action (issue 11).

Before: every run counted an attempt against every due message (attempts at 0, 1, 3 …
127 minutes), so a two-hour outage gave them all up and nothing was sent afterwards.

A relay that hangs up inside one message's transaction (an outage that starts just then,
or a message it will not take) costs that message a backoff step and stops no one else.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from db import engine, outbox, rules
from db.queries import mail
from tests.conftest import Database
from tests.smtp_sink import Recorder, free_port, listed_for_staff, settings_for
from web import cli

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
INTERVAL = 60.0  # the worker's tick, in simulated seconds


class Sink:
    """The real aiosmtpd sink on a fixed port, stopped and started again like a relay."""

    def __init__(self) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    try:
        yield server
    finally:
        server.stop()


class SimulatedTime(threading.Event):
    """The worker's stop event: each wait moves the injected clock on instead of sleeping,
    and `at_each_tick` stages the outage; set once the clock passes `until`."""

    def __init__(self, until: datetime, at_each_tick: Callable[[datetime], None]) -> None:
        super().__init__()
        self.now = START
        self.until = until
        self.at_each_tick = at_each_tick
        self.runs = 0

    def clock(self) -> datetime:
        self.runs += 1
        return self.now

    def wait(self, timeout: float | None = None) -> bool:
        self.now += timedelta(seconds=timeout or 0)
        if self.now >= self.until:
            self.set()
        else:
            self.at_each_tick(self.now)
        return self.is_set()


class HangsUp(Recorder):
    """A relay that hangs up (no reply) at the RCPT of `address`, or answers `reply` (421
    closes): a message it will not take, or an outage that begins inside its transaction.
    `times` cuts at most; None: every time."""

    def __init__(self, address: str, reply: str | None = None, times: int | None = None) -> None:
        super().__init__()
        self.address = address
        self.reply = reply
        self.times = times
        self.cuts = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address == self.address and (self.times is None or self.cuts < self.times):
            self.cuts += 1
            if self.reply:
                return self.reply
            server.transport.abort()
            return "250 never heard"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def row(mail_id: int) -> Any:
    with engine.read() as conn:
        return conn.execute(
            select(outbox.mail_outbox).where(outbox.mail_outbox.c.id == mail_id)
        ).one()


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def notice(n: int, now: datetime, to_addr: str = "") -> int:
    with engine.write() as conn:
        return outbox.enqueue(
            conn,
            kind="hold_ready",
            to_addr=to_addr or f"patron{n}@example.jp",
            subject="【藤沢市図書館】ご予約の資料をご用意しました",
            body=f"資料 {n}\n",
            now=now,
        )


def delivered(sink: Sink) -> Counter[int]:
    return Counter(int(r.message["Message-ID"].split(".")[1]) for r in sink.recorder.received)


@pytest.mark.parametrize(
    ("outage_hours", "mid_message"), [(2, False), (30, False), (2, True), (30, True)]
)
def test_the_worker_delivers_everything_once_after_an_outage(
    fresh_db: Database, sink: Sink, outage_hours: int, mid_message: bool
) -> None:
    """`mid_message`: the relay goes down inside the first message's transaction (it hangs
    up at RCPT, then is stopped): that message takes one backoff step, no more."""
    ids = [notice(n, START) for n in range(5)]  # queued as the relay goes down
    back_at = START + timedelta(hours=outage_hours)
    first_delivery: list[datetime] = []
    if mid_message:
        sink.recorder = HangsUp("patron0@example.jp", times=1)
        sink.start()

    def tick(now: datetime) -> None:
        if mid_message and sink.controller is not None and now < back_at:
            assert sink.recorder.received == []
            sink.stop()  # down until back_at
        if len(ids) < 8 and now >= START + timedelta(minutes=50):
            ids.extend(notice(n, now) for n in range(5, 8))  # queued during the outage
        if sink.controller is None and now >= back_at:
            sink.start()
        if sink.recorder.received and not first_delivery:
            first_delivery.append(now)

    time = SimulatedTime(back_at + timedelta(minutes=30), tick)
    interval = INTERVAL if outage_hours <= 2 else 10 * INTERVAL
    mail.run_mail_worker(settings_for(sink.port), interval, stop=time, clock=time.clock, limit=3)

    assert delivered(sink) == dict.fromkeys(ids, 1), "every notice exactly once"
    assert mail.get_mail_counts() == mail.MailCounts(pending=0, sent=8, failed=0)
    assert listed_for_staff() == ()
    # The outage cost no message an attempt; the one it cut off mid-transaction one step.
    assert [row(mail_id).attempts for mail_id in ids] == [int(mid_message)] + [0] * 7
    # Resumed by itself at its next tick after the relay came back (no backoff to sit out).
    assert first_delivery and first_delivery[0] <= back_at + timedelta(seconds=interval)
    assert time.runs > outage_hours * 3600 / interval  # it kept trying all along


def test_mail_send_runs_deliver_everything_once_after_an_outage(
    fresh_db: Database, sink: Sink
) -> None:
    """`shiori mail send` from a timer every 5 minutes: the first run after the outage sends."""
    sink.start()
    ids = [notice(n, START) for n in range(3)]
    settings = settings_for(sink.port)
    assert mail.send_due(settings, START) == mail.SendReport(3, 0, 0)
    sink.stop()  # two hours down, more notices queued meanwhile
    moment = START
    while moment < START + timedelta(hours=2):
        moment += timedelta(minutes=5)
        if len(ids) < 7:
            ids.append(notice(len(ids), moment))
        report = mail.send_due(settings, moment)
        assert (report.sent, report.retried, report.failed) == (0, 0, 0)
        assert report.deferred == len(ids) - 3
    sink.start()
    assert mail.send_due(settings, moment + timedelta(minutes=5)) == mail.SendReport(4, 0, 0)
    assert mail.send_due(settings, moment + timedelta(days=5)) == mail.SendReport(0, 0, 0)
    assert delivered(sink) == dict.fromkeys(ids, 1)
    assert mail.get_mail_counts() == mail.MailCounts(pending=0, sent=7, failed=0)


def test_mail_send_says_when_the_server_is_down_and_sends_when_it_is_back(
    fresh_db: Database,
    sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 75 (EX_TEMPFAIL) while the relay is down, so a timer shows it; nothing given up."""
    for name, value in {
        "SHIORI_DATABASE_URL": fresh_db.url,
        "SHIORI_SMTP_HOST": "127.0.0.1",
        "SHIORI_SMTP_PORT": str(sink.port),
        "SHIORI_SMTP_FROM": "opac@library.example.jp",
        "SHIORI_PASSWORD_HASHING": "test",
    }.items():
        monkeypatch.setenv(name, value)
    mail_id = notice(1, datetime.now(UTC))
    assert cli.main(["mail", "send"]) == cli.EXIT_MAIL_DEFERRED
    assert "SMTP server unavailable (ConnectionRefusedError): 1 waiting" in capsys.readouterr().err
    sink.start()
    assert cli.main(["mail", "send"]) == 0
    assert delivered(sink) == {mail_id: 1}


POISON = "too-large@example.jp"


@pytest.mark.parametrize("cut", ["hang-up", "421"])
def test_a_message_the_relay_hangs_up_on_does_not_stop_the_queue(
    fresh_db: Database, sink: Sink, cut: str
) -> None:
    """Before: a hang-up (or 421) inside one message's transaction counted as an outage; the
    message stayed first in the queue with no attempt counted, so every run stopped at it,
    nothing behind it was ever sent and after the retry period all of it was given up. Now
    it takes a backoff step each time, the others go, and it alone is given up at the end
    of its retry period (here one day), listed for staff with its text kept."""
    sink.recorder = HangsUp(POISON, "421 4.4.2 closing" if cut == "421" else None)
    sink.start()
    settings = settings_for(sink.port)
    poison = notice(0, START, POISON)  # first in the queue
    ids = [notice(n, START) for n in range(1, 6)]

    report = mail.send_due(settings, START, retry_days=1)
    assert (report.sent, report.retried, report.failed, report.deferred) == (0, 1, 0, 5)
    cut_off = row(poison)
    assert (cut_off.attempts, cut_off.failed_at) == (1, None)
    assert cut_off.next_attempt_at == naive(START + mail.retry_delay(1))
    assert [row(mail_id).attempts for mail_id in ids] == [0] * 5

    # The next run (the worker's next tick) sends the rest: the poison is not due yet.
    moment = START + timedelta(seconds=30)
    assert mail.send_due(settings, moment, retry_days=1) == mail.SendReport(5, 0, 0)
    assert delivered(sink) == dict.fromkeys(ids, 1)

    # `mail send` every 5 minutes for the day; a notice queued every hour still goes.
    retries: list[datetime] = []
    while row(poison).failed_at is None:
        moment += timedelta(minutes=5)
        if moment.minute < 5:
            ids.append(notice(len(ids) + 1, moment))
        attempts = row(poison).attempts
        mail.send_due(settings, moment, retry_days=1)
        if row(poison).attempts > attempts:
            retries.append(moment)
        assert moment < START + timedelta(days=1, minutes=5)
    mail.send_due(settings, moment + timedelta(minutes=5), retry_days=1)

    assert delivered(sink) == dict.fromkeys(ids, 1), "everything else, exactly once"
    assert len(ids) > 20
    assert mail.get_mail_counts() == mail.MailCounts(pending=0, sent=len(ids), failed=1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(retries)]
    assert gaps == sorted(gaps) and gaps[0] == timedelta(minutes=5)  # backoff, growing
    assert max(gaps) <= timedelta(seconds=rules.MAIL_RETRY_CAP_SECONDS, minutes=5)
    given_up = row(poison)
    assert given_up.attempts == len(retries) + 1 > 8
    failed_at = given_up.failed_at.replace(tzinfo=UTC)
    assert START + timedelta(hours=23) <= failed_at <= START + timedelta(days=1)
    [listed] = listed_for_staff()
    expected = "SMTPRecipientsRefused 421" if cut == "421" else "SMTPServerDisconnected"
    assert (listed.id, listed.in_doubt, listed.resendable) == (poison, False, True)
    assert listed.last_error.endswith(expected)
