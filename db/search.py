"""Japanese text normalisation and the n-gram token stream behind catalog search.

Everything that is indexed and everything that is searched passes through `normalise`, so
both sides agree: NFKC (full/half width), case folding, katakana to hiragana, small kana to
large and を to お (NDL readings write particles as pronounced), old kanji to new (龍→竜),
and every character that is not a letter or a digit removed (spaces inside names too).

Normalised text is indexed as overlapping character bigrams, each run ending with its last
character alone: "ねこです" → "ねこ こで です す". Any substring of two or more characters
is then a phrase of consecutive bigrams, and a single character is a prefix query that
matches a bigram starting with it or a run's last character. SQLite FTS5 and PostgreSQL
tsvector receive exactly this token stream.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# Tokens of different values of one field are spaced apart in PostgreSQL so that a phrase
# can never join the end of one author's name to the start of the next.
_RUN_GAP = 2

_KATAKANA_START, _KATAKANA_END = 0x30A1, 0x30F6
_SMALL_TO_LARGE = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖゐゑを", "あいうえおつやゆよわかけいえお")


@lru_cache(maxsize=1)
def _variant_table() -> dict[int, str]:
    text = resources.files("db").joinpath("data/kanji_variants.txt").read_text("utf-8")
    table: dict[int, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        old, new = line.split("\t")
        table[ord(old)] = new
    return table


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def normalise(text: str) -> str:
    """The one normal form of catalog text and of queries (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    chars = []
    for ch in folded:
        code = ord(ch)
        if _KATAKANA_START <= code <= _KATAKANA_END:
            ch = chr(code - 0x60)
        if _is_word_char(ch):
            chars.append(ch)
    return "".join(chars).translate(_SMALL_TO_LARGE).translate(_variant_table())


def bigram_tokens(norm: str) -> list[str]:
    """Overlapping bigrams of one normalised run, then its last character alone."""
    if not norm:
        return []
    return [norm[i : i + 2] for i in range(len(norm) - 1)] + [norm[-1]]


def field_tokens(values: Iterable[str]) -> list[list[str]]:
    """One token run per non-empty value of a field."""
    runs = []
    for value in values:
        tokens = bigram_tokens(normalise(value))
        if tokens:
            runs.append(tokens)
    return runs


def fts5_text(values: Iterable[str]) -> str:
    """Column text for SQLite FTS5 (ascii tokenizer: splits on spaces only)."""
    return " ".join(" ".join(run) for run in field_tokens(values))


def tsvector_literal(fields: Sequence[tuple[str, Iterable[str]]]) -> str:
    """A PostgreSQL tsvector literal with positions and one weight letter per field.

    `fields` pairs a weight letter (A-D) with the field's values. Lexemes are quoted, so the
    literal is parsed as data whatever characters it holds.
    """
    positions: dict[str, list[str]] = {}
    pos = 1
    for weight, values in fields:
        for run in field_tokens(values):
            for token in run:
                if pos > 16383:  # PostgreSQL's largest position
                    break
                positions.setdefault(token, []).append(f"{pos}{weight}")
                pos += 1
            pos += _RUN_GAP
    return " ".join(
        "'" + token.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(where)
        for token, where in positions.items()
    )


@dataclass(frozen=True)
class ParsedQuery:
    """A free-text query after normalisation: AND of terms, each a substring to find."""

    terms: tuple[str, ...]
    joined: str  # all terms run together, for exact and prefix title ranking
    isbn13: str | None
    truncated: bool  # True when the text was cut to the size limits

    @property
    def is_empty(self) -> bool:
        return not self.terms and self.isbn13 is None


_ISBN_CHARS = re.compile(r"^[0-9０-９\-‐－ー\s]{9,20}[0-9０-９xXｘＸ]$")


def isbn13_of(text: str) -> str | None:
    """ISBN-13 digits for an ISBN-10 or ISBN-13 with or without hyphens, if valid."""
    raw = unicodedata.normalize("NFKC", text).strip()
    if not _ISBN_CHARS.match(raw):
        return None
    digits = re.sub(r"[^0-9Xx]", "", raw).upper()
    if len(digits) == 10 and digits[:9].isdigit():
        total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9]))
        check = (11 - total % 11) % 11
        if digits[9] != ("X" if check == 10 else str(check)):
            return None
        body = "978" + digits[:9]
    elif len(digits) == 13 and digits.isdigit():
        body = digits[:12]
        if digits[:3] not in ("978", "979"):
            return None
    else:
        return None
    check13 = (10 - sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(body)) % 10) % 10
    if len(digits) == 13 and int(digits[12]) != check13:
        return None
    return body + str(check13)


_ISBN_IN_TEXT = re.compile(r"(?<![0-9])(?:97[89][-‐ ]?)?(?:[0-9][-‐ ]?){9}[0-9Xx](?![0-9])")


def isbns_in(raw: str) -> list[str]:
    """Valid ISBN-13s found in catalog text such as "978-4-7949-7075-6 :" or "0471383147 (pbk.)"."""
    found = []
    for candidate in _ISBN_IN_TEXT.findall(unicodedata.normalize("NFKC", raw)):
        isbn = isbn13_of(candidate.strip())
        if isbn and isbn not in found:
            found.append(isbn)
    return found


def parse_query(text: str) -> ParsedQuery:
    """Split on white space (AND), normalise each word, drop what normalises to nothing."""
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    isbn = isbn13_of(text)
    words = unicodedata.normalize("NFKC", text).split()
    terms: list[str] = []
    for word in words:
        norm = normalise(word)
        if norm and norm not in terms:
            terms.append(norm)
    if len(terms) > MAX_TERMS:
        terms, truncated = terms[:MAX_TERMS], True
    if isbn is not None:
        terms = []  # an ISBN is looked up in the ISBN index, not as text
    return ParsedQuery(tuple(terms), "".join(terms), isbn, truncated)


def fts5_term(term: str) -> str:
    """An FTS5 expression for one normalised term (a substring to find)."""
    tokens = bigram_tokens(term)
    if len(term) == 1:
        return f'"{term}" *'
    # Phrase of the overlapping bigrams; the trailing single character is implied.
    return '"' + " ".join(tokens[:-1]) + '"'


def tsquery_term(term: str, weights: str = "") -> str:
    """A PostgreSQL tsquery for one normalised term, optionally limited to weights."""

    def lexeme(tok: str, prefix: bool = False) -> str:
        quoted = "'" + tok.replace("\\", "\\\\").replace("'", "''") + "'"
        suffix = ("*" if prefix else "") + weights
        return quoted + (":" + suffix if suffix else "")

    if len(term) == 1:
        return lexeme(term, prefix=True)
    return "(" + " <-> ".join(lexeme(t) for t in bigram_tokens(term)[:-1]) + ")"
