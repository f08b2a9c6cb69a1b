"""The mail outbox against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from db import emails, engine, erasure, outbox, rules
from db.errors import QueryError
from db.queries import mail
from db.queries.staff_mail import MailFailure
from tests.conftest import Database, in_words
from tests.smtp_sink import Received, Recorder, Server, free_port, listed_for_staff, settings_for

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PATRON = "hanako.fujisawa@example.jp"
SUBJECT = "【藤沢市図書館】予約資料のご用意ができました"
BODY = "藤沢 花子 様\n\nご予約の資料「吾輩は猫である」が総合市民図書館に届きました。\n"
_outbox = outbox.mail_outbox


def queue(
    to_addr: str = PATRON, subject: str = SUBJECT, body: str = BODY, kind: str = "hold_ready"
) -> int:
    with engine.write() as conn:
        return outbox.enqueue(conn, kind=kind, to_addr=to_addr, subject=subject, body=body, now=NOW)


def outbox_row(mail_id: int) -> Any:
    with engine.read() as conn:
        return conn.execute(select(_outbox).where(_outbox.c.id == mail_id)).one()


def counts() -> mail.MailCounts:
    return mail.get_mail_counts()


def failed_mail() -> tuple[MailFailure, ...]:
    return listed_for_staff()


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def test_enqueue_then_send_delivers_once_with_headers(
    fresh_db: Database, smtp_server: Server
) -> None:
    mail_id = queue()
    assert counts() == mail.MailCounts(pending=1, sent=0, failed=0)

    report = mail.send_due(smtp_server.settings, NOW)

    assert report == mail.SendReport(sent=1, retried=0, failed=0)
    [got] = smtp_server.recorder.received
    assert got.mail_from == "opac@library.example.jp"
    assert got.rcpt_tos == [PATRON]
    assert max(got.content) < 128  # 7-bit clean on the wire: Japanese is encoded
    message = got.message
    assert message["Subject"] == SUBJECT
    assert message["To"] == PATRON
    assert message["From"].addresses[0].display_name == "藤沢市図書館"
    assert message["From"].addresses[0].addr_spec == "opac@library.example.jp"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == f"<shiori.{mail_id}.20261121090000@library.example.jp>"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "base64"
    assert message.get_content().replace("\r\n", "\n") == BODY
    assert "Bcc" not in message

    row = outbox_row(mail_id)
    assert row.sent_at == naive(NOW)
    assert row.body is None
    assert row.claimed_until is None
    assert row.attempts == 0
    assert counts() == mail.MailCounts(pending=0, sent=1, failed=0)

    assert mail.send_due(smtp_server.settings, NOW) == mail.SendReport(0, 0, 0)
    later = NOW + timedelta(days=1)
    assert mail.send_due(smtp_server.settings, later) == mail.SendReport(0, 0, 0)
    assert len(smtp_server.recorder.received) == 1


def test_rolled_back_transaction_queues_nothing(fresh_db: Database, smtp_server: Server) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), engine.write() as conn:
        outbox.enqueue(conn, kind="hold_ready", to_addr=PATRON, subject=SUBJECT, body=BODY, now=NOW)
        raise Abort

    assert counts() == mail.MailCounts(0, 0, 0)
    assert mail.send_due(smtp_server.settings, NOW) == mail.SendReport(0, 0, 0)
    assert smtp_server.recorder.received == []


@pytest.mark.parametrize(
    "address",
    [
        "a@example.jp\r\nBcc: x@evil.example",
        "a@example.jp\nBcc: x@evil.example",
        "a@example.jp\n",
        "a@example.jp, x@evil.example",
        "a@example.jp;x@evil.example",
        "花子 <a@example.jp>",
        "<a@example.jp>",
        "a b@example.jp",
        "a@@example.jp",
        "a@b@example.jp",
        "a@example",
        "a.@example.jp",
        "ａ@example.jp",
        "a@example.jp\x00",
        "",
        "x" * 65 + "@example.jp",
        "a@" + ".".join(["b" * 60] * 4) + ".example.jp",  # 256 characters
    ],
)
def test_enqueue_refuses_anything_but_a_plain_address(fresh_db: Database, address: str) -> None:
    with pytest.raises(QueryError) as refused:
        queue(to_addr=address)
    assert "メールアドレス" in in_words(refused.value)
    assert counts() == mail.MailCounts(0, 0, 0)


@pytest.mark.parametrize(
    "address",
    ["a@example.jp", "first.last+opac@mail.city.fujisawa.example.jp", "x_y-z@a-b.example"],
)
def test_plain_addresses_are_accepted(address: str) -> None:
    assert emails.check_email(address) == address


def test_subject_injection_is_neutralised(fresh_db: Database, smtp_server: Server) -> None:
    mail_id = queue(subject="ご案内\r\nBcc: x@evil.example\r\n\r\nbody?\x00\u2028end")

    assert mail.send_due(smtp_server.settings, NOW) == mail.SendReport(1, 0, 0)

    [got] = smtp_server.recorder.received
    assert got.rcpt_tos == [PATRON]
    header_block = got.content.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in header_block.split(b"\r\n"))
    assert b"evil" not in got.content.split(b"\r\n\r\n", 1)[1]  # nothing spilled into the body
    message = got.message
    assert "Bcc" not in message
    assert message["Subject"] == "ご案内 Bcc: x@evil.example body? end"
    assert message.get_content().replace("\r\n", "\n") == BODY
    assert outbox_row(mail_id).sent_at is not None


def test_temporary_failure_retries_with_backoff_then_succeeds(
    fresh_db: Database, smtp_server: Server
) -> None:
    smtp_server.recorder.rcpt_reply = "451 4.3.0 Mailbox busy, try again later"
    mail_id = queue()

    assert mail.send_due(smtp_server.settings, NOW) == mail.SendReport(0, 1, 0)
    row = outbox_row(mail_id)
    assert row.attempts == 1
    assert row.next_attempt_at == naive(NOW + timedelta(seconds=rules.MAIL_RETRY_BASE_SECONDS))
    assert row.last_error == "SMTPRecipientsRefused 451"
    assert row.claimed_until is None
    assert row.body == BODY  # kept for the retry

    # Not due yet: nothing is tried.
    almost = NOW + timedelta(seconds=rules.MAIL_RETRY_BASE_SECONDS - 1)
    assert mail.send_due(smtp_server.settings, almost) == mail.SendReport(0, 0, 0)
    assert outbox_row(mail_id).attempts == 1

    second = NOW + timedelta(seconds=rules.MAIL_RETRY_BASE_SECONDS)
    assert mail.send_due(smtp_server.settings, second) == mail.SendReport(0, 1, 0)
    row = outbox_row(mail_id)
    assert row.attempts == 2
    assert row.next_attempt_at == naive(
        second + timedelta(seconds=2 * rules.MAIL_RETRY_BASE_SECONDS)
    )

    smtp_server.recorder.rcpt_reply = None
    third = second + timedelta(seconds=2 * rules.MAIL_RETRY_BASE_SECONDS)
    assert mail.send_due(smtp_server.settings, third) == mail.SendReport(1, 0, 0)
    [got] = smtp_server.recorder.received
    assert got.message.get_content().replace("\r\n", "\n") == BODY
    row = outbox_row(mail_id)
    assert row.sent_at == naive(third)
    assert row.body is None
    assert row.last_error == ""
    assert counts() == mail.MailCounts(pending=0, sent=1, failed=0)


def test_permanent_refusal_fails_at_once_without_personal_data(
    fresh_db: Database, smtp_server: Server
) -> None:
    smtp_server.recorder.rcpt_reply = f"550 5.1.1 <{PATRON}>: Recipient address rejected"
    mail_id = queue()

    assert mail.send_due(smtp_server.settings, NOW) == mail.SendReport(0, 0, 1)

    row = outbox_row(mail_id)
    assert row.failed_at == naive(NOW)
    assert row.body is None
    assert row.attempts == 1
    [failed] = failed_mail()
    assert failed == MailFailure(
        id=mail_id,
        kind="hold_ready",
        created_at=NOW,
        failed_at=NOW,
        attempts=1,
        last_error="SMTPRecipientsRefused 550",
        in_doubt=False,
        resendable=False,  # refused for good: its text is gone
        to_addr=None,
    )
    shown = repr(failed)
    assert PATRON not in shown and "hanako" not in shown and "吾輩" not in shown
    assert counts() == mail.MailCounts(pending=0, sent=0, failed=1)

    smtp_server.recorder.rcpt_reply = None
    assert mail.send_due(smtp_server.settings, NOW + timedelta(days=1)) == mail.SendReport(0, 0, 0)
    assert smtp_server.recorder.received == []


def test_a_message_put_off_is_retried_with_capped_backoff_for_the_retry_period(
    fresh_db: Database, smtp_server: Server
) -> None:
    """A 4xx for the message: retried 1, 2, 4 … minutes apart, at most an hour, and given
    up only when the retry period (here 1 day) is over — not after 8 attempts (2 hours)."""
    smtp_server.recorder.rcpt_reply = "450 4.2.1 Mailbox busy"
    mail_id = queue()
    moment = NOW
    delays: list[timedelta] = []
    reports = []
    while outbox_row(mail_id).failed_at is None:
        reports.append(mail.send_due(smtp_server.settings, moment, retry_days=1))
        row = outbox_row(mail_id)
        if row.failed_at is None:
            delays.append(row.next_attempt_at - naive(moment))
            moment = row.next_attempt_at.replace(tzinfo=UTC)

    cap = timedelta(seconds=rules.MAIL_RETRY_CAP_SECONDS)
    assert cap == timedelta(hours=1)
    expected = [min(timedelta(seconds=rules.MAIL_RETRY_BASE_SECONDS * 2**k), cap) for k in range(7)]
    assert delays[:7] == expected
    assert set(delays[7:]) == {cap}
    assert reports[-1] == mail.SendReport(0, 0, 1)
    assert set(reports[:-1]) == {mail.SendReport(0, 1, 0)}
    row = outbox_row(mail_id)
    assert row.attempts == len(reports) > 8
    assert NOW + timedelta(hours=23) <= row.failed_at.replace(tzinfo=UTC) <= NOW + timedelta(days=1)
    assert row.body == BODY  # kept so staff can re-queue it (db.queries.staff_mail)
    [failed] = failed_mail()
    assert (failed.id, failed.attempts, failed.in_doubt) == (mail_id, row.attempts, False)
    assert failed.last_error == "SMTPRecipientsRefused 450"
    assert smtp_server.recorder.received == []


@pytest.mark.parametrize(
    "reply", ["421 4.7.0 Too busy, closing", "451 4.3.0 our sender", "530 5.7.0 Authenticate"]
)
def test_a_server_that_will_not_take_mail_costs_no_message_an_attempt(
    fresh_db: Database, smtp_server: Server, reply: str
) -> None:
    """421 (the server closes) before a message's MAIL FROM was accepted, or our own sender
    refused: not the message's fault. The run stops, every message keeps its place with no
    attempt counted, and they go when it's fixed. (A 421 after MAIL FROM was accepted costs
    that one message a backoff step: tests/test_mail_outage.py.)"""
    first, second = queue(), queue(to_addr="taro@example.jp")
    smtp_server.recorder.mail_reply = reply
    for minutes in range(0, 600, 7):
        report = mail.send_due(smtp_server.settings, NOW + timedelta(minutes=minutes))
        assert (report.sent, report.retried, report.failed, report.deferred) == (0, 0, 0, 2)
    for mail_id in (first, second):
        row = outbox_row(mail_id)
        assert (row.attempts, row.failed_at, row.claimed_until) == (0, None, None)
        assert row.last_error.startswith("SMTP") and row.last_error.endswith(reply[:3])
    smtp_server.recorder.mail_reply = None
    assert mail.send_due(smtp_server.settings, NOW + timedelta(hours=10)) == mail.SendReport(
        2, 0, 0
    )
    assert len(smtp_server.recorder.received) == 2


def test_retry_delay_is_capped_at_one_hour() -> None:
    assert mail.retry_delay(1) == timedelta(seconds=rules.MAIL_RETRY_BASE_SECONDS)
    assert mail.retry_delay(3) == timedelta(seconds=4 * rules.MAIL_RETRY_BASE_SECONDS)
    assert mail.retry_delay(40) == timedelta(hours=1)
    assert mail.retry_delay(10_000) == timedelta(hours=1)


def test_server_down_is_retried_and_nothing_is_lost(
    fresh_db: Database, smtp_server: Server
) -> None:
    first, second = queue(), queue(to_addr="taro@example.jp", body="二通目\n")
    down = settings_for(free_port())  # nothing listens there

    report = mail.send_due(down, NOW)
    assert report == mail.SendReport(0, 0, 0, deferred=2, server_error="ConnectionRefusedError")
    for mail_id in (first, second):
        row = outbox_row(mail_id)
        assert row.attempts == 0  # the outage is not the message's fault
        assert row.body is not None
        assert row.sent_at is None and row.failed_at is None and row.claimed_until is None
        assert row.last_error == "ConnectionRefusedError"
    assert counts() == mail.MailCounts(pending=2, sent=0, failed=0)

    # Back: the very next run delivers, no backoff to sit out.
    later = NOW + timedelta(seconds=1)
    assert mail.send_due(smtp_server.settings, later) == mail.SendReport(2, 0, 0)
    received = smtp_server.recorder.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted([PATRON, "taro@example.jp"])
    bodies = {r.message.get_content().replace("\r\n", "\n") for r in received}
    assert bodies == {BODY, "二通目\n"}


def test_mail_left_past_the_retry_period_is_given_up_for_staff(
    fresh_db: Database, smtp_server: Server
) -> None:
    mail_id = queue()
    down = settings_for(free_port())
    assert mail.send_due(down, NOW + timedelta(days=2), retry_days=3).deferred == 1
    report = mail.send_due(down, NOW + timedelta(days=3), retry_days=3)
    assert report == mail.SendReport(0, 0, 0)
    row = outbox_row(mail_id)
    assert row.failed_at == naive(NOW + timedelta(days=3)) and row.body == BODY
    [failed] = failed_mail()
    assert failed.last_error == "retry period over: ConnectionRefusedError"
    assert mail.send_due(smtp_server.settings, NOW + timedelta(days=4)) == mail.SendReport(0, 0, 0)
    assert smtp_server.recorder.received == []


def test_a_crashed_workers_claim_expires(fresh_db: Database, smtp_server: Server) -> None:
    mail_id = queue()
    [claimed] = mail._claim(NOW, 10)  # a worker claims, then dies before sending
    assert claimed.id == mail_id

    assert mail.send_due(smtp_server.settings, NOW) == mail.SendReport(0, 0, 0)
    expired = NOW + timedelta(seconds=rules.MAIL_CLAIM_SECONDS + 1)
    assert mail.send_due(smtp_server.settings, expired) == mail.SendReport(1, 0, 0)
    assert len(smtp_server.recorder.received) == 1
    assert outbox_row(mail_id).attempts == 0


def test_concurrent_senders_deliver_each_message_once(
    fresh_db: Database, smtp_server: Server
) -> None:
    ids = {queue(to_addr=f"patron{n}@example.jp", body=f"本文 {n}\n") for n in range(40)}
    start = threading.Barrier(2)
    reports: list[mail.SendReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            while True:
                report = mail.send_due(smtp_server.settings, NOW, limit=4)
                if report == mail.SendReport(0, 0, 0):
                    return
                reports.append(report)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.sent for r in reports) == 40
    assert sum(r.retried + r.failed for r in reports) == 0
    received = smtp_server.recorder.received
    message_ids = [r.message["Message-ID"] for r in received]
    assert len(message_ids) == 40
    assert len(set(message_ids)) == 40
    assert {int(mid.split(".")[1]) for mid in message_ids} == ids
    assert counts() == mail.MailCounts(pending=0, sent=40, failed=0)


def test_run_worker_sends_until_stopped(fresh_db: Database, smtp_server: Server) -> None:
    mail_id = queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=mail.run_mail_worker,
        args=(smtp_server.settings, 0.05),
        kwargs={"stop": stop, "clock": lambda: NOW},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not smtp_server.recorder.received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(smtp_server.recorder.received) == 1
    assert outbox_row(mail_id).sent_at == naive(NOW)


def test_logs_name_ids_never_addresses_or_bodies(
    fresh_db: Database, smtp_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="db")
    queue()
    smtp_server.recorder.rcpt_reply = f"550 5.1.1 <{PATRON}> unknown"
    queue(to_addr="taro@example.jp")
    mail.send_due(smtp_server.settings, NOW)
    mail.send_due(settings_for(free_port()), NOW + timedelta(days=1))

    assert caplog.records  # the worker does log, by id
    for needle in (PATRON, "taro@example.jp", "hanako", "吾輩", "予約資料"):
        assert needle not in caplog.text


def test_enqueue_refuses_a_bad_kind(fresh_db: Database) -> None:
    with pytest.raises(ValueError, match="kind"):
        queue(kind="Hold Ready\r\n")
    assert counts() == mail.MailCounts(0, 0, 0)


def test_outbox_view_matches_the_model() -> None:
    from db.models import MailOutbox

    model_columns = MailOutbox.metadata.tables["mail_outbox"].columns.keys()
    assert list(_outbox.columns.keys()) == list(model_columns)


def test_a_notice_is_stored_as_parameters_and_they_go_with_the_body(
    fresh_db: Database, smtp_server: Server
) -> None:
    """db stores no text for a notice; its parameters are deleted like a body: when sent,
    given up (tests/test_web_mail.py), or left in doubt by a sender that stopped."""
    params = {"title": "吾輩は猫である", "branch": "sogo", "until": "2026-11-27"}

    def notice(to_addr: str) -> int:
        with engine.write() as conn:
            return outbox.enqueue(
                conn, kind="hold_ready", to_addr=to_addr, lang="ja", params=params, now=NOW
            )

    def compose(kind: str, lang: str, given: Any) -> tuple[str, str]:
        assert (kind, lang, dict(given)) == ("hold_ready", "ja", params)
        return "ご案内\r\nBcc: x@evil.example", f"{given['title']}\r\n"

    sent, in_doubt = notice(PATRON), notice("taro@example.jp")
    row = outbox_row(sent)
    assert (row.subject, row.body, row.lang) == ("", None, "ja")
    assert row.params is not None and outbox.load_params(row.params) == params

    claimed = mail._claim(NOW, 10)
    assert [m.params is not None for m in claimed] == [True, True]
    mail._release([sent])
    mail._mark_in_doubt(in_doubt, NOW)  # the sender stops right after the final "."
    later = NOW + timedelta(seconds=rules.MAIL_CLAIM_SECONDS + 1)

    # In doubt, its parameters are kept: it is composed again and re-sent (at least once).
    assert mail.send_due(smtp_server.settings, later, compose=compose) == mail.SendReport(2, 0, 0)
    received = sorted(smtp_server.recorder.received, key=lambda r: r.rcpt_tos)
    assert [got.rcpt_tos for got in received] == [[PATRON], ["taro@example.jp"]]
    for got in received:
        assert got.message["Subject"] == "ご案内 Bcc: x@evil.example"  # composed text is cleaned
        assert got.message.get_content().replace("\r\n", "\n") == "吾輩は猫である\n"
    for mail_id in (sent, in_doubt):
        row = outbox_row(mail_id)
        assert row.params is None and row.body is None
    assert outbox_row(in_doubt).doubts == 1


def test_enqueue_takes_parameters_or_a_text_not_both(fresh_db: Database) -> None:
    with pytest.raises(ValueError, match="notice"), engine.write() as conn:
        outbox.enqueue(
            conn, kind="hold_ready", to_addr=PATRON, lang="ja", params={}, subject="x", now=NOW
        )
    assert counts() == mail.MailCounts(0, 0, 0)
    # A language the outbox cannot hold becomes the default one rather than a refusal.
    with engine.write() as conn:
        odd = outbox.enqueue(
            conn, kind="hold_ready", to_addr=PATRON, lang="x\r\ny", params={}, now=NOW
        )
    assert outbox_row(odd).lang == ""


class DropsOnHangUp(Recorder):
    """A server that loses a message when the connection goes before its reply is sent:
    here it hangs up itself after the first "." of each message, keeping nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = Received("", [], bytes(envelope.content)).message["Message-ID"]
        self.seen.append(message_id)
        if self.seen.count(message_id) == 1:
            server.transport.abort()  # no reply: the sender cannot tell
            return "250 never heard"
        return await super().handle_DATA(server, session, envelope)


