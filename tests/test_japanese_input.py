"""The one input normaliser (db.japanese_input): what people type → the stored form."""

from __future__ import annotations

from datetime import date

import pytest

from db import card_numbers, japanese_input

# Hyphens and dashes of every width that people, IMEs and word processors put between digits.
HYPHENS = ["-", "－", "‐", "‑", "‒", "–", "—", "―", "−", "ー", "ｰ", "﹣"]
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("hyphen", HYPHENS)
def test_card_number_with_any_hyphen(hyphen: str) -> None:
    assert japanese_input.card_number(f"2100{hyphen}000{hyphen}002") == "2100000002"


@pytest.mark.parametrize(
    "typed",
    [
        "２１０００００００２",
        "2100 000 002",
        "2100　000　002",
        " 2100000002 ",
        "２１００－０００－００２",
    ],
)
def test_card_number_full_width_and_spaces(typed: str) -> None:
    assert japanese_input.card_number(typed) == "2100000002"


@pytest.mark.parametrize("typed", ["", "   ", "21000/00002", "2100000002!", "1" * 21, "٢١٠٠"])
def test_card_number_refuses_what_cannot_be_one(typed: str) -> None:
    assert japanese_input.card_number(typed) is None


def test_ruled_card_number_checks_the_check_digit() -> None:
    payload = "210000001"
    good = payload + card_numbers.check_digit(payload)
    bad = payload + str((int(good[-1]) + 1) % 10)
    assert japanese_input.ruled_card_number(good.translate(WIDE)) == good
    assert japanese_input.ruled_card_number(f"{good[:4]}-{good[4:]}") == good
    assert japanese_input.ruled_card_number(bad) is None
    assert japanese_input.ruled_card_number("12345") is None


@pytest.mark.parametrize("hyphen", HYPHENS)
def test_barcode_keeps_its_hyphen_as_ascii(hyphen: str) -> None:
    assert japanese_input.barcode(f"ＳＨ{hyphen}０００１２") == "SH-00012"


def test_barcode_full_width_and_spaces() -> None:
    assert japanese_input.barcode("１００００ ０００１") == "100000001"
    assert japanese_input.barcode("") is None
    assert japanese_input.barcode("-1") is None
    assert japanese_input.barcode("1" * 33) is None


@pytest.mark.parametrize("hyphen", HYPHENS)
def test_phone_digits_with_any_hyphen(hyphen: str) -> None:
    typed = f"0466{hyphen}22{hyphen}1234"
    assert japanese_input.phone(typed) == "0466221234"
    assert japanese_input.phone(typed.translate(WIDE)) == "0466221234"


@pytest.mark.parametrize("hyphen", HYPHENS)
def test_phone_as_typed_keeps_every_hyphen_as_one(hyphen: str) -> None:
    # ー (the long vowel mark people type for a hyphen), ‐ ‑ ‒ – — ― − and the full-width
    # ones: the number kept and shown reads 0466-33-9999, whichever was typed.
    typed = f"0466{hyphen}33{hyphen}9999"
    assert japanese_input.phone_text(typed) == "0466-33-9999"
    assert japanese_input.phone_text(typed.translate(WIDE)) == "0466-33-9999"
    assert japanese_input.phone(typed) == "0466339999"


def test_phone_as_typed_and_refusals() -> None:
    assert japanese_input.phone_text("０４６６－２２－１２３４") == "0466-22-1234"
    assert japanese_input.phone("(0466) 22 1234") == "0466221234"
    assert japanese_input.phone("+81 90-1234-5678") == "09012345678"
    assert japanese_input.phone("+1 555 1234") is None
    assert japanese_input.phone("12345") is None
    assert japanese_input.phone("0466-22-123a") is None


@pytest.mark.parametrize(
    "typed", ["251-0052", "〒２５１－００５２", "2510052", "251ー0052", "〒 251 0052"]
)
def test_postal_code(typed: str) -> None:
    assert japanese_input.postal_code(typed) == "2510052"
    assert japanese_input.format_postal_code("2510052") == "251-0052"


