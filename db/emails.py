"""The one email address check: staff edits, registration, patron forms and the outbox.

An address is a plain ASCII addr-spec (name@host.example): dot-atom local part of at most
64 characters, a dotted host name, 254 characters in all. No quoted local parts, comments,
display names, IP literals, spaces or controls, so nothing can smuggle a mail header or a
second recipient; no non-ASCII or full-width characters, which the mail sender cannot
deliver without SMTPUTF8 and which would make two spellings of one address.
"""

from __future__ import annotations

import re

from db.errors import QueryError

EMAIL_MAX_CHARS = 254  # RFC 5321 path limit less the angle brackets
LOCAL_MAX_CHARS = 64

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(
    rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})+)", re.ASCII
)


def is_email(address: str) -> bool:
    """Whether `address` is exactly a plain addr-spec (no surrounding spaces either)."""
    if len(address) > EMAIL_MAX_CHARS:
        return False
    found = _ADDR_SPEC.fullmatch(address)
    return found is not None and len(found.group("local")) <= LOCAL_MAX_CHARS


def check_email(address: str) -> str:
    """The address itself if `is_email`; else QueryError("bad_email")."""
    if not is_email(address):
        raise QueryError("bad_email")
    return address
