"""My Booklist storage: ciphertext, wrapped keys and a version number — nothing readable.

The browser encrypts the list (AES-256-GCM) with a random data key and wraps that key with
a key derived from the patron's password (PBKDF2-SHA256), and optionally with a recovery
key. This module only stores what it is given and enforces versions (optimistic
concurrency): a save based on a stale version is refused with `VersionConflict`, and the
browser merges and retries. No function here can see a title, an author or a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, bindparam, delete, select, text, update
from sqlalchemy.engine import Connection, Row

from db import rules
from db.clock import aware_utc, naive_utc
from db.errors import NotFound, QueryError
from db.models import TABLES

_booklist = TABLES["booklist"]

MIN_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000
MAX_CIPHERTEXT_BYTES = 2 * 1024 * 1024
MAX_AVAILABILITY_IDS = 500

# What a password reset does to the list (shown on the reset page before it happens).
OUTLOOK_NONE = "none"  # no booklist: nothing to lose
OUTLOOK_RECOVERABLE = "recoverable"  # locked until the recovery key is entered
OUTLOOK_LOST = "lost"  # no recovery key: the ciphertext is deleted


class VersionConflict(QueryError):
    """The list changed on another device since this one read it."""

    def __init__(self, current_version: int) -> None:
        super().__init__(
            "ほかの端末でブックリストが更新されました。内容をまとめてから保存し直します。 / "
            "The booklist was changed on another device; merging and saving again."
        )
        self.current_version = current_version


class BooklistRefused(QueryError):
    """A key operation that would make the list unreadable, or that does not fit its state."""


class BooklistLossUnconfirmed(QueryError):
    def __init__(self) -> None:
        super().__init__(
            "パスワードを再設定すると、マイブックリストは消去されます（リカバリーキーが"
            "ないため）。了解のうえチェックを入れてください。 / Resetting the password "
            "deletes your My Booklist (there is no recovery key). Tick the box to confirm."
        )


@dataclass(frozen=True)
class PasswordWrap:
    """The data key wrapped by a password-derived key (all values base64 from the browser)."""

    key_id: str
    kdf_salt: str
    kdf_iterations: int
    wrapped_key: str


@dataclass(frozen=True)
class RecoveryWrap:
    key_id: str
    recovery_salt: str
    recovery_wrapped_key: str


@dataclass(frozen=True)
class Sealed:
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
class Availability:
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


def _row(conn: Connection, patron_id: int, lock: bool = False) -> Row[Any] | None:
    query = select(_booklist).where(_booklist.c.patron_id == patron_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def _check_sealed(sealed: Sealed) -> None:
    if len(sealed.nonce) != 12:
        raise BooklistRefused("暗号データが正しくありません。 / The encrypted data is malformed.")
    if not 16 < len(sealed.ciphertext) <= MAX_CIPHERTEXT_BYTES:
        raise BooklistRefused("ブックリストが大きすぎます。 / The booklist is too large to store.")


def _check_wrap(wrap: PasswordWrap) -> None:
    if not MIN_ITERATIONS <= wrap.kdf_iterations <= MAX_ITERATIONS:
        raise BooklistRefused(
            "鍵の設定が安全ではありません。 / The key settings are not strong enough."
        )


def get(conn: Connection, patron_id: int) -> BooklistData | None:
    row = _row(conn, patron_id)
    return _data(row) if row is not None else None


def create(
    conn: Connection, patron_id: int, wrap: PasswordWrap, sealed: Sealed, now: datetime
) -> int:
    """The first version of a patron's list; `VersionConflict` if another device was first."""
    _check_wrap(wrap)
    _check_sealed(sealed)
    existing = _row(conn, patron_id, lock=True)
    if existing is not None:
        raise VersionConflict(existing.version)
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


def save(
    conn: Connection,
    patron_id: int,
    key_id: str,
    base_version: int,
    sealed: Sealed,
    now: datetime,
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
    row = _row(conn, patron_id)
    if row is None:
        raise NotFound("ブックリストがありません。 / There is no booklist.")
    if row.key_id != key_id:
        raise BooklistRefused(
            "ブックリストの鍵が変わりました。ページを再読み込みしてください。 / "
            "The booklist key changed. Please reload the page."
        )
    raise VersionConflict(row.version)


def set_recovery(conn: Connection, patron_id: int, wrap: RecoveryWrap | None, key_id: str) -> None:
    """Add (or, with None, remove) the recovery key's wrap of the data key."""
    values = (
        {"recovery_salt": wrap.recovery_salt, "recovery_wrapped_key": wrap.recovery_wrapped_key}
        if wrap is not None
        else {"recovery_salt": None, "recovery_wrapped_key": None}
    )
    result = conn.execute(
        update(_booklist)
        .where(_booklist.c.patron_id == patron_id, _booklist.c.key_id == key_id)
        .values(**values)
    )
    if result.rowcount != 1:
        raise NotFound("ブックリストがありません。 / There is no booklist.")


def restore_password_wrap(conn: Connection, patron_id: int, wrap: PasswordWrap) -> None:
    """With the recovery key (after a reset, or a wrap made with a mistyped password): the
    browser unwrapped the data key with it and wraps it again with the password."""
    _check_wrap(wrap)
    result = conn.execute(
        update(_booklist)
        .where(
            _booklist.c.patron_id == patron_id,
            _booklist.c.key_id == wrap.key_id,
            _booklist.c.recovery_wrapped_key.is_not(None),
        )
        .values(
            kdf_salt=wrap.kdf_salt,
            kdf_iterations=wrap.kdf_iterations,
            wrapped_key=wrap.wrapped_key,
        )
    )
    if result.rowcount != 1:
        raise BooklistRefused(
            "ブックリストの状態が変わりました。ページを再読み込みしてください。 / "
            "The booklist changed. Please reload the page."
        )


def discard(conn: Connection, patron_id: int) -> bool:
    return conn.execute(delete(_booklist).where(_booklist.c.patron_id == patron_id)).rowcount == 1


def apply_password_change(conn: Connection, patron_id: int, wrap: PasswordWrap | None) -> None:
    """Inside the password change's transaction: store the re-wrapped data key.

    A readable list whose key is not re-wrapped would be lost, so that change is refused.
    """
    row = _row(conn, patron_id, lock=True)
    if row is None or row.wrapped_key is None:
        return  # nothing readable to keep (a locked list stays locked for its recovery key)
    if wrap is None or wrap.key_id != row.key_id:
        raise BooklistRefused(
            "マイブックリストの鍵を新しいパスワードで包み直せませんでした。JavaScript を有効に"
            "してもう一度お試しください（パスワードは変更されていません）。 / The My Booklist key "
            "could not be re-wrapped with the new password. Enable JavaScript and try again "
            "(your password was not changed)."
        )
    _check_wrap(wrap)
    conn.execute(
        update(_booklist)
        .where(_booklist.c.patron_id == patron_id)
        .values(
            kdf_salt=wrap.kdf_salt,
            kdf_iterations=wrap.kdf_iterations,
            wrapped_key=wrap.wrapped_key,
        )
    )


def reset_outlook(conn: Connection, patron_id: int) -> str:
    row = _row(conn, patron_id)
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
            update(_booklist)
            .where(_booklist.c.patron_id == patron_id)
            .values(kdf_salt=None, wrapped_key=None)
        )


def availability(conn: Connection, record_ids: tuple[int, ...]) -> tuple[Availability, ...]:
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
    return tuple(Availability(i, *counts.get(i, (0, 0))) for i in ids if i in known)
