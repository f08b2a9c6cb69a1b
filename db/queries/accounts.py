"""Patron accounts: logging in, setting and changing the web password.

Every path that takes a secret counts the attempt first (db.throttle) and answers unknown
cards, wrong secrets and throttled cards alike, after the same argon2 work. The count is
committed in its own transaction, so a refusal rolls back the change, never the count;
argon2 runs outside any transaction. The recovery paths (first password, code, forgotten
password) check the proof before anything that reads the patron's data, so that nothing
but the proof itself can tell a known card from an unknown one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, literal, select, text
from sqlalchemy.engine import Connection, Row

from db import (
    activation_codes,
    booklist_keys,
    counts,
    japanese_input,
    outbox,
    passwords,
    patrons,
    rules,
    sessions,
    stats,
    throttle,
)
from db.booklist_keys import BooklistPasswordWrap
from db.clock import aware_utc, library_today, naive_utc
from db.emails import is_email
from db.engine import reads, writes
from db.errors import NotFound, QueryError, TooManyAttempts
from db.localized import Localized
from db.models import TABLES
from db.passwords import PasswordRejected
from db.patrons import phone_digits
from db.rules import ACTIVATION_CODE_HOURS, RESET_LINK_MINUTES
from db.sessions import Timeouts

__all__ = [
    "ACTIVATION_CODE_HOURS",
    "RESET_LINK_MINUTES",
    "CodeRefused",
    "FactsRefused",
    "LoginFailed",
    "LoginResult",
    "MyAccount",
    "PasswordRejected",
    "ResetLinkRefused",
    "change_password",
    "change_password_with_booklist",
    "check_reset_link",
    "confirm_pending_email",
    "decline_pending_email",
    "get_my_account",
    "issue_activation_code",
    "log_in",
    "request_password_reset",
    "reset_password",
    "reset_password_with_booklist",
    "set_first_password",
    "set_password_with_code",
    "set_patron_language",
]


class LoginFailed(QueryError):
    code = "login_failed"


class FactsRefused(QueryError):
    code = "facts_refused"


class CodeRefused(QueryError):
    code = "code_refused"


class ResetLinkRefused(QueryError):
    code = "reset_link_refused"


@dataclass(frozen=True)
class LoginResult:
    patron_id: int
    token: str
    csrf_token: str


@dataclass(frozen=True)
class MyAccount:
    patron_id: int
    card_number: str
    name: str
    email: str | None
    lang: str
    home_branch: Localized
    password_set_at: datetime | None
    password_set_via: str | None
    email_pending: str | None  # recorded by staff; unused until the patron confirms it
    email_pending_at: datetime | None
    email_changed_at: datetime | None


_patron = TABLES["patron"]


def _patron_by_card(conn: Connection, card: str) -> Row[Any] | None:
    return conn.execute(select(_patron).where(_patron.c.card_number == card.strip()[:20])).first()


def _same_text(stored: str, given: str) -> bool:
    # compare_digest refuses non-ASCII str; bytes compare any input in constant time.
    return hmac.compare_digest(stored.encode(), given.encode())


def _patron_by_id(conn: Connection, patron_id: int) -> Row[Any] | None:
    return conn.execute(select(_patron).where(_patron.c.id == patron_id)).first()


@writes
def _reserve_by_card(
    conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]], card: str
) -> Row[Any] | None:
    """Count the attempt (throttle.Throttled when over a limit), then the card's patron."""
    throttle.reserve(conn, checks, now)
    return _patron_by_card(conn, card)


@writes
def _reserve_by_id(
    conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]], patron_id: int
) -> Row[Any] | None:
    throttle.reserve(conn, checks, now)
    return _patron_by_id(conn, patron_id)


def log_in(
    card: str,
    password: str,
    address: str,
    device: str,
    kiosk: bool,
    timeouts: Timeouts,
    known_device: str | None = None,
) -> LoginResult:
    """A new session for the right card and password; `LoginFailed` for anything else.

    `known_device` is the nonce of a device cookie that the web tier verified for this card
    (OWASP device cookies): that attempt counts against the device's own limit only, so
    failures from elsewhere never lock the card for a browser that logged in to it before.
    """
    try:
        row, checks = _reserve_login(card.strip(), address, known_device)
    except throttle.Throttled:
        passwords.verify(None, password)  # same work as a real check
        raise LoginFailed() from None
    stored = getattr(row, "password_hash", None)
    if not passwords.verify(stored, password) or row is None:
        raise LoginFailed()
    rehashed = (
        passwords.hash_password(password) if stored and passwords.needs_rehash(stored) else None
    )
    return _start_session(checks, row.id, rehashed, timeouts, kiosk, device)