def test_mail_in_doubt_is_resent_with_the_same_message_id(fresh_db: Database) -> None:
    """At-least-once: before, in-doubt mail was never re-sent and this server lost all five."""
    ids = [queue(to_addr=f"patron{n}@example.jp") for n in range(5)]
    handler = DropsOnHangUp()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        runs = 0
        while counts().pending and runs < 20:
            mail.send_due(settings_for(port), NOW + timedelta(seconds=runs))
            runs += 1
    finally:
        controller.stop()
    assert counts() == mail.MailCounts(pending=0, sent=5, failed=0)
    arrived = [int(r.message["Message-ID"].split(".")[1]) for r in handler.received]
    assert sorted(arrived) == ids  # each once: the first try of each was lost
    assert sorted(set(handler.seen)) == sorted(r.message["Message-ID"] for r in handler.received)
    assert len(handler.seen) == 10  # every message went twice, with one Message-ID
    for mail_id in ids:
        row = outbox_row(mail_id)
        assert (row.doubts, row.attempts, row.body) == (1, 0, None)


def test_mail_in_doubt_again_and_again_is_given_up_for_staff(fresh_db: Database) -> None:
    """A server that always hangs up after the ".": re-sent MAIL_MAX_DOUBTS times, no more."""

    class AlwaysDrops(Recorder):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.received.append(Received("", [], bytes(envelope.content)))
            server.transport.abort()
            return "250 never heard"

    mail_id = queue()
    handler = AlwaysDrops()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for run in range(10):
            mail.send_due(settings_for(port), NOW + timedelta(minutes=run))
    finally:
        controller.stop()
    assert len(handler.received) == rules.MAIL_MAX_DOUBTS
    [failed] = failed_mail()
    assert (failed.id, failed.in_doubt) == (mail_id, True)
    assert failed.last_error == "in doubt: SMTPServerDisconnected"
    assert outbox_row(mail_id).body == BODY  # for staff to re-queue or dismiss


