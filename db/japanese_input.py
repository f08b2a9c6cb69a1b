"""Reading what people type in Japanese forms: the one normaliser for names, furigana, phone
numbers and postal codes (the web form, staff corrections and walk-in registration share it).

Each reader takes the text as typed and returns the stored form, or None when the text
cannot be one (the caller shows a message next to the field):
- `katakana`: furigana in hiragana, katakana or half-width katakana (ｶﾀｶﾅ) → full-width
  katakana, with every run of spaces (full-width too) one ASCII space: "やまだ　たろう" and
  "ﾔﾏﾀﾞ ﾀﾛｳ" → "ヤマダ タロウ". Kanji, Latin letters and digits are not furigana.
- `phone`: digits (full-width too) with hyphens of any width, spaces and brackets; ten or
  eleven digits beginning with 0 (a +81 prefix becomes 0) → the digits. `phone_text` is
  what is kept "as typed": NFKC, trimmed, so ０４６６－２２－１２３４ reads 0466-22-1234.
- `postal_code`: 〒 and hyphens allowed, seven digits → "2510052"; `format_postal_code`
  writes it back as 251-0052.
- `name` / `address`: trimmed, inner runs of spaces one space; no NFKC (a name's
  compatibility kanji such as 﨑 must survive as written).
Dates are read by the web tier (web.forms.calendar_date: 西暦 and 和暦).
"""

from __future__ import annotations

import re
import unicodedata

from db.digits import ascii_digits

_SPACES = re.compile(r"\s+")
_HIRAGANA_START, _HIRAGANA_END = 0x3041, 0x3096
# Full-width katakana (ァ … ヺ), the middle dot, the long vowel mark and iteration marks.
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe ]+")
# Hyphens and dashes people (and IMEs) type in phone numbers and postal codes, after NFKC.
_DASHES = re.escape("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70")
_PHONE = re.compile(rf"\+?[0-9{_DASHES}() ]+")
_POSTAL = re.compile(rf"〒?\s*[0-9]{{3}}\s*[{_DASHES}]?\s*[0-9]{{4}}")


def _spaced(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def name(text: str) -> str:
    """A name as written, spaces tidied (no NFKC: see the module docstring)."""
    return _spaced(text)


def address(text: str) -> str:
    """An address as written, spaces tidied."""
    return _spaced(text)


def katakana(text: str) -> str | None:
    """Furigana as full-width katakana (see the module docstring); None if not kana."""
    folded = _spaced(unicodedata.normalize("NFKC", text))
    converted = "".join(
        chr(ord(ch) + 0x60) if _HIRAGANA_START <= ord(ch) <= _HIRAGANA_END else ch
        for ch in folded.replace("ゝ", "ヽ").replace("ゞ", "ヾ")
    )
    return converted if _KATAKANA.fullmatch(converted) else None


def phone_text(text: str) -> str:
    """The phone number as typed, in NFKC (full-width digits and hyphens made ASCII)."""
    return _spaced(unicodedata.normalize("NFKC", text))


def phone(text: str) -> str | None:
    """The digits of a Japanese phone number (see the module docstring), or None."""
    typed = phone_text(text)
    if not typed or _PHONE.fullmatch(typed) is None or typed.count("+") > 1:
        return None
    digits = ascii_digits(typed)
    if typed.startswith("+"):
        if not digits.startswith("81"):
            return None
        digits = "0" + digits[2:]
    return digits if digits.startswith("0") and 10 <= len(digits) <= 11 else None


def postal_code(text: str) -> str | None:
    """Seven digits of a postal code typed as 251-0052, 〒２５１－００５２ or 2510052."""
    typed = unicodedata.normalize("NFKC", text).strip()
    return ascii_digits(typed) if _POSTAL.fullmatch(typed) else None


def format_postal_code(code: str) -> str:
    """2510052 → 251-0052."""
    return f"{code[:3]}-{code[3:]}" if len(code) == 7 else code