@writes
def _reserve_login(
    conn: Connection, now: datetime, card: str, address: str, known_device: str | None
) -> tuple[Row[Any] | None, list[tuple[throttle.Limit, str]]]:
    """Count the attempt (throttle.Throttled when over a limit); the card's patron and the
    checks a success clears."""
    if known_device is not None:
        checks = [(throttle.LOGIN_DEVICE, f"{card}\x00{known_device}")]
        throttle.reserve(conn, checks, now)
        return _patron_by_card(conn, card), checks
    checks = [(throttle.LOGIN_CARD, card), (throttle.LOGIN_ADDRESS, address)]
    if throttle.busy(conn, throttle.LOGIN_ALL, "", now):
        checks.append((throttle.LOGIN_ADDRESS_BUSY, address))
    throttle.reserve(conn, checks, now)
    # A success takes its attempt back from the site-wide count too.
    return _patron_by_card(conn, card), [*checks, (throttle.LOGIN_ALL, "")]


@writes
def _start_session(
    conn: Connection,
    now: datetime,
    checks: list[tuple[throttle.Limit, str]],
    patron_id: int,
    rehashed: str | None,
    timeouts: Timeouts,
    kiosk: bool,
    device: str,
) -> LoginResult:
    throttle.succeeded(conn, checks)
    if rehashed:
        conn.execute(
            text("UPDATE patron SET password_hash = :h WHERE id = :id"),
            {"h": rehashed, "id": patron_id},
        )
    conn.execute(
        text("UPDATE patron SET last_used_at = :now WHERE id = :id"),
        {"now": naive_utc(now), "id": patron_id},
    )
    token, csrf = sessions.create(
        conn, sessions.PATRON, patron_id, now, timeouts, kiosk=kiosk, device=device[:100]
    )
    home = conn.execute(
        text("SELECT home_branch_id FROM patron WHERE id = :id"), {"id": patron_id}
    ).scalar_one()
    counts.bump(conn, library_today(now), int(home), "", stats.WEB_LOGIN)
    return LoginResult(patron_id, token, csrf)


def _store_password(
    conn: Connection,
    patron_id: int,
    new_password: str,
    via: str,
    now: datetime,
    only_if_unset: bool = False,
) -> None:
    """Set the hash and queue the notice, in one transaction."""
    guard = " AND password_hash IS NULL" if only_if_unset else ""
    result = conn.execute(
        text(
            "UPDATE patron SET password_hash = :h, password_set_at = :now, "
            f"password_set_via = :via WHERE id = :id{guard}"
        ),
        {
            "h": passwords.hash_password(new_password),
            "now": naive_utc(now),
            "via": via,
            "id": patron_id,
        },
    )
    if result.rowcount != 1:
        raise FactsRefused()  # somebody else set it first
    # A reset link works once, and not after the password changed some other way.
    conn.execute(text("DELETE FROM password_reset_link WHERE patron_id = :p"), {"p": patron_id})
    row = conn.execute(
        text("SELECT email, lang FROM patron WHERE id = :id"), {"id": patron_id}
    ).one()
    if row.email:
        outbox.enqueue(
            conn,
            kind="password_set",
            to_addr=row.email,
            patron_id=patron_id,
            lang=row.lang,
            params={"when": aware_utc(now).isoformat(), "via": via},
            now=now,
        )


