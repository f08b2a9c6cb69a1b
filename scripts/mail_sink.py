"""A local SMTP sink for trying the demo: prints each message decoded, delivers nothing.

.venv/bin/python scripts/mail_sink.py [PORT]      (default 8025, listens on 127.0.0.1)
"""

from __future__ import annotations

import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class PrintDecoded:
    async def handle_DATA(self, _server: object, _session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        print(f"--- To: {message['To']}\n    Subject: {message['Subject']}\n")
        print(body.get_content() if body is not None else "", flush=True)
        return "250 OK"


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8025
    controller = Controller(PrintDecoded(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"mail sink on 127.0.0.1:{port} (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
