"""Mail as the patron would read it: the outbox rows composed by the web's MailComposer.

db queues a notice's kind, language and parameters; tests that check a notice's wording
read it here (or from the SMTP sink after `send_due(..., compose=COMPOSE)`).
"""

from __future__ import annotations

from sqlalchemy import text

from db import engine
from db.outbox import load_params
from web.i18n import Catalogues
from web.mail import MailComposer
from web.settings import LOCALE_DIR
from web.settings import load as load_settings

# The library's public URL in the mail COMPOSE writes (its links to My Library's pages).
PUBLIC_URL = "https://opac.example.jp"
COMPOSE = MailComposer(Catalogues(LOCALE_DIR), load_settings({"SHIORI_PUBLIC_URL": PUBLIC_URL}))


def composed(compose: MailComposer = COMPOSE) -> list[tuple[str, str, str, str | None]]:
    """(kind, address, subject, body) of every queued row, oldest first."""
    with engine.read() as conn:
        rows = conn.execute(
            text("SELECT kind, to_addr, subject, body, lang, params FROM mail_outbox ORDER BY id")
        ).all()
    found: list[tuple[str, str, str, str | None]] = []
    for row in rows:
        if row.params is None:
            found.append((row.kind, row.to_addr, row.subject, row.body))
        else:
            subject, body = compose(row.kind, row.lang, load_params(row.params))
            found.append((row.kind, row.to_addr, subject, body))
    return found
