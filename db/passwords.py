"""Patron password hashing (argon2id) and the password policy."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import replace
from datetime import date
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from db import rules
from db.errors import QueryError

HASHING_PROFILES = {
    # RFC 9106's low-memory profile (argon2id, 64 MiB, t=3): argon2-cffi's default.
    "standard": profiles.RFC_9106_LOW_MEMORY,
    # The least work argon2 allows, for test suites only: settings refuse it in production.
    "test": replace(profiles.CHEAPEST, salt_len=16, hash_len=32),
}
_profile = "standard"
_hasher = PasswordHasher.from_parameters(HASHING_PROFILES[_profile])
# At most this many argon2 computations at once in the process, whichever thread asks: each
# takes 64 MiB and up to 4 cores (the profile's 4 lanes), so a login storm queues here
# instead of taking the machine.
DEFAULT_CONCURRENCY = 1
_slots = threading.BoundedSemaphore(DEFAULT_CONCURRENCY)


def configure_password_hashing(profile: str, concurrency: int = DEFAULT_CONCURRENCY) -> None:
    """Hash new passwords with one of HASHING_PROFILES (process-wide), running at most
    `concurrency` argon2 computations at once.

    Hashes made under another profile still verify (argon2 keeps its parameters in the
    hash) and are rehashed with this profile on the next successful login."""
    global _profile, _hasher, _slots
    _hasher = PasswordHasher.from_parameters(HASHING_PROFILES[profile])
    _profile = profile
    _slots = threading.BoundedSemaphore(concurrency)


@lru_cache
def _dummy_hash(profile: str) -> str:
    # Verifying against this when the card is unknown costs the same time as a real check.
    # Made on first use, so that starting a process costs no argon2 work.
    return PasswordHasher.from_parameters(HASHING_PROFILES[profile]).hash("shiori-equaliser")


class PasswordRejected(QueryError):
    """The new password breaks the policy; the code says which rule."""


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one argon2 verification."""
    with _slots:
        try:
            return (
                _hasher.verify(stored_hash or _dummy_hash(_profile), password)
                and stored_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = resources.files("db").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


def _birth_date_forms(birth: date) -> set[str]:
    y, m, d = f"{birth.year:04d}", f"{birth.month:02d}", f"{birth.day:02d}"
    return {y + m + d, d + m + y, m + d + y, y[2:] + m + d, f"{y}-{m}-{d}", f"{y}/{m}/{d}"}


def check_policy(password: str, card_number: str, birth_date: date) -> None:
    """NIST-style rules: length only, no composition rules, refuse the guessable."""
    check_general(password)
    check_personal(password, card_number, birth_date)


def check_general(password: str) -> None:
    """The rules that need no patron's data: safe to answer before the patron is known."""
    length = len(unicodedata.normalize("NFC", password))
    if length < rules.PASSWORD_MIN_CHARS:
        raise PasswordRejected("password_too_short", min=rules.PASSWORD_MIN_CHARS)
    if length > rules.PASSWORD_MAX_CHARS:
        raise PasswordRejected("password_too_long", max=rules.PASSWORD_MAX_CHARS)
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded in _common_passwords():
        raise PasswordRejected("password_too_common")


def check_personal(password: str, card_number: str, birth_date: date) -> None:
    """The rules that read the patron's card and birth date: answer them only to someone
    who has proven to be the patron, or the refusal confirms the data."""
    folded = unicodedata.normalize("NFKC", password).casefold()
    digits = "".join(ch for ch in folded if ch.isdigit())
    if card_number and (card_number in folded or folded in card_number):
        raise PasswordRejected("password_has_card_number")
    if folded in _birth_date_forms(birth_date) or (
        digits in _birth_date_forms(birth_date) and (len(digits) >= len(folded) - 2)
    ):
        raise PasswordRejected("password_is_birth_date")