def set_first_password(
    card: str, birth_date: date, phone: str, new_password: str, address: str
) -> None:
    """The web's first password: only for a card without one, proven by birth date and phone.

    Unknown cards, wrong facts, a password already set and a throttled attempt are all
    `FactsRefused`; the rules on card number and birth date are applied after the facts hold.
    """
    passwords.check_general(new_password)
    given_phone = phone_digits(phone)
    checks = [
        (throttle.FIRST_CARD, card.strip()),
        (throttle.FIRST_ADDRESS, address),
        (throttle.FIRST_ALL, ""),
    ]
    try:
        row = _reserve_by_card(checks, card)
    except throttle.Throttled:
        raise FactsRefused() from None
    # Every fact is compared whatever the others say: no step is skipped for an unknown card.
    facts = (
        row is not None,
        getattr(row, "password_hash", None) is None,
        getattr(row, "birth_date", None) == birth_date,
        _same_text(getattr(row, "phone_digits", ""), given_phone),
    )
    if not all(facts) or row is None:
        raise FactsRefused()
    try:
        passwords.check_personal(new_password, row.card_number, row.birth_date)
    except PasswordRejected:
        _forgive(checks)
        raise
    _store_first_password(checks, row.id, new_password)


@writes
def _forgive(conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]]) -> None:
    """The proof held and only the new password was refused: that was no guess."""
    throttle.succeeded(conn, checks)


@writes
def _store_first_password(
    conn: Connection,
    now: datetime,
    checks: list[tuple[throttle.Limit, str]],
    patron_id: int,
    new_password: str,
) -> None:
    _store_password(
        conn, patron_id, new_password, rules.PASSWORD_VIA_WEB_FIRST, now, only_if_unset=True
    )
    throttle.succeeded(conn, checks)


def issue_activation_code(card: str) -> str:
    """A random single-use code (valid ACTIVATION_CODE_HOURS) to hand over at the counter."""
    code = activation_codes.new_code()
    _store_activation_code(card, activation_codes.digest(code))
    return code


@writes
def _store_activation_code(conn: Connection, now: datetime, card: str, code_hash: str) -> None:
    row = _patron_by_card(conn, card)
    if row is None:
        raise NotFound("card_not_found")
    activation_codes.store(conn, row.id, code_hash, now)


@writes
def _reserve(conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]]) -> None:
    throttle.reserve(conn, checks, now)


def set_password_with_code(card: str, code: str, new_password: str, address: str) -> None:
    """Set a password with a counter's code. Unknown cards, wrong or expired codes and
    throttled attempts are all `CodeRefused`; the rules on card number and birth date are
    applied once the code holds (a refusal then leaves the code usable)."""
    passwords.check_general(new_password)
    checks = [
        (throttle.CODE_CARD, card.strip()),
        (throttle.CODE_ADDRESS, address),
        (throttle.CODE_ALL, ""),
    ]
    try:
        _reserve(checks)
    except throttle.Throttled:
        raise CodeRefused() from None
    try:
        _use_code(checks, card, code, new_password)
    except PasswordRejected:
        _forgive(checks)
        raise


@writes
def _use_code(
    conn: Connection,
    now: datetime,
    checks: list[tuple[throttle.Limit, str]],
    card: str,
    code: str,
    new_password: str,
) -> None:
    row = _patron_by_card(conn, card)
    # The same statement runs for an unknown card (no patron has id 0).
    used = conn.execute(
        text(
            "DELETE FROM activation_code WHERE patron_id = :p AND code_hash = :h "
            "AND expires_at > :now"
        ),
        {
            "p": row.id if row is not None else 0,
            "h": activation_codes.digest(code),
            "now": naive_utc(now),
        },
    )
    if used.rowcount != 1 or row is None:
        raise CodeRefused()
    # Raised inside the transaction: the code's deletion is rolled back with it.
    passwords.check_personal(new_password, row.card_number, row.birth_date)
    _store_password(conn, row.id, new_password, rules.PASSWORD_VIA_CODE, now)
    throttle.succeeded(conn, checks)
    sessions.end_all(conn, sessions.PATRON, row.id)
    # The old password's key wrap is useless now (the code page warned beforehand).
    booklist_keys.apply_password_reset(conn, row.id, loss_confirmed=True)