def test_a_live_run_keeps_its_rows_and_a_lapsed_one_cannot_complete_them(
    fresh_db: Database,
) -> None:
    """Leases: renewed, they keep other runs (any host) off; lapsed, the row is free again
    within a minute, and the old run's commit point refuses it (no second sender)."""
    mail_id = queue()
    assert [m.id for m in mail._claim(NOW, 10, "run-a")] == [mail_id]
    renewed = NOW + timedelta(seconds=rules.MAIL_CLAIM_SECONDS - 10)
    assert mail._renew("run-a", [mail_id], renewed) == {mail_id}
    assert mail._claim(NOW + timedelta(seconds=rules.MAIL_CLAIM_SECONDS + 5), 10, "run-b") == []

    lapsed = renewed + timedelta(seconds=rules.MAIL_CLAIM_SECONDS + 1)
    assert rules.MAIL_CLAIM_SECONDS <= 60  # not five minutes
    assert [m.id for m in mail._claim(lapsed, 10, "run-b")] == [mail_id]
    assert mail._renew("run-a", [mail_id], lapsed) == set()
    with pytest.raises(mail._LostClaim):
        mail._mark_in_doubt(mail_id, lapsed, "run-a")
    mail._mark_in_doubt(mail_id, lapsed, "run-b")
    assert outbox_row(mail_id).send_started_at == naive(lapsed)


