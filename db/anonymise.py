"""The check a case's text passes before it may go to approval: nothing that identifies the
questioner. It is a safety net, not the judgement — the author rewrites the question and a
second staff member reads it before it is public — so it looks only for what a machine finds
reliably:

* an email address;
* a Japanese phone number (10 or 11 digits beginning with 0, hyphens, spaces or brackets
  between them, full-width digits too);
* a long number (8 digits or more, not a valid ISBN): card numbers and the like; and the
  questioner's own card number wherever it appears;
* the questioner's name or its reading, whole or any part of two characters or more, in the
  catalogue's normal form (db.search: kana, width and old/new kanji folded, spaces ignored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from db.digits import ascii_digits
from db.search import isbn13_of, normalise

EMAIL, PHONE, CARD_NUMBER, PATRON_NAME = "email", "phone", "card_number", "patron_name"
FINDINGS = (EMAIL, PHONE, CARD_NUMBER, PATRON_NAME)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER_RUN = re.compile(r"[0-9](?:[0-9()\- ]*[0-9])?")
_LONG_NUMBER = 8
_NAME_PART_MIN = 2


def _numbers(text: str) -> Iterable[str]:
    folded = unicodedata.normalize("NFKC", text).replace("‐", "-").replace("ー", "-")
    yield from _NUMBER_RUN.findall(folded)


def findings(
    texts: Iterable[str], names: Iterable[str] = (), card_number: str = ""
) -> tuple[str, ...]:
    """What in `texts` may identify the questioner (codes of FINDINGS, in that order)."""
    found: set[str] = set()
    texts = list(texts)
    folded_texts = [unicodedata.normalize("NFKC", t) for t in texts]
    normal = "\n".join(normalise(line) for t in texts for line in t.splitlines())
    card = ascii_digits(card_number)
    for text in folded_texts:
        if _EMAIL.search(text):
            found.add(EMAIL)
        for run in _numbers(text):
            digits = ascii_digits(run)
            if card and card in digits:
                found.add(CARD_NUMBER)
            if digits.startswith("0") and len(digits) in (10, 11):
                found.add(PHONE)
            elif len(digits) >= _LONG_NUMBER and isbn13_of(run) is None:
                found.add(CARD_NUMBER)
    for name in names:
        parts = [normalise(p) for p in re.split(r"\s+", unicodedata.normalize("NFKC", name))]
        whole = normalise(name)
        candidates = [whole, *(p for p in parts if len(p) >= _NAME_PART_MIN)]
        if any(c and c in normal for c in candidates):
            found.add(PATRON_NAME)
    return tuple(code for code in FINDINGS if code in found)