@pytest.mark.parametrize("typed", ["251-005", "25100521", "abc-defg", ""])
def test_postal_code_refused(typed: str) -> None:
    assert japanese_input.postal_code(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2024-04-01", date(2024, 4, 1)),
        ("２０２４／０４／０１", date(2024, 4, 1)),
        ("2024年4月1日", date(2024, 4, 1)),
        ("20240401", date(2024, 4, 1)),
        ("2024ー04ー01", date(2024, 4, 1)),
        ("2024−4−1", date(2024, 4, 1)),
        ("令和6年4月1日", date(2024, 4, 1)),
        ("令和６年４月１日", date(2024, 4, 1)),
        ("R6.4.1", date(2024, 4, 1)),
        ("r6.4.1", date(2024, 4, 1)),
        ("Ｒ６．４．１", date(2024, 4, 1)),
        ("R06/04/01", date(2024, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("H1.1.8", date(1989, 1, 8)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("S50.12.31", date(1975, 12, 31)),
        ("昭和元年12月25日", date(1926, 12, 25)),
    ],
)
def test_calendar_date_reads_western_and_era_years(typed: str, expected: date) -> None:
    assert japanese_input.calendar_date(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "2024-02-30",  # no such day
        "2023-02-29",  # not a leap year
        "令和元年4月30日",  # before 令和 began (still 平成)
        "平成31年5月1日",  # 令和 by then
        "平成元年1月7日",  # still 昭和
        "昭和64年1月8日",  # 平成 by then
        "R6.13.1",
        "24-04-01",  # a two-digit western year is not a year
        "令和6年",
        "yesterday",
        "X6.4.1",
    ],
)
def test_calendar_date_refuses_invalid_dates(typed: str) -> None:
    assert japanese_input.calendar_date(typed) is None


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("2014", "6", "20"), date(2014, 6, 20)),
        (("２０１４", "０６", "２０"), date(2014, 6, 20)),
        (("平成26", "6", "20"), date(2014, 6, 20)),
        (("平成26年", "6月", "20日"), date(2014, 6, 20)),
        (("Ｈ２６", "６", "２０"), date(2014, 6, 20)),
        (("h26", "6", "20"), date(2014, 6, 20)),
        (("令和元", "5", "1"), date(2019, 5, 1)),
        ((" 昭和50 ", " 12 ", " 31 "), date(1975, 12, 31)),
    ],
)
def test_calendar_date_of_parts_reads_era_years(
    parts: tuple[str, str, str], expected: date
) -> None:
    assert japanese_input.calendar_date_of_parts(*parts) == expected


@pytest.mark.parametrize(
    "parts",
    [
        ("", "6", "20"),
        ("2014", "", "20"),
        ("2014", "6", ""),
        ("14", "6", "20"),  # a two-digit western year is not a year
        ("平成31", "5", "1"),  # 令和 by then
        ("2014", "2", "30"),
        ("2014年6月20日", "", ""),
        ("2014-6", "20", "1"),
        ("١٩٨٠", "1", "1"),  # another script's digits
        ("平成", "6", "20"),
    ],
)
def test_calendar_date_of_parts_refusals(parts: tuple[str, str, str]) -> None:
    assert japanese_input.calendar_date_of_parts(*parts) is None


def test_email_as_typed_with_the_ime_on() -> None:
    assert japanese_input.email(" hanako＠example.jp ") == "hanako@example.jp"
    assert (
        japanese_input.email("ｈａｎａｋｏ．ｎｅｗ＠ｅｘａｍｐｌｅ．ｊｐ")
        == "hanako.new@example.jp"
    )
    assert japanese_input.email("") == ""


def test_typed_code() -> None:
    assert japanese_input.typed_code(" Ｓ００２ ") == "S002"
    assert japanese_input.typed_code("ｍ－０１＿ａ") == "m-01_a"
    assert japanese_input.typed_code("４Ｐ６２ーＹＮ６Ｗ　ＴＨＬＪ") == "4P62-YN6WTHLJ"


def test_year_month() -> None:
    assert japanese_input.year_month("2026-12") == (2026, 12)
    assert japanese_input.year_month("令和8年12月") == (2026, 12)
    assert japanese_input.year_month("R8.12") == (2026, 12)
    assert japanese_input.year_month("2026-13") is None


@pytest.mark.parametrize(
    ("typed", "year"),
    [
        ("1990", 1990),
        ("１９９０", 1990),  # an IME left on
        ("1990年", 1990),
        ("平成2", 1990),
        ("平成２年", 1990),
        ("H2", 1990),
        ("h 2", 1990),
        ("平成元年", 1989),
        ("平成31", 2019),  # 平成 ended in 2019, 令和 began that year
        ("令和元年", 2019),
        ("R8", 2026),
        ("昭和64", 1989),
    ],
)
def test_year_in_seireki_or_wareki(typed: str, year: int) -> None:
    assert japanese_input.year(typed) == year


@pytest.mark.parametrize(
    "typed", ["", "19x", "99", "12345", "平成", "平成32", "昭和65", "S0", "١٩٩٩"]
)
def test_year_refuses_what_is_not_a_year(typed: str) -> None:
    assert japanese_input.year(typed) is None


def test_katakana_and_kana_folding() -> None:
    assert japanese_input.katakana("やまだ　たろう") == "ヤマダ タロウ"
    assert japanese_input.katakana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ タロウ"
    assert japanese_input.katakana("山田") is None
    assert japanese_input.kana_folded("やまだ") == japanese_input.kana_folded("ヤマダ") == "ヤマダ"
    assert japanese_input.kana_folded("ﾔﾏﾀﾞ　たろう") == "ヤマダタロウ"
    assert japanese_input.kana_folded("山田 太郎") == "山田太郎"
