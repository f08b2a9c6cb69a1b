"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 recording what it receives.

The `smtp_server` fixture (tests/conftest.py) starts one per test.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from db import queries
from db.queries import mail
from db.queries.staff_mail import MailFailure

SENDER = "藤沢市図書館 <opac@library.example.jp>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler: records envelopes; `rcpt_reply` set → refuses every RCPT,
    `mail_reply` every MAIL FROM."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None
    mail_reply: str | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


@dataclass
class Server:
    recorder: Recorder
    settings: mail.SmtpSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_for(port: int) -> mail.SmtpSettings:
    return mail.SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=5.0)


# Staff's list of given-up mail, read as a role that may not see contact data (so no
# addresses in it and no audit row written).
_READER = queries.StaffActor(1, "INT01", "実習 生", "intern", (), 1)


def listed_for_staff() -> tuple[MailFailure, ...]:
    """Given-up mail as staff see it (db.queries.staff_mail), newest first."""
    return queries.list_mail_failures(_READER)


def running_server() -> Iterator[Server]:
    """Start a recording server on a free port; stop it afterwards."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Server(recorder, settings_for(port))
    finally:
        controller.stop()