def test_a_given_up_notice_keeps_its_text_only_while_its_cause_holds(fresh_db: Database) -> None:
    """Kept for staff to re-queue; the return or ended reservation that withdraws an unsent
    notice deletes a given-up one too, so nothing outlives its cause."""
    params = {"title": "吾輩は猫である", "branch": "sogo", "until": "2026-11-27"}
    with engine.write() as conn:
        mail_id = outbox.enqueue(
            conn, kind="hold_ready", to_addr=PATRON, lang="ja", params=params, now=NOW
        )
    mail.send_due(settings_for(free_port()), NOW + timedelta(days=3), retry_days=3)
    row = outbox_row(mail_id)
    assert row.failed_at is not None and row.params is not None
    with engine.write() as conn:
        assert outbox.withdraw(conn, _outbox.c.id == mail_id) == 1
    assert failed_mail() == ()


def _outbox_ids() -> list[int]:
    with engine.read() as conn:
        return list(conn.execute(select(_outbox.c.id)).scalars())


def test_a_deleted_accounts_last_mail_goes_when_delivered_or_refused(
    fresh_db: Database, smtp_server: Server
) -> None:
    """Mail to someone the library no longer knows leaves with its final state, address and
    all: on nobody's failure list, never re-queued."""
    delivered = queue(kind="account_deleted")
    assert mail.send_due(smtp_server.settings, NOW).sent == 1
    assert delivered not in _outbox_ids()
    smtp_server.recorder.rcpt_reply = f"550 5.1.1 <{PATRON}>: Recipient address rejected"
    refused = queue(kind="account_deleted")
    assert mail.send_due(smtp_server.settings, NOW).failed == 1
    assert refused not in _outbox_ids()
    assert failed_mail() == ()