def _link_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@writes
def request_password_reset(
    conn: Connection,
    now: datetime,
    card: str,
    email: str,
    address: str,
    make_link: Callable[[str], str],
) -> None:
    """Queue a reset link when card and registered email match; silent otherwise.

    The link's token is random: it names nobody, and only its digest is kept, so neither
    the mail nor the database gives a usable link or the patron behind it."""
    checks = [
        (throttle.RESET_CARD, card.strip()),
        (throttle.RESET_ADDRESS, address),
        (throttle.RESET_ALL, ""),
    ]
    try:
        throttle.reserve(conn, checks, now)
    except throttle.Throttled:
        return
    stamp = naive_utc(now)
    conn.execute(text("DELETE FROM password_reset_link WHERE expires_at <= :now"), {"now": stamp})
    row = _patron_by_card(conn, card)
    # Only the confirmed address: one staff recorded waits for the patron (email_pending).
    registered = getattr(row, "email", None) or ""
    # As typed, full-width included (ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ is the same address).
    matches = _same_text(registered.casefold(), japanese_input.email(email).casefold())
    # An address recorded before the one check existed may be undeliverable: the outbox
    # would refuse it, so it gets the same silence as a wrong one.
    if row is None or not is_email(registered) or not matches:
        return
    token = secrets.token_urlsafe(32)
    # One live link per patron: asking again makes the older one useless.
    conn.execute(text("DELETE FROM password_reset_link WHERE patron_id = :p"), {"p": row.id})
    conn.execute(
        text(
            "INSERT INTO password_reset_link (patron_id, token_hash, created_at, expires_at) "
            "VALUES (:p, :h, :now, :exp)"
        ),
        {
            "p": row.id,
            "h": _link_digest(token),
            "now": stamp,
            "exp": naive_utc(now + timedelta(minutes=rules.RESET_LINK_MINUTES)),
        },
    )
    outbox.enqueue(
        conn,
        kind="password_reset",
        to_addr=registered,
        patron_id=row.id,
        lang=row.lang,
        params={"link": make_link(token), "minutes": rules.RESET_LINK_MINUTES},
        now=now,
    )


def _reset_link_patron(conn: Connection, now: datetime, token: str) -> Row[Any]:
    """The patron of a live reset link (ResetLinkRefused for a used, expired or made-up one)."""
    found = conn.execute(
        text(
            "SELECT patron_id FROM password_reset_link WHERE token_hash = :h AND expires_at > :now"
        ),
        {"h": _link_digest(token[:200]), "now": naive_utc(now)},
    ).first()
    row = _patron_by_id(conn, found.patron_id) if found is not None else None
    if row is None:
        raise ResetLinkRefused()
    return row


@reads
def check_reset_link(conn: Connection, now: datetime, token: str) -> str:
    """What a reset through this link will do to My Booklist ("none", "lost",
    "recoverable"); ResetLinkRefused when the link can no longer be used."""
    return booklist_keys.reset_outlook(conn, _reset_link_patron(conn, now, token).id)


@writes
def reset_password_with_booklist(
    conn: Connection,
    now: datetime,
    token: str,
    new_password: str,
    booklist_loss_confirmed: bool,
) -> None:
    """Set a new password through a reset link, which is then used up; refuses to delete
    an unrecoverable booklist unconfirmed (`BooklistLossUnconfirmed`)."""
    row = _reset_link_patron(conn, now, token)
    passwords.check_policy(new_password, row.card_number, row.birth_date)
    booklist_keys.apply_password_reset(conn, row.id, booklist_loss_confirmed)
    _store_password(conn, row.id, new_password, rules.PASSWORD_VIA_RESET, now)
    sessions.end_all(conn, sessions.PATRON, row.id)


def reset_password(token: str, new_password: str) -> None:
    """`reset_password_with_booklist` for callers without a booklist page: the loss of an
    unrecoverable list counts as confirmed."""
    reset_password_with_booklist(token, new_password, True)


def change_password_with_booklist(
    patron_id: int,
    current: str,
    new_password: str,
    end_other_sessions: bool,
    current_token: str,
    booklist_wrap: BooklistPasswordWrap | None,
) -> int:
    """Change while logged in; returns how many other sessions were ended.

    The browser re-wraps the My Booklist data key with the new password; it is stored in
    the same transaction, and a readable list without a re-wrap refuses the change.
    """
    checks = [(throttle.CHANGE_PATRON, str(patron_id))]
    try:
        row = _reserve_by_id(checks, patron_id)
    except throttle.Throttled:
        raise TooManyAttempts() from None
    if row is None:
        raise NotFound("patron_not_found")
    if not passwords.verify(row.password_hash, current):
        raise QueryError("wrong_current_password")
    passwords.check_policy(new_password, row.card_number, row.birth_date)
    return _store_changed_password(
        checks, patron_id, new_password, end_other_sessions, current_token, booklist_wrap
    )


