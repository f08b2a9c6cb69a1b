"""The mail outbox table and `enqueue`: mail is queued in the transaction that causes it.

`enqueue` writes a row inside the caller's transaction, so a rolled-back change sends
nothing and a committed one cannot lose its mail. Sending is `db.queries.mail` (its
docstring states the delivery contract and its crash windows).

db holds no presentation text: a notice is queued as its *kind*, the patron's language and
its *parameters* (JSON: a title, a branch code, ISO dates, a link …), and the sender has the
web tier compose subject and body at delivery. A row may instead carry a finished subject
and body (rows queued before migration 0009 do): it is delivered as it is. Either way the
personal part (parameters or body) is deleted once the mail is delivered or refused for
good; a row given up otherwise keeps it for staff to re-queue (db.queries.staff_mail) until
they dismiss it, its cause withdraws it, or retention deletes it.

A row names its patron (`patron_id`, None for mail to no patron) and the cause that ends
it may `withdraw` it: a returned loan its due-date reminder, an ended reservation its
ready-for-pickup notice, a purge all of the patron's mail.

Times are stored as naive UTC (the columns are `timestamp without time zone`).
Logs name outbox ids and kinds only: never addresses, subjects, bodies or parameters.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    column,
    delete,
    insert,
    or_,
    table,
    update,
)
from sqlalchemy.engine import Connection

from db.clock import naive_utc
from db.emails import check_email, is_email

log = logging.getLogger(__name__)

# The table as created by migrations 0002 … 0030 (models.MailOutbox), with plain column types: the
# model's datetime type would bind aware values, which PostgreSQL casts to `timestamp without
# time zone` through the session TimeZone. Binding naive UTC stores exactly what we mean
# whatever the server's TimeZone (Asia/Tokyo is common here).
mail_outbox = table(
    "mail_outbox",
    column("id", Integer),
    column("kind", String),
    column("to_addr", String),
    column("subject", String),
    column("body", Text),
    column("created_at", DateTime),
    column("attempts", Integer),
    column("next_attempt_at", DateTime),
    column("claimed_until", DateTime),
    column("sent_at", DateTime),
    column("failed_at", DateTime),
    column("last_error", String),
    column("send_started_at", DateTime),
    column("lang", String),
    column("params", Text),
    column("patron_id", Integer),
    column("claimed_by", String),
    column("doubts", Integer),
    column("retry_from", DateTime),
    # Its library (0030, db.tenancy): never named by an insert, the server default sets it.
    column("library_id", Integer),
)

SUBJECT_MAX_CHARS = 200  # the column's length

# Kinds whose row is deleted once settled (delivered or given up), address and all: mail to
# someone the library no longer knows, kept for nobody's failure list and never re-queued.
# "forgotten" relabels a deleted patron's row a sender was delivering at that moment
# (db.erasure.forget_mail): it stays only until that delivery settles.
FORGOTTEN = "forgotten"
FORGOTTEN_WHEN_SETTLED = frozenset({"account_deleted", FORGOTTEN})

_KIND = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})?")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_SUBJECT_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_subject(subject: str) -> str:
    """One line: runs of control characters (CR, LF, tab …) become one space; ≤200 chars."""
    cleaned = " ".join(_SUBJECT_CONTROLS.sub(" ", subject).split())
    return cleaned[:SUBJECT_MAX_CHARS]


def clean_body(body: str) -> str:
    """Unix line ends; control characters other than tab and newline removed."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROLS.sub("", body)


def dump_params(params: Mapping[str, Any]) -> str:
    return json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load_params(stored: str) -> dict[str, Any]:
    loaded = json.loads(stored)
    if not isinstance(loaded, dict):
        raise ValueError("mail parameters must be a JSON object")
    return loaded


def enqueue_notice(
    conn: Connection,
    *,
    kind: str,
    to_addr: str,
    now: datetime,
    patron_id: int | None,
    lang: str,
    params: Mapping[str, Any],
) -> int | None:
    """`enqueue` a patron's notice, or nothing (None) when the outbox would refuse its
    address: a notice never undoes the change that caused it (a return at the counter)."""
    if not is_email(to_addr):
        log.warning("%s not queued: unusable address", kind)
        return None
    return enqueue(
        conn, kind=kind, to_addr=to_addr, now=now, patron_id=patron_id, lang=lang, params=params
    )


def enqueue(
    conn: Connection,
    *,
    kind: str,
    to_addr: str,
    now: datetime,
    patron_id: int | None = None,
    lang: str = "",
    params: Mapping[str, Any] | None = None,
    subject: str = "",
    body: str = "",
) -> int:
    """Queue one message inside the caller's transaction; returns its outbox id.

    `patron_id` is whose mail it is (give it for every patron's mail): a purge withdraws it.
    Either `params` (JSON values; with the mail's `lang`, "" for the default language),
    composed into text by the sender, or a finished `subject` and `body`. A `to_addr` that
    is not a plain addr-spec is refused (QueryError), so no header or extra recipient can be
    smuggled in. Control characters in a finished `subject` (CR/LF included) become spaces
    rather than a refusal, so an odd title never rolls back the change that caused the mail
    (composed subjects are cleaned the same way at delivery). Do not put personal details
    beyond what the patron needs in a finished `subject`: it is kept after delivery; body
    and parameters are deleted.
    """
    if _KIND.fullmatch(kind) is None:
        raise ValueError(f"mail kind must match {_KIND.pattern}")
    address = check_email(to_addr)
    if params is not None:
        if subject or body:
            raise ValueError("a notice has parameters and no finished text")
        # An odd language on a patron record must not undo the change: "" is the default.
        lang = lang if _LANG.fullmatch(lang) else ""
        cleaned, stored_body, stored_params = "", None, dump_params(params)
    else:
        cleaned = clean_subject(subject)
        if not cleaned:
            raise ValueError("mail subject is empty")
        stored_body, stored_params = clean_body(body), None
    stamp = naive_utc(now)
    new_id = conn.execute(
        insert(mail_outbox)
        .values(
            kind=kind,
            to_addr=address,
            subject=cleaned,
            body=stored_body,
            created_at=stamp,
            attempts=0,
            next_attempt_at=stamp,
            claimed_until=None,
            sent_at=None,
            failed_at=None,
            last_error="",
            lang=lang,
            params=stored_params,
            patron_id=patron_id,
        )
        .returning(mail_outbox.c.id)
    ).scalar_one()
    log.info("mail %s queued (%s)", new_id, kind)
    return int(new_id)


def withdraw(conn: Connection, which: ColumnElement[bool]) -> int:
    """Withdraw the unsent mail `which` selects, inside the caller's transaction. → deleted.

    A row not yet in doubt is deleted: if a sender holds it right now, its commit point
    before the final "." finds the row gone and the server never accepts the message
    (db.queries.mail). A row in doubt stays for the sender or its sweep to settle, emptied
    of its body and parameters: with nothing left to re-send it is given up, not re-sent.
    A given-up row still holding its text (kept for staff to re-queue) is deleted.
    """
    c = mail_outbox.c
    deleted = conn.execute(
        delete(mail_outbox).where(which, c.sent_at.is_(None), c.send_started_at.is_(None))
    )
    conn.execute(
        update(mail_outbox)
        .where(which, or_(c.params.is_not(None), c.body.is_not(None)))
        .values(params=None, body=None)
    )
    return int(deleted.rowcount or 0)


def unsent(kind: str) -> ColumnElement[bool]:
    """Rows of `kind` still holding what they would say (not delivered, not given up)."""
    c = mail_outbox.c
    return and_(c.kind == kind, c.sent_at.is_(None), c.failed_at.is_(None))
