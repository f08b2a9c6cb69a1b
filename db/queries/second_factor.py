"""The staff second factor: a TOTP authenticator (RFC 6238 through pyotp: HMAC-SHA1,
30 s, 6 digits) and single-use recovery codes.

After the first password a staff member enrols an authenticator (the secret is made once
and shown as a QR code), confirms it with a first code and receives recovery codes once
(only their digests are kept). A code is good for one step either way of the clock, and
never twice: the last used step is stored. Passing the second factor rotates the session.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Row

from db import sessions, staff, throttle
from db.clock import aware_utc
from db.digits import ascii_digits
from db.engine import writes
from db.errors import NotFound, QueryError
from db.models import TABLES
from db.sessions import Timeouts, digest
from db.staff import StaffLogin

__all__ = [
    "SecondFactorFailed",
    "TotpEnrolment",
    "begin_totp_enrolment",
    "confirm_totp",
    "pass_second_factor",
]

_account = TABLES["staff_account"]
_session = TABLES["staff_session"]
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
ISSUER = "Shiori"

STAFF_SECOND_FACTOR = throttle.Limit(
    "staff:2fa", 5, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)


class SecondFactorFailed(QueryError):
    code = "second_factor_failed"


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, for typing into an app by hand
    uri: str  # otpauth:// for the QR code


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)


def totp_step(now: datetime) -> int:
    """The time step of a moment (RFC 6238's T)."""
    return int(aware_utc(now).timestamp()) // TOTP_STEP_SECONDS


def totp_code(secret: str, step: int) -> str:
    """The code of a time step (tests play the authenticator app with it)."""
    return _totp(secret).generate_otp(step)


def _totp_match(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step the code belongs to (one step of clock drift either way), never a used one."""
    # Spaces and hyphens as the app groups the code; any other character refuses it.
    compact = "".join(code.split()).replace("-", "")
    cleaned = ascii_digits(compact)
    if len(cleaned) != TOTP_DIGITS or len(compact) != TOTP_DIGITS:
        return None
    current = totp_step(now)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp_code(secret, step), cleaned):
            return step
    return None


def _recovery_digest(code: str) -> str:
    return digest("".join(ch for ch in code.upper() if ch.isalnum()))


_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _new_recovery_code() -> str:
    return "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))


def _session_account(conn: Connection, token: str) -> Row[Any]:
    row = conn.execute(
        select(_account)
        .select_from(_session.join(_account, _account.c.id == _session.c.staff_id))
        .where(_session.c.id == digest(token))
    ).first()
    if row is None:
        raise NotFound("log_in_again")
    return row


@writes
def begin_totp_enrolment(conn: Connection, now: datetime, token: str) -> TotpEnrolment:
    """The pending secret of an account without a confirmed authenticator (made once)."""
    row = _session_account(conn, token)
    if row.totp_confirmed:
        raise QueryError("authenticator_enrolled")
    secret = row.totp_secret
    if not secret:
        secret = pyotp.random_base32()
        conn.execute(_account.update().where(_account.c.id == row.id).values(totp_secret=secret))
    uri = _totp(secret).provisioning_uri(name=row.staff_code, issuer_name=ISSUER)
    return TotpEnrolment(secret, uri)


@writes
def _reserve(
    conn: Connection, now: datetime, token: str
) -> tuple[Row[Any], list[tuple[throttle.Limit, str]]]:
    """The session's account, with the attempt counted (SecondFactorFailed when over)."""
    row = _session_account(conn, token)
    checks = [(STAFF_SECOND_FACTOR, str(row.id))]
    try:
        throttle.reserve(conn, checks, now)
    except throttle.Throttled:
        raise SecondFactorFailed() from None
    return row, checks


def _rotate(
    conn: Connection, token: str, staff_id: int, now: datetime, timeouts: Timeouts
) -> StaffLogin:
    """A new session id once the second factor is passed; the old one is gone."""
    sessions.end(conn, sessions.STAFF, token)
    return staff.create_session(conn, staff_id, now, timeouts, second_factor=True)


def confirm_totp(token: str, code: str, timeouts: Timeouts) -> tuple[StaffLogin, tuple[str, ...]]:
    """Confirm the authenticator with a first code; returns the rotated session and the
    recovery codes (shown once: only their digests are kept)."""
    row, checks = _reserve(token)
    if row.totp_confirmed or not row.totp_secret:
        raise SecondFactorFailed()
    return _confirm(token, code, timeouts, row, checks)


@writes
def _confirm(
    conn: Connection,
    now: datetime,
    token: str,
    code: str,
    timeouts: Timeouts,
    row: Row[Any],
    checks: list[tuple[throttle.Limit, str]],
) -> tuple[StaffLogin, tuple[str, ...]]:
    step = _totp_match(row.totp_secret, code, now, row.totp_last_step)
    if step is None:
        raise SecondFactorFailed()
    codes = tuple(_new_recovery_code() for _ in range(staff.setting("recovery_codes")))
    throttle.succeeded(conn, checks)
    conn.execute(
        _account.update()
        .where(_account.c.id == row.id)
        .values(totp_confirmed=True, totp_last_step=step)
    )
    conn.execute(text("DELETE FROM staff_recovery_code WHERE staff_id = :s"), {"s": row.id})
    for recovery in codes:
        conn.execute(
            TABLES["staff_recovery_code"]
            .insert()
            .values(staff_id=row.id, code_hash=_recovery_digest(recovery))
        )
    return _rotate(conn, token, row.id, now, timeouts), codes


def pass_second_factor(token: str, code: str, timeouts: Timeouts) -> StaffLogin:
    """A TOTP code (never one used before) or an unused recovery code."""
    row, checks = _reserve(token)
    if not row.totp_confirmed or not row.totp_secret:
        raise SecondFactorFailed()
    return _pass(token, code, timeouts, row, checks)


@writes
def _pass(
    conn: Connection,
    now: datetime,
    token: str,
    code: str,
    timeouts: Timeouts,
    row: Row[Any],
    checks: list[tuple[throttle.Limit, str]],
) -> StaffLogin:
    step = _totp_match(row.totp_secret, code, now, row.totp_last_step)
    if step is not None:
        used = conn.execute(
            _account.update()
            .where(_account.c.id == row.id, _account.c.totp_last_step < step)
            .values(totp_last_step=step)
        ).rowcount
    else:
        used = conn.execute(
            text("DELETE FROM staff_recovery_code WHERE staff_id = :s AND code_hash = :h"),
            {"s": row.id, "h": _recovery_digest(code)},
        ).rowcount
    if used != 1:
        raise SecondFactorFailed()
    throttle.succeeded(conn, checks)
    return _rotate(conn, token, row.id, now, timeouts)
