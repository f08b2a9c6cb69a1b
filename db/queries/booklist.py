"""My Booklist storage: ciphertext, wrapped keys and a version number — nothing readable.

The browser encrypts the list (AES-256-GCM) with a random data key and wraps that key with
a key derived from the patron's password (PBKDF2-SHA256), and optionally with a recovery
key. The server only stores what it is given and enforces versions (optimistic
concurrency): a save based on a stale version is refused with `BooklistVersionConflict`, and the
browser merges and retries. No function here can see a title, an author or a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, bindparam, text, update
from sqlalchemy.engine import Connection, Row

from db import booklist_keys, rules
from db.booklist_keys import (
    BOOKLIST_MIN_ITERATIONS,
    BooklistLossUnconfirmed,
    BooklistPasswordWrap,
    BooklistRefused,
    booklist_row,
    booklist_table,
    check_wrap,
)
from db.clock import aware_utc, naive_utc
from db.engine import reads, writes
from db.errors import NotFound, QueryError

__all__ = [
    "BOOKLIST_MIN_ITERATIONS",
    "BooklistData",
    "BooklistLossUnconfirmed",
    "BooklistPasswordWrap",
    "BooklistRecoveryWrap",
    "BooklistRefused",
    "BooklistSealed",
    "BooklistVersionConflict",
    "RecordAvailability",
    "create_booklist",
    "discard_booklist",
    "get_booklist",
    "get_booklist_reset_outlook",
    "list_record_availability",
    "restore_booklist_key",
    "save_booklist",
    "set_booklist_recovery",
]

MAX_CIPHERTEXT_BYTES = 2 * 1024 * 1024
MAX_AVAILABILITY_IDS = 500


class BooklistVersionConflict(QueryError):
    """The list changed on another device since this one read it."""

    def __init__(self, current_version: int) -> None:
        super().__init__("booklist_conflict")
        self.current_version = current_version


@dataclass(frozen=True)
class BooklistRecoveryWrap:
    key_id: str
    recovery_salt: str
    recovery_wrapped_key: str


@dataclass(frozen=True)
class BooklistSealed:
    """One encrypted copy of the list (AES-GCM nonce and ciphertext with tag)."""

    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class BooklistData:
    patron_id: int
    key_id: str
    kdf_salt: str | None  # None: locked after a password reset (needs the recovery key)
    kdf_iterations: int
    wrapped_key: str | None
    recovery_salt: str | None
    recovery_wrapped_key: str | None
    version: int
    nonce: bytes
    ciphertext: bytes
    size: int
    created_at: datetime
    updated_at: datetime

    @property
    def locked(self) -> bool:
        return self.wrapped_key is None


@dataclass(frozen=True)
class RecordAvailability:
    record_id: int
    copies: int
    available: int


def _data(row: Row[Any]) -> BooklistData:
    return BooklistData(
        patron_id=row.patron_id,
        key_id=row.key_id,
        kdf_salt=row.kdf_salt,
        kdf_iterations=row.kdf_iterations,
        wrapped_key=row.wrapped_key,
        recovery_salt=row.recovery_salt,
        recovery_wrapped_key=row.recovery_wrapped_key,
        version=row.version,
        nonce=bytes(row.nonce),
        ciphertext=bytes(row.ciphertext),
        size=row.size,
        created_at=aware_utc(row.created_at),
        updated_at=aware_utc(row.updated_at),
    )


def _check_sealed(sealed: BooklistSealed) -> None:
    if len(sealed.nonce) != 12:
        raise BooklistRefused("booklist_malformed")
    if not 16 < len(sealed.ciphertext) <= MAX_CIPHERTEXT_BYTES:
        raise BooklistRefused("booklist_too_large")


@reads
def get_booklist(conn: Connection, now: datetime, patron_id: int) -> BooklistData | None:
    row = booklist_row(conn, patron_id)
    return _data(row) if row is not None else None


@writes
def create_booklist(
    conn: Connection,
    now: datetime,
    patron_id: int,
    wrap: BooklistPasswordWrap,
    sealed: BooklistSealed,
) -> int:
    """The first version of a patron's list; `BooklistVersionConflict` if another device
    was first."""
    check_wrap(wrap)
    _check_sealed(sealed)
    existing = booklist_row(conn, patron_id, lock=True)
    if existing is not None:
        raise BooklistVersionConflict(existing.version)
    moment = naive_utc(now)
    conn.execute(
        text(
            "INSERT INTO booklist (patron_id, key_id, kdf_salt, kdf_iterations, wrapped_key, "
            "version, nonce, ciphertext, size, created_at, updated_at) VALUES (:p, :k, :salt, "
            ":it, :w, 1, :nonce, :ct, :size, :now, :now)"
        ).bindparams(bindparam("nonce", type_=LargeBinary), bindparam("ct", type_=LargeBinary)),
        {
            "p": patron_id,
            "k": wrap.key_id,
            "salt": wrap.kdf_salt,
            "it": wrap.kdf_iterations,
            "w": wrap.wrapped_key,
            "nonce": sealed.nonce,
            "ct": sealed.ciphertext,
            "size": len(sealed.ciphertext),
            "now": moment,
        },
    )
    return 1


@writes
def save_booklist(
    conn: Connection,
    now: datetime,
    patron_id: int,
    key_id: str,
    base_version: int,
    sealed: BooklistSealed,
) -> int:
    """Store a new version if `base_version` is still current; returns the new version."""
    _check_sealed(sealed)
    result = conn.execute(
        text(
            "UPDATE booklist SET version = :next, nonce = :nonce, ciphertext = :ct, "
            "size = :size, updated_at = :now "
            "WHERE patron_id = :p AND version = :base AND key_id = :k"
        ).bindparams(bindparam("nonce", type_=LargeBinary), bindparam("ct", type_=LargeBinary)),
        {
            "next": base_version + 1,
            "nonce": sealed.nonce,
            "ct": sealed.ciphertext,
            "size": len(sealed.ciphertext),
            "now": naive_utc(now),
            "p": patron_id,
            "base": base_version,
            "k": key_id,
        },
    )
    if result.rowcount == 1:
        return base_version + 1
    row = booklist_row(conn, patron_id)
    if row is None:
        raise NotFound("booklist_not_found")
    if row.key_id != key_id:
        raise BooklistRefused("booklist_key_changed")
    raise BooklistVersionConflict(row.version)


@writes
def set_booklist_recovery(
    conn: Connection, now: datetime, patron_id: int, key_id: str, wrap: BooklistRecoveryWrap | None
) -> None:
    """Add (or, with None, remove) the recovery key's wrap of the data key."""
    values = (
        {"recovery_salt": wrap.recovery_salt, "recovery_wrapped_key": wrap.recovery_wrapped_key}
        if wrap is not None
        else {"recovery_salt": None, "recovery_wrapped_key": None}
    )
    result = conn.execute(
        update(booklist_table)
        .where(booklist_table.c.patron_id == patron_id, booklist_table.c.key_id == key_id)
        .values(**values)
    )
    if result.rowcount != 1:
        raise NotFound("booklist_not_found")


