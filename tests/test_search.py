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


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("髙橋", "高橋"),  # 異体字 of names (kanji_variants.txt, kanji_itaiji.txt)
        ("山﨑", "山崎"),
        ("齋藤", "斎藤"),
        ("斉藤", "斎藤"),
        ("齊藤", "斎藤"),  # a chain across the two files: 齊→斉→斎
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("𠮷川", "吉川"),  # outside the BMP
        ("森鷗外", "森鴎外"),
        ("ヴァイオリン", "バイオリン"),  # katakana spellings catalogues fold
        ("ヴィヨン", "ビヨン"),
        ("ヴェニス", "ベニス"),
        ("ヴォルテール", "ボルテール"),
        ("ヴ", "ブ"),
        ("ヂ", "ジ"),
        ("ヅ", "ズ"),
        ("ホームズ", "ホオムズ"),  # long-vowel mark = vowel
        ("ボーリング", "ボウリング"),
        ("ケーキ", "ケイキ"),
    ],
)
def test_variants_and_katakana_spellings_normalise_alike(a: str, b: str) -> None:
    assert search.normalise(a) == search.normalise(b)


def test_financial_numerals_stay_apart_from_plain_ones() -> None:
    assert search.normalise("壹") != search.normalise("一")
    assert search.normalise("弐") != search.normalise("二")


@pytest.mark.parametrize(
    "spelling", ["soseki", "souseki", "sooseki", "sōseki", "sôseki", "Sōseki", "SOUSEKI"]
)
def test_romaji_long_vowels_fold(spelling: str) -> None:
    assert search.romaji_key(search.normalise(spelling)) == "soseki"


@pytest.mark.parametrize(
    ("hepburn", "kunrei"),
    [
        ("shinbun", "sinbun"),
        ("shimbun", "sinbun"),
        ("chizu", "tizu"),
        ("tsuki", "tuki"),
        ("fuji", "huzi"),
        ("jinja", "zinzya"),
        ("matcha", "mattya"),
    ],
)
def test_hepburn_and_kunrei_fold(hepburn: str, kunrei: str) -> None:
    assert search.romaji_key(hepburn) == search.romaji_key(kunrei)


def test_readings_are_romanised_with_jaconv() -> None:
    assert search.romanise("なつめ そうせき") == "natume soseki"
    assert search.romanise("アクタガワ リュウノスケ") == "akutagawa ryunosuke"
    assert search.romanise("Natsume") == ""


def test_an_unspaced_reading_is_cut_along_the_titles_kana() -> None:
    assert search.reading_words("あいのししゅう", "愛の詩集") == ["あい", "の", "ししゆう"]
    assert search.reading_words("いのししのあじ", "猪の味") == ["いのしし", "の", "あじ"]
    assert search.reading_words("わがはいはねこである", "吾輩は猫である") == [
        "わがはい",
        "は",
        "ねこ",
        "である",
    ]
    # A spaced reading (NDL) is cut at its spaces.
    assert search.reading_words("コレカラ ノ ホン", "これからの本") == ["これから", "の", "ほん"]
    # Kana of the title missing from the reading: one word, as before.
    assert search.reading_words("まったくちがう", "愛の詩集") == ["まつたくちがう"]


def test_title_words_meet_only_in_their_end_tokens() -> None:
    runs = search.title_runs("愛の詩集", "", "あいのししゅう", "", [])
    assert ["愛｜の", "の｜詩", "詩集", "集｜"] in runs
    assert ["あい", "い｜の", "の｜し", "しし", "しゆ", "ゆう", "う｜"] in runs
    assert not any("いの" in run for run in runs)


def test_a_query_of_several_scripts_matches_whole_inner_words_in_titles() -> None:
    term = search.normalise("吾輩は猫")
    assert search.fts5_term(term) == (
        '({title} : "吾輩 輩｜は は｜猫" OR {author publisher subject} : "吾輩 輩は は猫")'
    )
    assert search.tsquery_term(term, "A") == "(('吾輩':A <-> '輩｜は':A <-> 'は｜猫':A))"
    assert search.fts5_term(search.normalise("イノシシ")) == '"いの のし しし"'
    # Across a word boundary the phrase holds the pair of characters, not a lone の.
    assert search.fts5_term(search.normalise("めての本棚"), ["title"]) == (
        '({title} : "めて ての の｜本 本棚")'
    )


@pytest.mark.parametrize(
    ("text", "isbn"),
    [
        ("ISBN 978-4-7949-7075-6", "9784794970756"),
        ("ISBN4-7949-7075-7", "9784794970756"),
        ("isbn:9784794970756", "9784794970756"),
        ("ISBN-13 978-4-7949-7075-6", "9784794970756"),
    ],
)
def test_isbn_with_its_prefix_is_an_isbn(text: str, isbn: str) -> None:
    parsed = search.parse_query(text)
    assert parsed.isbn13 == isbn and parsed.terms == ()


def test_ndl_numbers() -> None:
    assert search.parse_query("029455884").ndl_ids == ("029455884", "000029455884")
    assert search.parse_query("NDL 000004309809").ndl_ids == ("000004309809", "004309809")
    assert search.parse_query("２０１９").ndl_ids == ()
    assert search.parse_query("123456789").ndl_ids == ()


def test_title_words_for_whole_word_ranking() -> None:
    assert search.title_words("熊と猪", "くまといのしし") == " 熊 と 猪 くま いのしし "
    assert search.query_words(search.normalise("イノシシ")) == " いのしし "
    assert search.query_words(search.normalise("吾輩は猫")) == " 吾輩 は 猫 "


def test_ndl_numbers_only_in_the_main_box() -> None:
    assert search.parse_query("029455884", ndl=False).terms == ("029455884",)


def test_variant_spellings_give_each_itaiji_form_typed_first_and_stay_bounded() -> None:
    assert search.variant_spellings("髙橋")[:2] == ["髙橋", "高橋"]
    assert set(search.variant_spellings("渡辺")) == {"渡辺", "渡邊", "渡邉"}
    assert search.variant_spellings("山田") == ["山田"]
    many = "齋藤邊髙﨑澤濱廣"  # hundreds of combinations: typed and folded only
    assert search.variant_spellings(many) == [many, "".join(map(search.normalise, many))]
