"""Reading digits typed by people: the one rule for phone numbers and codes (web/forms.py
`whole_number` applies the same rule to number fields)."""

from __future__ import annotations

import unicodedata


def _ascii_digit(ch: str) -> str | None:
    # A decimal digit whose compatibility form is ASCII: "7" and the IME's full-width "７",
    # not other scripts' digits ("٣", "३") nor superscripts ("²", which is not decimal).
    folded = unicodedata.normalize("NFKC", ch)
    return folded if ch.isdecimal() and folded.isascii() else None


def ascii_digits(text: str) -> str:
    """The digits of `text` (full-width ones too) as ASCII; every other character dropped."""
    return "".join(d for d in map(_ascii_digit, text) if d is not None)
