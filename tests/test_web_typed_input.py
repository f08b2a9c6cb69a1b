"""Issue 20: every form reads what people type with the one normaliser (db.japanese_input):
full-width digits, hyphens of every width, spaces, 和暦, hiragana for katakana."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from db.patrons import phone_digits
from tests import test_web_staff
from tests.test_web_account import HTMX, ICHIRO, csrf_of, log_in
from tests.test_web_holds import HANAKO as HANAKO_LOGIN
from tests.test_web_holds import patron_id, reserve, taros_loan
from tests.test_web_mydata import post
from tests.test_web_password_recovery import ICHIRO_BIRTH, code_form, first_form, submit
from tests.test_web_staff import HANAKO, Console, available_barcodes

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


def test_an_empty_login_form_says_what_is_missing(web: TestClient) -> None:
    page = web.get("/login").text
    empty = web.post("/login", data={"csrf_token": csrf_of(page), "card": " ", "password": ""})
    assert empty.status_code == 422
    assert 'id="card-error"' in empty.text and "利用者カード番号を入力してください" in empty.text
    assert 'id="password-error"' in empty.text and "パスワードを入力してください" in empty.text
    assert 'aria-invalid="true"' in empty.text
    # Not a refusal: nothing about a wrong card or password, no login-error alert.
    assert 'id="login-error"' not in empty.text
    card_only = web.post(
        "/login", data={"csrf_token": csrf_of(page), "card": HANAKO_LOGIN[0], "password": ""}
    )
    assert card_only.status_code == 422 and 'id="password-error"' in card_only.text
    assert 'id="card-error"' not in card_only.text
    assert f'value="{HANAKO_LOGIN[0]}"' in card_only.text  # what was typed stays
    web.cookies.set("shiori_lang", "en")
    english = web.post("/login", data={"csrf_token": csrf_of(page), "card": "", "password": "x"})
    assert "Enter your library card number." in english.text
    assert 'id="password-error"' not in english.text


@pytest.mark.parametrize("hyphen", ["ー", "ｰ", "−", "‐", "—"])
def test_a_card_typed_with_an_ime_hyphen_logs_in(web: TestClient, hyphen: str) -> None:
    card, password = HANAKO_LOGIN
    typed = f"{card[:4]}{hyphen}{card[4:7]}　{card[7:]}".translate(WIDE)
    assert log_in(web, typed, password).status_code == 303  # type: ignore[attr-defined]


def test_a_suspension_date_in_wareki(web: TestClient) -> None:
    work_id, _, _ = taros_loan()
    log_in(web, *HANAKO_LOGIN)
    reserve(web, work_id, "sogo")
    hold = queries.list_holds(patron_id(HANAKO_LOGIN[0]))[0]
    token = csrf_of(web.get("/my/holds").text)
    today = queries.to_library_time(datetime.now(UTC)).date()
    later = today + timedelta(days=10)
    wareki = f"R{later.year - 2018}.{later.month}.{later.day}".translate(WIDE)
    row = web.post(
        f"/my/holds/{hold.id}/suspend", data={"until": wareki, "csrf_token": token}, headers=HTMX
    )
    assert row.status_code == 200 and "休止中" in row.text
    assert queries.list_holds(patron_id(HANAKO_LOGIN[0]))[0].suspended_until == later


def test_counter_lookup_reads_the_card_and_folds_kana(team: dict[str, Console]) -> None:
    staff = team["staff"]
    grouped = f"{HANAKO.card_number[:4]}－{HANAKO.card_number[4:]}".translate(WIDE)
    by_card = staff.post("/staff/patrons", "/staff/patrons", card=grouped)
    assert by_card.status_code == 200 and "山田 花子" in by_card.text  # type: ignore[attr-defined]
    family = HANAKO.name_kana.split()[0]  # ヤマダ
    hiragana = "".join(chr(ord(c) - 0x60) for c in family)  # やまだ
    for typed in (family, hiragana, "ﾔﾏﾀﾞ", "やまだ　はなこ"):
        found = staff.htmx_post("/staff/patrons", "/staff/patrons", name=typed)
        assert found.status_code == 200  # type: ignore[attr-defined]
        assert HANAKO.card_number in found.text, typed  # type: ignore[attr-defined]
    nobody = staff.htmx_post("/staff/patrons", "/staff/patrons", name="やまだ はなお")
    assert HANAKO.card_number not in nobody.text  # type: ignore[attr-defined]


def test_staff_correct_a_phone_typed_with_any_hyphen(team: dict[str, Console]) -> None:
    staff = team["staff"]
    hanako = patron_id(HANAKO.card_number)
    page = f"/staff/patrons/{hanako}/edit"
    done = staff.post(
        page,
        page,
        address=HANAKO.address,
        phone="０４６６–２５−１２３４",  # an en dash and a minus sign, full-width digits
        email=HANAKO.email or "",
        category=HANAKO.category,
    )
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        row = conn.execute(
            text("SELECT phone, phone_digits FROM patron WHERE id = :p"), {"p": hanako}
        ).one()
    # Kept as typed, but every hyphen as "-" (japanese_input.phone_text).
    assert row.phone_digits == "0466251234" and row.phone == "0466-25-1234"
    wrong = staff.post(
        page,
        page,
        address=HANAKO.address,
        phone="0466-25",
        email="",
        category=HANAKO.category,
    )
    assert wrong.status_code == 422  # type: ignore[attr-defined]


def test_staff_find_a_title_by_a_full_width_barcode(team: dict[str, Console]) -> None:
    staff = team["staff"]
    (barcode,) = available_barcodes(1)
    page = f"/staff/patrons/{patron_id(HANAKO.card_number)}"
    found = staff.post(f"{page}/holds/search", page, q=f" {barcode.translate(WIDE)} ")
    assert found.status_code == 200  # type: ignore[attr-defined]
    assert 'name="work_id"' in found.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        work_id = conn.execute(
            text("SELECT work_id FROM item WHERE barcode = :b"), {"b": barcode}
        ).scalar_one()
    assert f'value="{work_id}"' in found.text  # type: ignore[attr-defined]


def test_phone_digits_compare_as_the_normaliser_reads_them() -> None:
    assert phone_digits("+81 466-25-1111") == phone_digits("0466−25−1111") == "0466251111"
    assert phone_digits("12-34") == "1234"  # not a phone number: its bare digits


def test_the_cli_reads_card_numbers_as_forms_do() -> None:
    from web import forms

    assert forms.as_card("２１００ー０００ー００２") == "2100000002"
    assert forms.as_barcode("ＳＨ－０１") == "SH-01"
    assert forms.as_card("not a card!") == "not a card!"  # finds nothing, not something else
    assert forms.calendar_date("令和元年5月1日") == date(2019, 5, 1)


def test_staff_dates_in_wareki(team: dict[str, Console]) -> None:
    manager = team["manager"]
    log = manager.get("/staff/audit?day_from=令和8年1月1日&day_to=Ｒ８．１２．３１")
    assert log.status_code == 200  # type: ignore[attr-defined]
    assert "令和8年12月28日" not in log.text  # no "use a date like …" next to a field
    wrong = manager.get("/staff/audit?day_from=平成31年5月1日")  # 令和 by then
    assert "2026-12-28 や 令和8年12月28日 のように" in wrong.text  # type: ignore[attr-defined]
    staff_id, _ = test_web_staff.new_account(manager, "WAR01", "staff")
    account = queries.get_staff_account(staff_id)
    page = f"/staff/accounts/{staff_id}"
    saved = manager.post(
        page,
        page,
        name=account.name,
        affiliation=account.affiliation,
        branch=account.branch_code,
        role=account.role,
        ends_on="令和9年3月31日",
    )
    assert saved.status_code == 303, saved.text  # type: ignore[attr-defined]
    assert queries.get_staff_account(staff_id).ends_on == date(2027, 3, 31)


def test_activation_code_and_first_password_read_the_card_as_typed(web: TestClient) -> None:
    code = queries.issue_activation_code(HANAKO_LOGIN[0])
    card = HANAKO_LOGIN[0]
    typed = f"{card[:4]}－{card[4:7]}ー{card[7:]}".translate(WIDE)
    done = submit(web, "/password/code", **code_form(typed, code, "図書館で受け取ったコード"))
    assert done.status_code == 303  # type: ignore[attr-defined]
    # The first password: the card full-width, the phone with other hyphens and +81.
    first = submit(
        web,
        "/password/first",
        **first_form(
            ICHIRO.translate(WIDE),
            tuple(v.translate(WIDE) for v in ICHIRO_BIRTH),  # type: ignore[arg-type]
            "+81 466−33−3333",
            "はじめてのパスワード",
        ),
    )
    assert first.status_code == 303, first.text  # type: ignore[attr-defined]


# A newcomer's walk through the forms with the IME left on (full-width letters, ＠ and ー).


def test_a_phone_typed_with_the_long_vowel_mark_is_kept_with_hyphens(web: TestClient) -> None:
    from tests.test_web_registration import applications, form_of

    registered = web.post(
        "/register", data=form_of(web, phone="0466ー33ー9999"), follow_redirects=False
    )
    assert registered.status_code == 303, registered.text
    [row] = applications()
    assert (row["phone"], row["phone_digits"]) == ("0466-33-9999", "0466339999")
    log_in(web, *HANAKO_LOGIN)
    done = post(web, "/my/data/phone", phone="０４６６ー３３‐９９９９")
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    assert queries.get_my_data(patron_id(HANAKO_LOGIN[0])).phone == "0466-33-9999"


FULL = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))})


def test_an_activation_code_typed_full_width_sets_the_password(web: TestClient) -> None:
    card = HANAKO_LOGIN[0]
    code = queries.issue_activation_code(card)  # e.g. 4P62-YN6W-THLJ
    first, second, third = code.split("-")
    typed = f"{first}－{second}ー{third}".translate(FULL)  # ４Ｐ６２－ＹＮ６ＷーＴＨＬＪ
    done = submit(web, "/password/code", **code_form(card, typed, "図書館で受け取ったコード"))
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    # Lowercase with spaces still works, as before.
    again = queries.issue_activation_code(card)
    lower = again.lower().replace("-", " ")
    assert (
        submit(
            web, "/password/code", **code_form(card, lower, "二度目のパスワードです")
        ).status_code
        == 303
    )  # type: ignore[attr-defined]


def test_stored_activation_code_digests_of_ascii_codes_are_unchanged() -> None:
    """Codes handed out before: the digest of an ASCII code is what it always was."""
    from hashlib import sha256

    from db import activation_codes

    assert activation_codes.digest("k7qm-2rtd hw9c") == sha256(b"K7QM2RTDHW9C").hexdigest()
    assert activation_codes.digest("Ｋ７ＱＭーＲ２ＴＤ") == activation_codes.digest("K7QM-R2TD")


def test_an_email_typed_with_a_full_width_at_is_accepted(web: TestClient) -> None:
    from tests.test_web_registration import applications, form_of

    # /register: hanako＠example.jp is hanako@example.jp; the link goes there.
    sent = web.post(
        "/register", data=form_of(web, email="ｋａｚｕｈａ＠example.jp"), follow_redirects=False
    )
    assert sent.status_code == 303, sent.text
    assert applications()[0]["email"] == "kazuha@example.jp"
    # /my/data: a new address with a full-width ＠.
    log_in(web, *HANAKO_LOGIN)
    changed = post(web, "/my/data/email", email="hanako.new＠example.jp", password=HANAKO_LOGIN[1])
    assert changed.status_code == 303, changed.text  # type: ignore[attr-defined]
    assert queries.get_my_data(patron_id(HANAKO_LOGIN[0])).email_waiting == "hanako.new@example.jp"


def test_staff_record_an_email_typed_with_a_full_width_at(team: dict[str, Console]) -> None:
    hanako = patron_id(HANAKO.card_number)
    edited = test_web_staff._edit_email(team["staff"], hanako, "ｓｏｍｅｏｎｅ＠example.org")
    assert edited.status_code == 303, edited.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        pending = conn.execute(
            text("SELECT email_pending FROM patron WHERE id = :p"), {"p": hanako}
        ).scalar_one()
    assert pending == "someone@example.org"


def test_a_staff_id_typed_full_width(team: dict[str, Console], app: object) -> None:
    staff_id, _ = test_web_staff.new_account(team["manager"], "Ｓ００２", "staff", stored="S002")
    assert queries.get_staff_account(staff_id).staff_code == "S002"
    # The login form reads the ID the same way: ＳＴＡ０１ is STA01.
    clock = team["staff"].clock
    for typed in ("ＳＴＡ０１", " ＳＴＡ01 ", "STA01"):
        member = Console(app, clock)
        assert member.log_in(typed, second=False).status_code == 303, typed  # type: ignore[attr-defined]


@pytest.mark.parametrize("year", ["平成26", "平成２６年", "Ｈ２６", "h26"])
def test_first_password_birth_year_in_wareki(web: TestClient, year: str) -> None:
    first = submit(
        web,
        "/password/first",
        **first_form(ICHIRO, (year, "６", "20"), "0466-33-3333", "はじめてのパスワード"),
    )
    assert first.status_code == 303, first.text  # type: ignore[attr-defined]


def test_first_password_says_what_a_birth_date_may_be(web: TestClient) -> None:
    form = first_form(ICHIRO, ("26", "6", "20"), "0466-33-3333", "はじめてのパスワード")
    refused = submit(web, "/password/first", **form)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    said = refused.text  # type: ignore[attr-defined]
    assert 'id="birth_date-error"' in said
    assert "西暦・和暦" in said and "平成26" in said
    assert 'value="26"' in said  # what was typed stays
    web.cookies.set("shiori_lang", "en")
    token = csrf_of(web.get("/password/first").text)
    english = web.post("/password/first", data={"csrf_token": token, **form})
    assert english.status_code == 422 and 'id="birth_date-error"' in english.text
    assert "Western or Japanese calendar (e.g. 2014, 平成26 or H26)" in english.text
