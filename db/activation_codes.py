"""Single-use activation codes (登録コード): what the counter hands a patron so they can set
a web password at home (db.queries.accounts.set_password_with_code uses one up).

Only the code's SHA-256 is stored; a new code replaces the patron's earlier one. Shared by
the command line (`shiori patron code CARD`), the staff patron page and the registration
confirmation (db.queries.staff_registrations).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import japanese_input, rules
from db.clock import naive_utc

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def digest(code: str) -> str:
    """The stored form: width, case, spaces and hyphens as typed do not matter (the code read
    as japanese_input reads codes, so ４Ｐ６２ーＹＮ６Ｗ is 4P62-YN6W; an ASCII code's letters
    and digits are what they always were)."""
    cleaned = "".join(ch for ch in japanese_input.typed_code(code).upper() if ch.isalnum())
    return hashlib.sha256(cleaned.encode()).hexdigest()


def new_code() -> str:
    """Three groups of four (e.g. K7QM-2RTD-HW9C), no look-alike characters (about 60 bits)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def store(conn: Connection, patron_id: int, code_hash: str, now: datetime) -> datetime:
    """Replace the patron's code with this one; returns when it expires (naive UTC)."""
    expires = naive_utc(now) + timedelta(hours=rules.ACTIVATION_CODE_HOURS)
    conn.execute(text("DELETE FROM activation_code WHERE patron_id = :p"), {"p": patron_id})
    conn.execute(
        text(
            "INSERT INTO activation_code (patron_id, code_hash, created_at, expires_at) "
            "VALUES (:p, :h, :now, :exp)"
        ),
        {"p": patron_id, "h": code_hash, "now": naive_utc(now), "exp": expires},
    )
    return expires


def issue(conn: Connection, patron_id: int, now: datetime) -> tuple[str, datetime]:
    """A fresh code for the patron, in the caller's transaction: (code, expires naive UTC)."""
    code = new_code()
    return code, store(conn, patron_id, digest(code), now)
