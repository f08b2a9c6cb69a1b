"""My Booklist's data key and the patron's password: what a password change or reset
does to the list. Shared by the booklist and patron accounts (db.queries.booklist,
db.queries.accounts); every function takes a `Connection` inside the caller's transaction.

The browser wraps the list's random data key with a key derived from the patron's password
(PBKDF2-SHA256), and optionally with a recovery key; the server stores wraps it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Row

from db.errors import QueryError
from db.models import TABLES

booklist_table = TABLES["booklist"]

BOOKLIST_MIN_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000

# What a password reset does to the list (shown on the reset page before it happens).
OUTLOOK_NONE = "none"  # no booklist: nothing to lose
OUTLOOK_RECOVERABLE = "recoverable"  # locked until the recovery key is entered
OUTLOOK_LOST = "lost"  # no recovery key: the ciphertext is deleted


class BooklistRefused(QueryError):
    """A key operation that would make the list unreadable, or that does not fit its state."""


class BooklistLossUnconfirmed(QueryError):
    code = "booklist_loss_unconfirmed"


@dataclass(frozen=True)
class BooklistPasswordWrap:
    """The data key wrapped by a password-derived key (all values base64 from the browser)."""

    key_id: str
    kdf_salt: str
    kdf_iterations: int
    wrapped_key: str


def booklist_row(conn: Connection, patron_id: int, lock: bool = False) -> Row[Any] | None:
    query = select(booklist_table).where(booklist_table.c.patron_id == patron_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def check_wrap(wrap: BooklistPasswordWrap) -> None:
    if not BOOKLIST_MIN_ITERATIONS <= wrap.kdf_iterations <= MAX_ITERATIONS:
        raise BooklistRefused("booklist_weak_key")


def discard(conn: Connection, patron_id: int) -> bool:
    return (
        conn.execute(delete(booklist_table).where(booklist_table.c.patron_id == patron_id)).rowcount
        == 1
    )


def apply_password_change(
    conn: Connection, patron_id: int, wrap: BooklistPasswordWrap | None
) -> None:
    """Inside the password change's transaction: store the re-wrapped data key.

    A readable list whose key is not re-wrapped would be lost, so that change is refused.
    """
    row = booklist_row(conn, patron_id, lock=True)
    if row is None or row.wrapped_key is None:
        return  # nothing readable to keep (a locked list stays locked for its recovery key)
    if wrap is None or wrap.key_id != row.key_id:
        raise BooklistRefused("booklist_not_rewrapped")
    check_wrap(wrap)
    conn.execute(
        update(booklist_table)
        .where(booklist_table.c.patron_id == patron_id)
        .values(
            kdf_salt=wrap.kdf_salt,
            kdf_iterations=wrap.kdf_iterations,
            wrapped_key=wrap.wrapped_key,
        )
    )


def reset_outlook(conn: Connection, patron_id: int) -> str:
    row = booklist_row(conn, patron_id)
    if row is None:
        return OUTLOOK_NONE
    return OUTLOOK_RECOVERABLE if row.recovery_wrapped_key else OUTLOOK_LOST


def apply_password_reset(conn: Connection, patron_id: int, loss_confirmed: bool) -> None:
    """Inside a reset's transaction: the old password's wrap is useless now.

    With a recovery key the list is locked until the patron enters it; without one the
    ciphertext can never be read again and is deleted (nothing unreadable is kept).
    """
    outlook = reset_outlook(conn, patron_id)
    if outlook == OUTLOOK_LOST:
        if not loss_confirmed:
            raise BooklistLossUnconfirmed()
        discard(conn, patron_id)
    elif outlook == OUTLOOK_RECOVERABLE:
        conn.execute(
            update(booklist_table)
            .where(booklist_table.c.patron_id == patron_id)
            .values(kdf_salt=None, wrapped_key=None)
        )
