"""Reading digits typed by people: the one rule for phone numbers and codes (web/forms.py
`whole_number` applies the same rule to number fields), and the hyphens typed between them."""

from __future__ import annotations

import re
import unicodedata

# Hyphens and dashes people (and IMEs) type between digits, as they are after NFKC (the
# IME's full-width "－" is then "-", its half-width "ｰ" is "ー"): - ‐ ‑ ‒ – — ― − ー.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
_DASH = re.compile(f"[{re.escape(DASHES)}]")


def _ascii_digit(ch: str) -> str | None:
    # A decimal digit whose compatibility form is ASCII: "7" and the IME's full-width "７",
    # not other scripts' digits ("٣", "३") nor superscripts ("²", which is not decimal).
    folded = unicodedata.normalize("NFKC", ch)
    return folded if ch.isdecimal() and folded.isascii() else None


def ascii_digits(text: str) -> str:
    """The digits of `text` (full-width ones too) as ASCII; every other character dropped."""
    return "".join(d for d in map(_ascii_digit, text) if d is not None)


def ascii_hyphens(text: str) -> str:
    """`text` with every hyphen and dash of DASHES as "-" (NFKC it first: "－" is not one)."""
    return _DASH.sub("-", text)
