"""My Booklist at the query layer: ciphertext in, ciphertext out, versions enforced, and the
password paths keep (change), lock (reset with a recovery key) or delete (reset without)."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import text

from db import engine, queries
from tests.conftest import Database

HANAKO = ("2100000001", "hon-wo-yomu-2026")


def _b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def _wrap(key_id: str = "a" * 32, iterations: int = 600_000) -> queries.BooklistPasswordWrap:
    return queries.BooklistPasswordWrap(key_id, _b64(16), iterations, _b64(40))


def _sealed(size: int = 4096 + 16) -> queries.BooklistSealed:
    return queries.BooklistSealed(os.urandom(12), os.urandom(size))


def _patron_id(card: str = HANAKO[0]) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def _reset_token(patron_id: int) -> str:
    """The token a reset link carries, as the patron would get it by email."""
    email = queries.get_my_account(patron_id).email
    assert email
    sent: list[str] = []
    card = queries.get_my_account(patron_id).card_number
    queries.request_password_reset(card, email, "1.2.3.4", lambda t: sent.append(t) or t)
    assert sent
    return sent[-1]


def test_create_save_and_version_conflict(library_db: Database) -> None:
    pid = _patron_id()
    assert queries.get_booklist(pid) is None
    assert queries.create_booklist(pid, _wrap(), _sealed()) == 1
    with pytest.raises(queries.BooklistVersionConflict) as twice:
        queries.create_booklist(pid, _wrap("b" * 32), _sealed())
    assert twice.value.current_version == 1
    second = _sealed()
    assert queries.save_booklist(pid, "a" * 32, 1, second) == 2
    with pytest.raises(queries.BooklistVersionConflict) as stale:
        queries.save_booklist(pid, "a" * 32, 1, _sealed())
    assert stale.value.current_version == 2
    stored = queries.get_booklist(pid)
    assert stored is not None
    assert (stored.version, stored.nonce, stored.ciphertext) == (2, second.nonce, second.ciphertext)
    assert stored.size == len(second.ciphertext)


def test_save_with_another_key_or_patron_is_refused(library_db: Database) -> None:
    pid = _patron_id()
    other = _patron_id("2100000002")
    queries.create_booklist(pid, _wrap(), _sealed())
    with pytest.raises(queries.BooklistRefused):
        queries.save_booklist(pid, "c" * 32, 1, _sealed())
    with pytest.raises(queries.NotFound):
        queries.save_booklist(other, "a" * 32, 1, _sealed())
    assert queries.get_booklist(other) is None


def test_weak_kdf_and_bad_shapes_are_refused(library_db: Database) -> None:
    pid = _patron_id()
    with pytest.raises(queries.BooklistRefused):
        queries.create_booklist(pid, _wrap(iterations=100_000), _sealed())
    with pytest.raises(queries.BooklistRefused):
        queries.create_booklist(pid, _wrap(), queries.BooklistSealed(os.urandom(8), os.urandom(64)))
    assert queries.get_booklist(pid) is None


def test_password_change_needs_the_rewrapped_key(library_db: Database) -> None:
    pid = _patron_id()
    queries.create_booklist(pid, _wrap(), _sealed())
    with pytest.raises(queries.BooklistRefused):
        queries.change_password_with_booklist(pid, HANAKO[1], "new-pass-word-42", False, "t", None)
    # Nothing changed: the old password still works and the old wrap is kept.
    before = queries.get_booklist(pid)
    new_wrap = _wrap()
    queries.change_password_with_booklist(pid, HANAKO[1], "new-pass-word-42", False, "t", new_wrap)
    after = queries.get_booklist(pid)
    assert before is not None and after is not None
    assert after.wrapped_key == new_wrap.wrapped_key != before.wrapped_key
    assert after.ciphertext == before.ciphertext  # the list itself is untouched


def test_reset_without_recovery_needs_confirmation_then_deletes(library_db: Database) -> None:
    pid = _patron_id()
    queries.create_booklist(pid, _wrap(), _sealed())
    assert queries.get_booklist_reset_outlook(pid) == "lost"
    token = _reset_token(pid)
    with pytest.raises(queries.BooklistLossUnconfirmed):
        queries.reset_password_with_booklist(token, "fresh-pass-word-9", False)
    assert queries.get_booklist(pid) is not None
    queries.reset_password_with_booklist(token, "fresh-pass-word-9", True)
    assert queries.get_booklist(pid) is None


def test_reset_with_recovery_locks_until_restored(library_db: Database) -> None:
    pid = _patron_id()
    queries.create_booklist(pid, _wrap(), _sealed())
    queries.set_booklist_recovery(
        pid, "a" * 32, queries.BooklistRecoveryWrap("a" * 32, _b64(16), _b64(40))
    )
    assert queries.get_booklist_reset_outlook(pid) == "recoverable"
    queries.reset_password_with_booklist(_reset_token(pid), "fresh-pass-word-9", False)
    locked = queries.get_booklist(pid)
    assert locked is not None and locked.locked and locked.recovery_wrapped_key
    restored = _wrap()
    queries.restore_booklist_key(pid, restored)
    after = queries.get_booklist(pid)
    assert after is not None and not after.locked
    assert after.wrapped_key == restored.wrapped_key


def test_counter_code_reset_deletes_an_unrecoverable_list(library_db: Database) -> None:
    pid = _patron_id()
    queries.create_booklist(pid, _wrap(), _sealed())
    code = queries.issue_activation_code(HANAKO[0])
    queries.set_password_with_code(HANAKO[0], code, "fresh-pass-word-9", "1.2.3.4")
    assert queries.get_booklist(pid) is None


def test_availability_is_per_record_and_ignores_unknown(library_db: Database) -> None:
    with engine.read() as conn:
        work = int(conn.execute(text("SELECT work_id FROM item LIMIT 1")).scalar_one())
    rows = queries.list_record_availability((work, 999_999_999, work))
    assert [r.record_id for r in rows] == [work]
    assert rows[0].copies >= 1 and 0 <= rows[0].available <= rows[0].copies
    assert queries.list_record_availability(()) == ()


def test_deleting_a_patron_deletes_the_list(library_db: Database) -> None:
    pid = _patron_id("2100000004")
    queries.create_booklist(pid, _wrap(), _sealed())
    assert queries.discard_booklist(pid) is True
    assert queries.get_booklist(pid) is None
    assert queries.discard_booklist(pid) is False
