"""Reading what people type in Japanese forms: the ONE normaliser for names, furigana, card
numbers, barcodes, codes, phone numbers, postal codes, email addresses and dates. Every form,
patron and staff (via web.forms), walk-in registration, staff corrections and the importers
share it.

Each reader takes the text as typed and returns the stored form, or None when the text
cannot be one (the caller shows a message next to the field, an importer reports the row):
- `card_number`: a library card number as stored and looked up: full-width digits (an IME
  left on), spaces of any width and hyphens of every width (2100-000-002, ２１００ー０００ー００２)
  dropped → "2100000002"; None when nothing but digits and letters is left over, or more
  than 20. Whether a number follows the library's numbering rule (prefix, length, Luhn
  check digit) is `card_numbers.is_valid`; `ruled_card_number` reads and checks at once.
  Cards given before that rule (imported, the demo cards) are still valid cards, so a
  lookup never requires the check digit.
- `barcode`: an item barcode as stored: NFKC (full-width → ASCII), no spaces, every hyphen
  as "-" (a migrated library's barcodes may carry them); None when empty or over 32.
- `typed_code`: a code people type, a staff ID or a counter's activation code: NFKC
  (Ｓ００２ → S002), no spaces of any width, every hyphen as "-"; whether it is a valid one
  is its owner's rule.
- `katakana`: furigana in hiragana, katakana or half-width katakana (ｶﾀｶﾅ) → full-width
  katakana, with every run of spaces (full-width too) one ASCII space: "やまだ　たろう" and
  "ﾔﾏﾀﾞ ﾀﾛｳ" → "ヤマダ タロウ". Kanji, Latin letters and digits are not furigana.
  `kana_folded` is the looser fold a name search uses (やまだ finds ヤマダ, kanji kept).
- `phone`: digits (full-width too) with hyphens of any width, spaces and brackets; ten or
  eleven digits beginning with 0 (a +81 prefix becomes 0) → the digits. `phone_text` is
  what is kept "as typed" and shown: NFKC, trimmed, every hyphen as "-", so
  ０４６６－２２－１２３４ and 0466ー22ー1234 read 0466-22-1234. Comparisons use the digits
  (stored beside it).
- `postal_code`: 〒 and hyphens allowed, seven digits → "2510052"; `format_postal_code`
  writes it back as 251-0052.
- `email`: an address as typed, NFKC (a full-width ＠ or letters typed with the IME on:
  hanako＠example.jp → hanako@example.jp) and trimmed; whether it is one is
  `emails.is_email`.
- `name` / `address`: trimmed, inner runs of spaces one space; no NFKC (a name's
  compatibility kanji such as 﨑 must survive as written).
- `calendar_date`: a date in 西暦 or 和暦 (2026-12-28, 2026年12月28日, 20261228, 令和8年12月28日,
  R8.12.28, 令和元年5月1日), full-width digits and any hyphen too; None for a date that does
  not exist or an era date outside its era. `year_month` reads a month the same way,
  `calendar_date_of_parts` a date typed in three boxes (年: 2014, 平成26 or H26; 月; 日), and
  `year` a year alone: 1990, １９９０年, 平成2, H2, 平成元年 (not a year outside its era, such
  as 平成32).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from db import card_numbers
from db.digits import DASHES, ascii_digits, ascii_hyphens

__all__ = [
    "DASHES",
    "address",
    "barcode",
    "calendar_date",
    "calendar_date_of_parts",
    "card_number",
    "email",
    "format_postal_code",
    "kana_folded",
    "katakana",
    "name",
    "phone",
    "phone_text",
    "postal_code",
    "ruled_card_number",
    "typed_code",
    "year",
    "year_month",
]

CARD_NUMBER_MAX = 20
BARCODE_MAX = 32

_SPACES = re.compile(r"\s+")
_HIRAGANA_START, _HIRAGANA_END = 0x3041, 0x3096
# Full-width katakana (ァ … ヺ), the middle dot, the long vowel mark and iteration marks.
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe ]+")
_DASHES = re.escape(DASHES)
_PHONE = re.compile(rf"\+?[0-9{_DASHES}() ]+")
_POSTAL = re.compile(rf"〒?\s*[0-9]{{3}}\s*[{_DASHES}]?\s*[0-9]{{4}}")
_CODE = re.compile(r"[0-9A-Za-z]+")
_BARCODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]*")


def _spaced(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def name(text: str) -> str:
    """A name as written, spaces tidied (no NFKC: see the module docstring)."""
    return _spaced(text)


def address(text: str) -> str:
    """An address as written, spaces tidied."""
    return _spaced(text)


def _hiragana_to_katakana(text: str) -> str:
    return "".join(
        chr(ord(ch) + 0x60) if _HIRAGANA_START <= ord(ch) <= _HIRAGANA_END else ch
        for ch in text.replace("ゝ", "ヽ").replace("ゞ", "ヾ")
    )


def katakana(text: str) -> str | None:
    """Furigana as full-width katakana (see the module docstring); None if not kana."""
    converted = _hiragana_to_katakana(_spaced(unicodedata.normalize("NFKC", text)))
    return converted if _KATAKANA.fullmatch(converted) else None


def kana_folded(text: str) -> str:
    """Text for a name search: NFKC (ｶﾀｶﾅ → カタカナ), hiragana as katakana, no spaces; kanji
    and Latin letters kept, so やまだ and ヤマダ are one search and 山田 stays 山田."""
    return _SPACES.sub("", _hiragana_to_katakana(unicodedata.normalize("NFKC", text)))


def typed_code(text: str) -> str:
    """NFKC, no spaces of any width, every hyphen as "-" (see the module docstring)."""
    return _SPACES.sub("", ascii_hyphens(unicodedata.normalize("NFKC", text)))


def card_number(text: str) -> str | None:
    """A library card number as stored (see the module docstring), or None."""
    typed = typed_code(text).replace("-", "")
    return typed if _CODE.fullmatch(typed) and len(typed) <= CARD_NUMBER_MAX else None


def ruled_card_number(text: str) -> str | None:
    """A card number that follows the library's numbering rule (card_numbers.is_valid:
    prefix, length, check digit) in its stored form, or None."""
    typed = card_number(text)
    return typed if typed is not None and card_numbers.is_valid(typed) else None


def barcode(text: str) -> str | None:
    """An item barcode as stored (see the module docstring), or None."""
    typed = typed_code(text)
    return typed if _BARCODE.fullmatch(typed) and len(typed) <= BARCODE_MAX else None


def phone_text(text: str) -> str:
    """The phone number as typed, in NFKC (full-width digits made ASCII), every hyphen as "-"
    (the ー people type for one too)."""
    return _spaced(ascii_hyphens(unicodedata.normalize("NFKC", text)))


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


def email(text: str) -> str:
    """An email address as typed, NFKC and trimmed (see the module docstring)."""
    return unicodedata.normalize("NFKC", text).strip()


def postal_code(text: str) -> str | None:
    """Seven digits of a postal code typed as 251-0052, 〒２５１－００５２ or 2510052."""
    typed = unicodedata.normalize("NFKC", text).strip()
    return ascii_digits(typed) if _POSTAL.fullmatch(typed) else None


def format_postal_code(code: str) -> str:
    """2510052 → 251-0052."""
    return f"{code[:3]}-{code[3:]}" if len(code) == 7 else code


# Japanese eras (和暦) a typed date may use, newest first: (name, initial, first day).
_ERAS = (
    ("令和", "R", date(2019, 5, 1)),
    ("平成", "H", date(1989, 1, 8)),
    ("昭和", "S", date(1926, 12, 25)),
    ("大正", "T", date(1912, 7, 30)),
    ("明治", "M", date(1868, 1, 25)),
)
_ERA = "|".join(n for n, _, _ in _ERAS) + "|[" + "".join(i for _, i, _ in _ERAS) + "]"
_SEP = rf"[./\s{_DASHES}]"
_YEAR = rf"(?P<era>{_ERA})?\s*(?P<year>[0-9]{{1,4}}|元)\s*(?:年|{_SEP})\s*(?P<month>[0-9]{{1,2}})"
_DAY = re.compile(rf"{_YEAR}\s*(?:月|{_SEP})\s*(?P<day>[0-9]{{1,2}})\s*日?", re.IGNORECASE)
_MONTH = re.compile(rf"{_YEAR}\s*月?", re.IGNORECASE)
_YEAR_ALONE = re.compile(
    rf"(?:(?P<era>{_ERA})\s*(?P<year>[0-9]{{1,2}}|元)|(?P<western>[0-9]{{4}}))\s*年?", re.IGNORECASE
)
# Eight digits with no separators, as some people (and forms elsewhere) write a date: 19900401.
_COMPACT = re.compile(r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})")


def _western_year(era: str | None, year: str) -> tuple[int, date | None, date | None]:
    """(西暦 year, first day of the era, first day of the next era) of a typed year."""
    number = 1 if year == "元" else int(year)
    if not era:
        return (number if number >= 1000 else 0), None, None
    for index, (era_name, initial, first) in enumerate(_ERAS):
        if era in (era_name, initial, initial.lower()):
            following = _ERAS[index - 1][2] if index else None
            return first.year + number - 1, first, following
    return 0, None, None


def calendar_date(text: str) -> date | None:
    """A date typed in 西暦 or 和暦 (see the module docstring), or None."""
    typed = unicodedata.normalize("NFKC", text).strip()
    found = _DAY.fullmatch(typed) or _COMPACT.fullmatch(typed)
    if found is None:
        return None
    year, first, following = _western_year(found.groupdict().get("era"), found["year"])
    try:
        value = date(year, int(found["month"]), int(found["day"]))
    except ValueError:
        return None
    if (first is not None and value < first) or (following is not None and value >= following):
        return None
    return value


def calendar_date_of_parts(year: str, month: str, day: str) -> date | None:
    """A date typed in three boxes: the year in 西暦 or 和暦 (2014, 平成26, H26, 令和元, 年
    after it allowed), the month and the day as numbers (月, 日 allowed), full-width digits
    too; read as `calendar_date` reads 平成26年6月20日. None when it is not a date."""
    parts = [
        unicodedata.normalize("NFKC", typed).strip().removesuffix(unit).strip()
        for typed, unit in ((year, "年"), (month, "月"), (day, "日"))
    ]
    if not all(parts):
        return None
    return calendar_date("{}年{}月{}日".format(*parts))


def year(text: str) -> int | None:
    """A year typed in 西暦 (four digits) or 和暦 (平成2, H2, 令和元年), full-width too; None
    for anything else, an era year before its era began or after it ended included."""
    found = _YEAR_ALONE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        return None
    if found["western"]:
        return int(found["western"])
    value, first, following = _western_year(found["era"], found["year"])
    if first is None or value < first.year or (following and value > following.year):
        return None
    return value


def year_month(text: str) -> tuple[int, int] | None:
    """A month typed like 2026-12, 2026年12月 or 令和8年12月 (full-width digits too)."""
    found = _MONTH.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        return None
    year, _, _ = _western_year(found["era"], found["year"])
    month = int(found["month"])
    return (year, month) if 1 <= year <= 9999 and 1 <= month <= 12 else None