@writes
def restore_booklist_key(
    conn: Connection, now: datetime, patron_id: int, wrap: BooklistPasswordWrap
) -> None:
    """With the recovery key (after a reset, or a wrap made with a mistyped password): the
    browser unwrapped the data key with it and wraps it again with the password."""
    check_wrap(wrap)
    result = conn.execute(
        update(booklist_table)
        .where(
            booklist_table.c.patron_id == patron_id,
            booklist_table.c.key_id == wrap.key_id,
            booklist_table.c.recovery_wrapped_key.is_not(None),
        )
        .values(
            kdf_salt=wrap.kdf_salt,
            kdf_iterations=wrap.kdf_iterations,
            wrapped_key=wrap.wrapped_key,
        )
    )
    if result.rowcount != 1:
        raise BooklistRefused("booklist_changed")


@writes
def discard_booklist(conn: Connection, now: datetime, patron_id: int) -> bool:
    return booklist_keys.discard(conn, patron_id)


@reads
def get_booklist_reset_outlook(conn: Connection, now: datetime, patron_id: int) -> str:
    """ "none", "recoverable" or "lost": what a password reset would do to the list."""
    return booklist_keys.reset_outlook(conn, patron_id)


@reads
def list_record_availability(
    conn: Connection, now: datetime, record_ids: tuple[int, ...]
) -> tuple[RecordAvailability, ...]:
    """Copies and copies on the shelf per record (public catalog data)."""
    ids = sorted(set(record_ids))[:MAX_AVAILABILITY_IDS]
    if not ids:
        return ()
    known = {
        r.id
        for r in conn.execute(
            text("SELECT id FROM work WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )
    }
    counts = {
        r.work_id: (int(r.copies), int(r.available or 0))
        for r in conn.execute(
            text(
                "SELECT work_id, count(*) AS copies, "
                "sum(CASE WHEN status = :available THEN 1 ELSE 0 END) AS available "
                "FROM item WHERE work_id IN :ids GROUP BY work_id"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": ids, "available": rules.AVAILABLE},
        )
    }
    return tuple(RecordAvailability(i, *counts.get(i, (0, 0))) for i in ids if i in known)
