"""One email check (db.emails) for staff edits, registration, the reset form and the outbox."""

from __future__ import annotations

import pytest

from db import emails, japanese_input, rules
from db.errors import QueryError
from db.queries.staff_patrons import PatronEdit, validate_edit

GOOD = [
    "a@example.jp",
    "first.last+opac@mail.city.fujisawa.example.jp",
    "x_y-z@a-b.example",
    "o'brien@example.ie",
    "a" * 64 + "@example.jp",
]
BAD = [
    "",
    " a@example.jp",  # surrounding spaces are the caller's to strip
    "a@example.jp ",
    "a@example",
    "@example.jp",
    "a@",
    "a..b@example.jp",
    ".a@example.jp",
    "a.@example.jp",
    "a@-example.jp",
    "a@example-.jp",
    "a@@example.jp",
    "a@b@example.jp",
    '"a b"@example.jp',
    "a@[192.0.2.1]",
    "花子 <a@example.jp>",
    "a@example.jp, x@evil.example",
    "a@example.jp\r\nBcc: x@evil.example",
    "a@example.jp\x00",
    "hanakö@example.jp",  # non-ASCII local part
    "a@例え.jp",  # non-ASCII host (no IDNA here)
    "ａ@example.jp",  # full-width letter
    "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ",  # full-width throughout
    "hanako＠example.jp",  # full-width at sign
    "a@example．jp",  # full-width dot
    "a\u200b@example.jp",  # zero-width space
    "٣@example.jp",  # Arabic-Indic digit
    "a" * 65 + "@example.jp",  # local part over 64
    "a@" + ".".join(["b" * 60] * 4) + ".example.jp",  # over 254
    "a@" + "b" * 64 + ".jp",  # label over 63
]


@pytest.mark.parametrize("address", GOOD)
def test_plain_addresses_pass(address: str) -> None:
    assert emails.is_email(address)
    assert emails.check_email(address) == address


@pytest.mark.parametrize("address", BAD)
def test_odd_addresses_are_refused(address: str) -> None:
    assert not emails.is_email(address)
    with pytest.raises(QueryError) as refused:
        emails.check_email(address)
    assert refused.value.code == "bad_email"


# Typed with the IME on: a form reads them as their ASCII form (japanese_input.email), which
# the one check then passes; the check itself (the outbox's) still refuses them as they are.
WIDE = [
    "ａ@example.jp",
    "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ",
    "hanako＠example.jp",
    "a@example．jp",
]


@pytest.mark.parametrize("address", [a for a in BAD if a and a == a.strip() and a not in WIDE])
def test_staff_edit_uses_the_same_check(address: str) -> None:
    edit = PatronEdit(
        address="藤沢市朝日町1-1", phone="0466-25-1111", email=address, category="general"
    )
    assert "email" in validate_edit(edit, rules.CATEGORIES)


@pytest.mark.parametrize("address", WIDE)
def test_staff_edit_reads_full_width_as_ascii(address: str) -> None:
    assert address in BAD and emails.is_email(japanese_input.email(address))
    edit = PatronEdit(
        address="藤沢市朝日町1-1", phone="0466-25-1111", email=address, category="general"
    )
    assert validate_edit(edit, rules.CATEGORIES) == {}


@pytest.mark.parametrize("address", GOOD)
def test_staff_edit_accepts_what_the_outbox_accepts(address: str) -> None:
    edit = PatronEdit(
        address="藤沢市朝日町1-1", phone="0466-25-1111", email=address, category="general"
    )
    assert validate_edit(edit, rules.CATEGORIES) == {}
