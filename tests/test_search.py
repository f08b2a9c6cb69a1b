"""db.search: the one normal form of Japanese text, and the token stream built on it."""

from __future__ import annotations

import pytest

from db import search


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ねこ", "ネコ"),  # hiragana = katakana
        ("ネコ", "ﾈｺ"),  # = half-width katakana
        ("ワガハイ", "ﾜｶﾞﾊｲ"),  # half-width voiced marks compose
        ("ABC123", "ＡＢＣ１２３"),  # full-width = half-width ASCII
        ("Natsume", "NATSUME"),  # case folding
        ("龍之介", "竜之介"),  # old/new kanji
        ("澤", "沢"),
        ("國", "国"),
        ("夏目漱石", "夏目 漱石"),  # spaces inside names
        ("夏目漱石", "夏目　漱石"),  # ideographic space
        ("はなしをしよう", "ハナシ オ シヨウ"),  # NDL readings: を written お, spaces
        ("きゃく", "キヤク"),  # small kana folded to large
        ("ウェストミンスター", "うえすとみんすたー"),
        ("すぐ使えるMac&Office", "すぐ使えるmac office"),  # punctuation is not searchable
    ],
)
def test_equivalent_forms_normalise_alike(a: str, b: str) -> None:
    assert search.normalise(a) == search.normalise(b)


def test_different_words_stay_different() -> None:
    assert search.normalise("かき") != search.normalise("がき")  # voicing matters
    assert search.normalise("猫") != search.normalise("犬")


def test_control_characters_and_symbols_vanish() -> None:
    assert search.normalise('\x00猫\x1b[31m"*NEAR(') == "猫31mnear"


def test_bigram_stream_ends_with_the_last_character() -> None:
    assert search.bigram_tokens("ねこです") == ["ねこ", "こで", "です", "す"]
    assert search.bigram_tokens("猫") == ["猫"]
    assert search.bigram_tokens("") == []


def test_fts5_terms_are_phrases_of_bigrams_or_a_prefix() -> None:
    assert search.fts5_term("猫") == '"猫" *'
    assert search.fts5_term("ねこ") == '"ねこ"'
    assert search.fts5_term("わがはい") == '"わが がは はい"'


def test_tsquery_terms_quote_lexemes_and_carry_weights() -> None:
    assert search.tsquery_term("猫") == "'猫':*"
    assert search.tsquery_term("ねこで", "A") == "('ねこ':A <-> 'こで':A)"
    assert search.tsquery_term("ねこ") == "('ねこ')"


def test_tsvector_literal_separates_values_and_fields() -> None:
    literal = search.tsvector_literal([("A", ["ねこ", "いぬ"]), ("B", ["夏目"])])
    assert literal == "'ねこ':1A 'こ':2A 'いぬ':5A 'ぬ':6A '夏目':9B '目':10B"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("978-4-7949-7075-6", "9784794970756"),
        ("9784794970756", "9784794970756"),
        ("4-7949-7075-7", "9784794970756"),
        ("4794970757", "9784794970756"),
        ("０２０１６１６２２Ｘ", "9780201616224"),
        ("020161622x", "9780201616224"),
        ("9784794970757", None),  # wrong check digit
        ("4794970758", None),
        ("12345", None),
        ("猫", None),
    ],
)
def test_isbn_forms(text: str, expected: str | None) -> None:
    assert search.isbn13_of(text) == expected


def test_isbns_are_found_inside_catalog_text() -> None:
    assert search.isbns_in("978-4-7949-7075-6 :") == ["9784794970756"]
    assert search.isbns_in("0471383147 (paper/cd-rom : alk. paper)") == ["9780471383147"]
    assert search.isbns_in("1700円") == []


def test_query_parsing_and_bounds() -> None:
    parsed = search.parse_query("  夏目　漱石  ")
    assert parsed.terms == ("夏目", "漱石")
    assert parsed.joined == "夏目漱石"
    assert search.parse_query("4794970757").isbn13 == "9784794970756"
    assert search.parse_query("4794970757").terms == ()
    long = search.parse_query("猫" * 5000)
    assert long.truncated and len(long.terms[0]) == search.MAX_QUERY_CHARS
    many = search.parse_query(" ".join(f"語{i}" for i in range(30)))
    assert many.truncated and len(many.terms) == search.MAX_TERMS
    assert search.parse_query('"*()').is_empty
