"""Japanese text normalisation and the n-gram token stream behind catalog search.

Everything that is indexed and everything that is searched passes through `normalise`, so
both sides agree: NFKC (full/half width), case folding, katakana to hiragana, small kana to
large and を to お (NDL readings write particles as pronounced), the katakana spellings
catalogues fold (ヴァ→バ, ヴ→ブ, ヂ→ジ, ヅ→ズ, the long-vowel mark as its vowel: ホーム =
ホウム = ホオム), old and variant kanji to one form (龍→竜, 髙→高, 𠮷→吉; the tables are
db/data/kanji_variants.txt and kanji_itaiji.txt), and every character that is not a letter
or a digit removed (spaces inside names too).

Normalised text is indexed as overlapping character bigrams, each run ending with its last
character alone: "ねこです" → "ねこ こで です す". Any substring of two or more characters
is then a phrase of consecutive bigrams, and a single character is a prefix query that
matches a bigram starting with it or a run's last character. SQLite FTS5 and PostgreSQL
tsvector receive exactly this token stream.

Titles (title, subtitle, reading, romaji, series) are indexed word by word: a word ends at
a space or where the script changes (kanji / kana / Latin and digits), and an unspaced
reading is cut where the title's own kana stand in it. A word's last token is its end
token: its last character, WORD_END and the next word's first character (愛の詩集 →
"愛｜の の｜詩 詩集 集｜"). No other token pairs two words, so a one-word query is found only
inside a word (イノシシ not in あい|の|ししゅう); a query of several scripts must match its
inner words whole, through their end tokens (吾輩は猫 → "吾輩 輩｜は は｜猫"). Names,
publishers and subjects stay one run per value. Latin words are indexed as a romaji key
(`romaji_key`: Hepburn and kunrei, ou / oo / ō / o alike), and every reading is also
indexed in romaji (jaconv).
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import jaconv

from db.digits import ascii_hyphens

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# Tokens of different values of one field are spaced apart in PostgreSQL so that a phrase
# can never join the end of one author's name to the start of the next.
_RUN_GAP = 2

_SMALL_TO_LARGE = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖゐゑを", "あいうえおつやゆよわかけいえお")
_VARIANT_FILES = ("data/kanji_variants.txt", "data/kanji_itaiji.txt")

# Katakana spellings that catalogues fold in readings (after katakana became hiragana and
# small kana large): ヴァ→バ … ヴ→ブ, ヂ→ジ, ヅ→ズ.
_KANA_FOLD = {
    "ゔあ": "ば",
    "ゔい": "び",
    "ゔえ": "べ",
    "ゔお": "ぼ",
    "ゔ": "ぶ",
    "ぢ": "じ",
    "づ": "ず",
}
_KANA_FOLD_RE = re.compile("ゔ[あいえお]?|[ぢづ]")
# The vowel each kana ends in, for the long-vowel mark: ホー = ホウ = ホオ, ケー = ケイ.
_ROWS = {
    "あ": "あかがさざただなはばぱまやらわ",
    "い": "いきぎしじちぢにひびぴみりえけげせぜてでねへべぺめれ",
    "う": "うくぐすずつづぬふぶぷむゆるゔおこごそぞとどのほぼぽもよろ",
}
_LONG_VOWEL = {ch: vowel for vowel, row in _ROWS.items() for ch in row}
_LONG_VOWEL_RE = re.compile("([ぁ-ゖ])ー+")
_O_ROW_OO_RE = re.compile("(?<=[おこごそぞとどのほぼぽもよろ])お")


@lru_cache(maxsize=1)
def _variant_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for name in _VARIANT_FILES:
        text = resources.files("db").joinpath(name).read_text("utf-8")
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            old, new = line.split("\t")[:2]
            table.setdefault(ord(old), new)
    # One form per class, whichever file said what: 齊→斉 and 斉→斎 make 齊→斎.
    for code, new in table.items():
        seen = {code}
        while len(new) == 1 and ord(new) in table and ord(new) not in seen:
            seen.add(ord(new))
            new = table[ord(new)]
        table[code] = new
    return table


@lru_cache(maxsize=1)
def _variant_classes() -> dict[str, tuple[str, ...]]:
    """Each kanji of a fold class of `_variant_table` → every member of its class, the
    form searched first (高 and 髙 → (高, 髙))."""
    members: dict[str, list[str]] = {}
    for code, form in _variant_table().items():
        members.setdefault(form, [form]).append(chr(code))
    return {ch: tuple(group) for group in members.values() for ch in group}


def variant_spellings(text: str, limit: int = 64) -> list[str]:
    """`text` spelt with each kanji in every 異体字 form the catalogue search folds together,
    the typed spelling first: 髙橋 → [髙橋, 高橋], for matching stored text that is not
    folded (patrons' names keep the kanji they were written with). Text with more
    combinations than `limit` gets the typed and the folded spelling only."""
    classes = _variant_classes()
    choices = [classes.get(ch, (ch,)) for ch in text]
    if math.prod(len(c) for c in choices) > limit:
        folded = "".join(c[0] for c in choices)
        return list(dict.fromkeys((text, folded)))
    return list(dict.fromkeys([text, *("".join(p) for p in itertools.product(*choices))]))


def _fold_kana(text: str) -> str:
    text = _KANA_FOLD_RE.sub(lambda m: _KANA_FOLD[m[0]], text)
    if "ー" in text:
        text = _LONG_VOWEL_RE.sub(lambda m: m[1] + _LONG_VOWEL.get(m[1], ""), text)
    return _O_ROW_OO_RE.sub("う", text) if "お" in text else text


# Katakana to hiragana and small kana to large in one table.
_KANA_TABLE = {
    **{code: chr(code - 0x60).translate(_SMALL_TO_LARGE) for code in range(0x30A1, 0x30F7)},
    **{
        ord(k): v
        for k, v in zip(
            "ぁぃぅぇぉっゃゅょゎゕゖゐゑを", "あいうえおつやゆよわかけいえお", strict=True
        )
    },
}
# What is not a letter or a digit (str.isalnum), and the underscore \w lets through.
_NOT_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """The one normal form of catalog text and of queries (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kana = _fold_kana(_NOT_WORD.sub("", folded).translate(_KANA_TABLE))
    return kana.translate(_variant_table())


# Word boundaries: a change of script (kanji / kana / other letters and digits) and, in
# readings, a space. Search tokens never pair the last character of one word with the first
# of the next in titles (see `word_runs`).
_KANJI, _KANA, _OTHER = 0, 1, 2


def _script(ch: str) -> int:
    code = ord(ch)
    if 0x3041 <= code <= 0x309F or code == 0x30FC:
        return _KANA
    if (
        0x3400 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
        or code in (0x3005, 0x3006)
    ):
        return _KANJI
    return _OTHER


_KANA_CHARS = "\u3041-\u309f\u30fc"
_KANJI_CHARS = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff\u3005\u3006"
_SCRIPT_RUNS = re.compile(f"[{_KANA_CHARS}]+|[{_KANJI_CHARS}]+|[^{_KANA_CHARS}{_KANJI_CHARS}]+")


def script_words(norm: str) -> list[str]:
    """A normalised string cut where its script changes: "愛の詩集" → 愛, の, 詩集."""
    return _SCRIPT_RUNS.findall(norm)


# Romaji: Hepburn, kunrei and the long-vowel spellings folded to one key, on both sides.
_ROMAJI_RULES = [
    (re.compile(p), r)
    for p, r in (
        ("m(?=[bp])", "n"),  # shimbun = shinbun
        ("tch", "tty"),  # matcha = mattya
        ("sh", "sy"),
        ("syi", "si"),
        ("ch", "ty"),
        ("tyi", "ti"),
        ("tsu", "tu"),
        ("fu", "hu"),
        ("j", "zy"),
        ("zyi", "zi"),
        ("di", "zi"),
        ("du", "zu"),
        ("wo", "o"),
        ("ou", "o"),  # long vowels: ou / oo / ō / o
        ("([aiueo])\\1+", "\\1"),
    )
]


@lru_cache(maxsize=65536)
def romaji_key(word: str) -> str:
    """One spelling for the romaji of a word (Latin letters only; others are returned as
    they are): sōseki, souseki, sooseki, soseki → soseki; shi/si, chi/ti, tsu/tu, fu/hu,
    ji/zi → the kunrei form."""
    plain = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    if not plain.isascii() or not plain.isalpha():
        return word
    for pattern, repl in _ROMAJI_RULES:
        plain = pattern.sub(repl, plain)
    return plain


def search_words(norm: str) -> list[str]:
    """The words of a normalised string as the search index holds them (romaji keyed)."""
    return [romaji_key(w) if _script(w[0]) == _OTHER else w for w in script_words(norm)]


@lru_cache(maxsize=65536)
def romanise(reading: str) -> str:
    """Hepburn romaji of a kana reading (jaconv), keyed; "" if it has no kana."""
    hira = jaconv.kata2hira(unicodedata.normalize("NFKC", reading)).replace("ー", "")
    if not any(0x3041 <= ord(c) <= 0x309F for c in hira):
        return ""
    return " ".join(romaji_key(normalise(jaconv.kana2alphabet(w))) for w in hira.split())


def bigram_tokens(norm: str) -> list[str]:
    """Overlapping bigrams of one normalised run, then its last character alone."""
    if not norm:
        return []
    return [norm[i : i + 2] for i in range(len(norm) - 1)] + [norm[-1]]


def field_tokens(values: Iterable[str]) -> list[list[str]]:
    """One token run per non-empty value of a field (words joined: names, subjects)."""
    runs = []
    for value in values:
        tokens = bigram_tokens("".join(search_words(normalise(value))))
        if tokens:
            runs.append(tokens)
    return runs


# Joins a title word's last character to the next word's first in its end token. It is
# not a letter or a digit, so normalised text never holds it.
WORD_END = "｜"


def _word_run(words: Sequence[str]) -> list[str]:
    """The tokens of a run of words: each word's bigrams, then its end token, its last
    character joined to the next word's first ("ての｜本"; alone at the run's end: "の｜").
    A phrase across a word boundary then holds the rare pair of the two characters, not a
    common one-character token, and a one-character query still finds a word's last
    character as the prefix of its end token."""
    tokens: list[str] = []
    for i, word in enumerate(words):
        tokens += [word[j : j + 2] for j in range(len(word) - 1)]
        tokens.append(word[-1] + WORD_END + (words[i + 1][0] if i + 1 < len(words) else ""))
    return tokens


def bounded_words(value: str) -> list[str]:
    """The words of a title-like value: spaces and script changes bound them."""
    out: list[str] = []
    for chunk in unicodedata.normalize("NFKC", value).split():
        out += search_words(normalise(chunk))
    return out


def reading_words(reading: str, title: str) -> list[str]:
    """The words of a title's reading. A spaced reading (NDL) is cut at its spaces; an
    unspaced one (Aozora) where the title's own kana stand in it: 愛の詩集 / あいのししゅう →
    あい, の, ししゅう. If the title's kana cannot be found in order, the reading is one
    word (matches may then cross its inner boundaries, as before)."""
    if len(unicodedata.normalize("NFKC", reading).split()) > 1:
        return bounded_words(reading)
    norm = normalise(reading)
    parts = script_words(normalise(title))
    if not norm or len(parts) < 2 or len(parts) > 16:
        return search_words(norm) if norm else []
    best = _align(norm, tuple(parts))
    return best[1] if best is not None else search_words(norm)


def _align(norm: str, parts: tuple[str, ...]) -> tuple[int, list[str]] | None:
    """The split of a reading along the title's parts: kana parts stand in it as they
    are, each kanji (or Latin) part reads as at least one kana per character, and among the
    possible splits the one nearest two kana per character wins (猪の味 / いのししのあじ →
    いのしし, の, あじ; not い, の, ししのあじ). (cost, words), or None if there is none."""

    @cache
    def step(i: int, pos: int) -> tuple[int, tuple[str, ...]] | None:
        if i == len(parts):
            return (0, ()) if pos == len(norm) else None
        part = parts[i]
        if _script(part[0]) == _KANA:
            if not norm.startswith(part, pos):
                return None
            rest = step(i + 1, pos + len(part))
            return None if rest is None else (rest[0], (part, *rest[1]))
        if i + 1 < len(parts):  # the next part is kana: this one ends where it stands
            nxt = parts[i + 1]
            ends = [e for e in range(pos + len(part), len(norm)) if norm.startswith(nxt, e)]
        else:
            ends = [len(norm)] if len(norm) - pos >= len(part) else []
        found = None
        for end in ends:
            rest = step(i + 1, end)
            if rest is not None:
                cost = rest[0] + abs(end - pos - 2 * len(part))
                if found is None or cost < found[0]:
                    found = (cost, (norm[pos:end], *rest[1]))
        return found

    result = step(0, 0)
    return None if result is None else (result[0], list(result[1]))


def title_words(title: str, reading: str) -> str:
    """The words of a title and of its reading, each with a space on both sides, for
    ranking: a query word found here as " word " is a whole word of the title."""
    words = bounded_words(title) + reading_words(reading, title)
    return (" " + " ".join(dict.fromkeys(words)) + " ") if words else ""


@lru_cache(maxsize=4096)
def query_words(term: str) -> str:
    """A normalised term as it stands in `title_words` when it is made of whole words."""
    return " " + " ".join(search_words(term)) + " "


def title_runs(
    title: str, subtitle: str, reading: str, romaji: str, series: Iterable[str]
) -> list[list[str]]:
    """The title field's token runs: no token pairs characters of two words, so a one-word
    query cannot be found across a word boundary (イノシシ is not in あい|の|ししゅう)."""
    runs = [
        _word_run(bounded_words(title)),
        _word_run(bounded_words(subtitle)),
        _word_run(reading_words(reading, title)),
        _word_run(bounded_words(romaji)),
        _word_run(bounded_words(romanise(reading))),
        *(_word_run(bounded_words(s)) for s in series),
    ]
    return [r for r in runs if r]


def name_runs(values: Iterable[str], readings: Iterable[str]) -> list[list[str]]:
    """Names, publishers, subjects: each value one run (spaces inside a name ignored), and
    the romaji of each reading."""
    readings = list(readings)
    return field_tokens([*values, *readings, *(romanise(r) for r in readings)])


def fts5_runs(runs: Iterable[list[str]]) -> str:
    """Column text for SQLite FTS5 (ascii tokenizer: splits on spaces only)."""
    return " ".join(" ".join(run) for run in runs)


def fts5_text(values: Iterable[str]) -> str:
    """Column text for SQLite FTS5 of plain values (each one run)."""
    return fts5_runs(field_tokens(values))


def tsvector_runs(fields: Sequence[tuple[str, Iterable[list[str]]]]) -> str:
    """A PostgreSQL tsvector literal with positions and one weight letter per field.

    `fields` pairs a weight letter (A-D) with the field's token runs. Lexemes are quoted, so
    the literal is parsed as data whatever characters it holds.
    """
    positions: dict[str, list[str]] = {}
    pos = 1
    for weight, runs in fields:
        for run in runs:
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


def tsvector_literal(fields: Sequence[tuple[str, Iterable[str]]]) -> str:
    """tsvector_runs of plain values (each value one run)."""
    return tsvector_runs([(weight, field_tokens(values)) for weight, values in fields])


@dataclass(frozen=True)
class ParsedQuery:
    """A free-text query after normalisation: AND of terms, each a substring to find."""

    terms: tuple[str, ...]
    joined: str  # all terms run together, for exact and prefix title ranking
    isbn13: str | None
    truncated: bool  # True when the text was cut to the size limits
    ndl_ids: tuple[str, ...] = ()  # an NDL bibliographic number typed in the box (its forms)

    @property
    def is_empty(self) -> bool:
        return not self.terms and self.isbn13 is None and not self.ndl_ids


_ISBN_CHARS = re.compile(r"^[0-9\-\s]{9,20}[0-9xX]$")


def isbn13_of(text: str) -> str | None:
    """ISBN-13 digits for an ISBN-10 or ISBN-13 with or without hyphens (of any width and
    kind people type: －, ー, –, −, …), if valid."""
    raw = ascii_hyphens(unicodedata.normalize("NFKC", text)).strip()
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


_ISBN_PREFIX = re.compile(r"^\s*isbn(?:-1[03])?\s*[:：]?\s*", re.IGNORECASE)
# NDL bibliographic numbers (JAPAN/MARC 001): 9 or 12 digits, typed with "NDL" before them,
# or bare when they start with 0 (so a year or a page count is never taken for one).
_NDL_NUMBER = re.compile(r"^\s*(?:(ndl)\s*[:：#]?\s*)?(\d{1,12})\s*$", re.IGNORECASE)


def ndl_ids_of(text: str, named: bool = False) -> tuple[str, ...]:
    """The stored forms (9 and 12 digits) of an NDL bibliographic number, if `text` is one.
    `named`: the text is known to be one (an /ndl/ address), so leading zeros may be left
    out."""
    found = _NDL_NUMBER.match(unicodedata.normalize("NFKC", text))
    if found is None:
        return ()
    digits = found[2]
    if not named and (len(digits) not in (9, 12) or not (found[1] or digits.startswith("0"))):
        return ()
    core = digits.lstrip("0")
    return tuple(
        dict.fromkeys(f for f in (digits, core.zfill(9), core.zfill(12)) if len(f) in (9, 12))
    )


# Parsing and the index expressions below are pure functions of the typed text, and every
# search page builds them several times (the ranking, the facets, each もしかして look-up):
# worked out once per process for recent queries.
@lru_cache(maxsize=4096)
def parse_query(text: str, ndl: bool = True) -> ParsedQuery:
    """Split on white space (AND), normalise each word, drop what normalises to nothing.
    An ISBN ("ISBN 978-…", "ISBN4-…", bare) or (if `ndl`: the main box) an NDL number is
    looked up as such."""
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    isbn = isbn13_of(_ISBN_PREFIX.sub("", unicodedata.normalize("NFKC", text)))
    ndl_ids = () if isbn or not ndl else ndl_ids_of(text)
    words = unicodedata.normalize("NFKC", text).split()
    terms: list[str] = []
    for word in words:
        norm = normalise(word)
        if norm and norm not in terms:
            terms.append(norm)
    if len(terms) > MAX_TERMS:
        terms, truncated = terms[:MAX_TERMS], True
    if isbn is not None or ndl_ids:
        terms = []  # a number is looked up in its own index, not as text
    return ParsedQuery(tuple(terms), "".join(terms), isbn, truncated, ndl_ids)


@lru_cache(maxsize=4096)
def _query_phrases(term: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(tokens for word-bounded text; tokens for joined text, last is a prefix) of one
    normalised term. In word-bounded text (titles) each word but the last is matched whole,
    with its end token, so the words of the query must be words there too: 吾輩は猫 →
    "吾輩 輩｜は は｜猫". (A one-word term has the same tokens for both.)"""
    words = search_words(term)
    joined = "".join(words)
    plain = bigram_tokens(joined)[:-1] if len(joined) > 1 else [joined]
    plain_prefix = len(joined) == 1
    if len(words) == 1:
        return tuple(plain), tuple(plain), plain_prefix
    # The last word may go on in the title: its own end token is left out. Its first
    # character stands in the end token of the word before it, so no token is a prefix.
    return tuple(_word_run(words)[:-1]), tuple(plain), plain_prefix


def fts5_term(term: str, columns: Sequence[str] = ()) -> str:
    """An FTS5 expression for one normalised term (a substring to find), optionally within
    some columns. The title column holds word-bounded tokens; the others joined ones."""
    return _fts5_term(term, tuple(columns))


@lru_cache(maxsize=8192)
def _fts5_term(term: str, columns: tuple[str, ...]) -> str:
    def phrase(tokens: tuple[str, ...], prefix: bool) -> str:
        return '"' + " ".join(tokens) + '"' + (" *" if prefix else "")

    bounded, plain, p_prefix = _query_phrases(term)
    every = list(columns) or ["title", "author", "publisher", "subject"]
    if bounded == plain:
        expr = phrase(plain, p_prefix)
        return expr if not columns else "{" + " ".join(every) + "} : " + expr
    parts = []
    if "title" in every:
        parts.append("{title} : " + phrase(bounded, False))
    others = [c for c in every if c != "title"]
    if others:
        parts.append("{" + " ".join(others) + "} : " + phrase(plain, p_prefix))
    return "(" + " OR ".join(parts) + ")"


@lru_cache(maxsize=8192)
def tsquery_term(term: str, weights: str = "") -> str:
    """A PostgreSQL tsquery for one normalised term, optionally limited to weights (A is the
    word-bounded title field)."""

    def lexeme(tok: str, weight: str, prefix: bool = False) -> str:
        quoted = "'" + tok.replace("\\", "\\\\").replace("'", "''") + "'"
        suffix = ("*" if prefix else "") + weight
        return quoted + (":" + suffix if suffix else "")

    def phrase(tokens: tuple[str, ...], prefix: bool, weight: str) -> str:
        last = len(tokens) - 1
        return (
            "("
            + " <-> ".join(lexeme(t, weight, prefix and i == last) for i, t in enumerate(tokens))
            + ")"
        )

    bounded, plain, p_prefix = _query_phrases(term)
    if bounded == plain:
        return (
            phrase(plain, p_prefix, weights)
            if len(plain) > 1 or not p_prefix
            else lexeme(plain[0], weights, True)
        )
    wanted = weights or "ABCD"
    parts = []
    if "A" in wanted:
        parts.append(phrase(bounded, False, "A"))
    if wanted.replace("A", ""):
        parts.append(phrase(plain, p_prefix, wanted.replace("A", "")))
    return "(" + " | ".join(parts) + ")"