@writes
def _store_changed_password(
    conn: Connection,
    now: datetime,
    checks: list[tuple[throttle.Limit, str]],
    patron_id: int,
    new_password: str,
    end_other_sessions: bool,
    current_token: str,
    booklist_wrap: BooklistPasswordWrap | None,
) -> int:
    throttle.succeeded(conn, checks)
    booklist_keys.apply_password_change(conn, patron_id, booklist_wrap)
    _store_password(conn, patron_id, new_password, rules.PASSWORD_VIA_CHANGE, now)
    if not end_other_sessions:
        return 0
    return sessions.end_all(conn, sessions.PATRON, patron_id, current_token)


def change_password(
    patron_id: int, current: str, new_password: str, end_other_sessions: bool, current_token: str
) -> int:
    """`change_password_with_booklist` without a re-wrapped key (refused while the patron
    has a readable booklist)."""
    return change_password_with_booklist(
        patron_id, current, new_password, end_other_sessions, current_token, None
    )


@reads
def get_my_account(conn: Connection, now: datetime, patron_id: int) -> MyAccount:
    row = conn.execute(
        text(
            "SELECT p.id, p.card_number, p.name, p.email, p.lang, p.password_set_at, "
            "p.password_set_via, p.email_pending, p.email_pending_at, p.email_changed_at, "
            "b.names FROM patron p "
            "JOIN branch b ON b.id = p.home_branch_id WHERE p.id = :id"
        ).columns(
            password_set_at=DateTime(), email_pending_at=DateTime(), email_changed_at=DateTime()
        ),
        {"id": patron_id},
    ).first()
    if row is None:
        raise NotFound("patron_not_found")
    return MyAccount(
        row.id,
        row.card_number,
        row.name,
        row.email,
        row.lang,
        Localized.of(row.names),
        row.password_set_at,
        row.password_set_via,
        row.email_pending,
        row.email_pending_at,
        row.email_changed_at,
    )


@writes
def confirm_pending_email(conn: Connection, now: datetime, patron_id: int, address: str) -> bool:
    """The logged-in patron confirms the address staff recorded: from now on it is the one
    used for mail and password resets, and the old one is told. False (nothing changed)
    when `address` is no longer the pending one, so a page shown before staff recorded
    another address cannot confirm that other one."""
    row = conn.execute(
        select(_patron.c.email, _patron.c.lang).where(
            _patron.c.id == patron_id, _patron.c.email_pending == address
        )
    ).first()
    if row is None or not address:
        return False
    conn.execute(
        _patron.update()
        .where(_patron.c.id == patron_id, _patron.c.email_pending == address)
        .values(
            email=address,
            email_pending=None,
            email_pending_at=None,
            # A plain DateTime bind: the model's type wants aware values; the column is naive.
            email_changed_at=literal(naive_utc(now), DateTime()),
        )
    )
    patrons.notify_email_change(conn, patron_id, row.email, row.lang, patrons.EMAIL_CONFIRMED, now)
    return True


@writes
def decline_pending_email(conn: Connection, now: datetime, patron_id: int, address: str) -> bool:
    """The patron says the recorded address is not theirs: it is dropped, unused."""
    done = conn.execute(
        _patron.update()
        .where(_patron.c.id == patron_id, _patron.c.email_pending == address)
        .values(email_pending=None, email_pending_at=None)
    ).rowcount
    return bool(done)


_LANG = re.compile(r"[a-z]{2}")


@writes
def set_patron_language(conn: Connection, now: datetime, patron_id: int, lang: str) -> None:
    """The language of the patron's mail (the site's language they chose)."""
    if _LANG.fullmatch(lang) is None:
        raise ValueError("a language is a two-letter code")
    conn.execute(_patron.update().where(_patron.c.id == patron_id).values(lang=lang))