def test_a_deleted_accounts_last_mail_goes_when_its_retry_period_is_over(
    fresh_db: Database,
) -> None:
    queue(kind="account_deleted")
    kept = queue()
    mail.send_due(settings_for(free_port()), NOW + timedelta(days=3), retry_days=3)
    assert _outbox_ids() == [kept]
    assert [f.id for f in failed_mail()] == [kept]


def test_a_deleted_accounts_last_mail_goes_when_given_up_in_doubt(fresh_db: Database) -> None:
    class AlwaysDrops(Recorder):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            server.transport.abort()
            return "250 never heard"

    queue(kind="account_deleted")
    port = free_port()
    controller = Controller(AlwaysDrops(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for run in range(rules.MAIL_MAX_DOUBTS + 2):
            mail.send_due(settings_for(port), NOW + timedelta(minutes=run))
    finally:
        controller.stop()
    assert _outbox_ids() == [] and failed_mail() == ()


def test_a_deleted_patrons_mail_in_flight_is_deleted_once_it_settles(fresh_db: Database) -> None:
    """Deleting a patron while a sender is delivering their mail: the row can only be
    emptied then, and is deleted (address and subject) whatever way that delivery ends."""
    with engine.write() as conn:
        ids = [
            outbox.enqueue(
                conn,
                kind="hold_ready",
                to_addr=f"p{n}@example.jp",
                subject=SUBJECT,
                body=BODY,
                now=NOW,
                patron_id=7,
            )
            for n in range(3)
        ]
    assert [m.id for m in mail._claim(NOW, 10, "run-a")] == ids
    for mail_id in ids:
        mail._mark_in_doubt(mail_id, NOW, "run-a")
    with engine.write() as conn:
        assert erasure.forget_mail(conn, [7]) == 0  # nothing unsent could be withdrawn
    row = outbox_row(ids[0])
    assert (row.patron_id, row.body, row.subject) == (None, None, "")
    mail._mark_sent(ids[0], NOW)  # the server took it
    mail._mark_doubt(ids[1], "SMTPServerDisconnected")  # no reply: nothing left to re-send
    assert _outbox_ids() == [ids[2]]
    mail._sweep_in_doubt(NOW + timedelta(seconds=rules.MAIL_CLAIM_SECONDS + 1))  # sender died
    assert _outbox_ids() == [] and failed_mail() == ()
