"""The recovery pages (/password/code, /password/first, /password/forgot) tell nobody who
exists: an unknown card and a known card with the wrong proof get the same status and the
same page; rules that depend on personal data are applied only once the proof holds; every
path has a site-wide limit on top of the per-card and per-address ones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from db import queries, throttle
from tests import mailbox
from tests.test_web_account import HANAKO, ICHIRO, csrf_of, log_in

UNKNOWN = "2999999999"
START = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[None]:
    queries.set_clock(lambda: START)
    yield
    queries.set_clock(None)


def submit(web: TestClient, path: str, address: str = "testclient", **data: str) -> object:
    """GET the page for its CSRF token, then POST the form from `address`."""
    client = TestClient(web.app, client=(address, 50000))
    token = csrf_of(client.get(path).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def normalised(response: object, card: str) -> tuple[int, str]:
    """Status and page, without the per-session tokens and the card number typed in."""
    html = re.sub(r'value="[^"]{20,}"', 'value="…"', response.text)  # type: ignore[attr-defined]
    return response.status_code, html.replace(card, "CARD")  # type: ignore[attr-defined]


def code_form(card: str, code: str, new: str) -> dict[str, str]:
    return {"card": card, "code": code, "new_password": new, "new_password_again": new}


def first_form(card: str, birth: tuple[str, str, str], phone: str, new: str) -> dict[str, str]:
    year, month, day = birth
    return {
        "card": card,
        "birth_year": year,
        "birth_month": month,
        "birth_day": day,
        "phone": phone,
        "new_password": new,
        "new_password_again": new,
    }


ICHIRO_BIRTH = ("2014", "6", "20")
ICHIRO_PHONE = "0466-33-3333"


# /password/code


@pytest.mark.parametrize(
    "new",
    ["19850412", "x2100000001x", "図書館で受け取ったコード"],
    ids=["birth-date", "card-number", "fine"],
)
def test_code_unknown_card_and_wrong_code_answer_alike(web: TestClient, new: str) -> None:
    queries.issue_activation_code(HANAKO[0])
    unknown = submit(web, "/password/code", **code_form(UNKNOWN, "ABCD-EFGH-JKMN", new))
    wrong = submit(web, "/password/code", **code_form(HANAKO[0], "ABCD-EFGH-JKMN", new))
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    assert normalised(unknown, UNKNOWN) == normalised(wrong, HANAKO[0])
    assert "カード番号または登録コードが正しくないか" in wrong.text  # type: ignore[attr-defined]


def test_code_personal_rules_apply_once_the_code_holds(web: TestClient) -> None:
    code = queries.issue_activation_code(HANAKO[0])
    birth = submit(web, "/password/code", **code_form(HANAKO[0], code, "1985-04-12"))
    assert birth.status_code == 422 and "生年月日" in birth.text  # type: ignore[attr-defined]
    # The refusal did not use up the code.
    done = submit(web, "/password/code", **code_form(HANAKO[0], code, "図書館で受け取ったコード"))
    assert done.status_code == 303  # type: ignore[attr-defined]


def test_code_site_wide_limit(
    web: TestClient, clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        throttle,
        "CODE_ALL",
        throttle.Limit("code:all", 3, throttle.HOUR, throttle.HOUR, throttle.DAY),
    )
    code = queries.issue_activation_code(HANAKO[0])
    new = "図書館で受け取ったコード"
    # Other cards from other addresses: only the site-wide count reaches its limit.
    refused = [
        submit(web, "/password/code", f"192.0.2.{n}", **code_form(f"29999999{n:02d}", code, new))
        for n in range(3)
    ]
    form = code_form(HANAKO[0], code, new)
    waiting = submit(web, "/password/code", "198.51.100.7", **form)
    assert normalised(waiting, HANAKO[0]) == normalised(refused[0], "2999999900")
    assert "試行回数が多すぎます" in waiting.text  # type: ignore[attr-defined]
    queries.set_clock(lambda: START + timedelta(hours=3))
    assert submit(web, "/password/code", "198.51.100.7", **form).status_code == 303  # type: ignore[attr-defined]


# /password/first


@pytest.mark.parametrize(
    ("birth", "phone", "new"),
    [
        (ICHIRO_BIRTH, "0466-00-0000", "20140620"),  # wrong phone, the birth date as password
        (ICHIRO_BIRTH, "0466²", "本を読むのが好きです"),  # a digit int() cannot read
        (("2014", "6", "21"), ICHIRO_PHONE, "本を読むのが好きです"),  # wrong birth date
        (ICHIRO_BIRTH, ICHIRO_PHONE, "本を読むのが好きです"),  # right facts, password already set
    ],
    ids=["wrong-phone", "odd-digit", "wrong-birth", "already-set"],
)
def test_first_unknown_card_and_wrong_facts_answer_alike(
    web: TestClient, birth: tuple[str, str, str], phone: str, new: str
) -> None:
    card = ICHIRO
    if phone == ICHIRO_PHONE and birth == ICHIRO_BIRTH:
        card = HANAKO[0]  # Hanako has a password already: the first path is closed to her
        birth, phone = ("1985", "4", "12"), "0466-25-1111"
    unknown = submit(web, "/password/first", **first_form(UNKNOWN, birth, phone, new))
    known = submit(web, "/password/first", **first_form(card, birth, phone, new))
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    assert normalised(unknown, UNKNOWN) == normalised(known, card)
    assert "登録内容が一致しないか" in known.text  # type: ignore[attr-defined]


def test_first_personal_rules_apply_once_the_facts_hold(web: TestClient) -> None:
    birth = submit(
        web, "/password/first", **first_form(ICHIRO, ICHIRO_BIRTH, ICHIRO_PHONE, "2014/06/20")
    )
    assert birth.status_code == 422 and "生年月日" in birth.text  # type: ignore[attr-defined]
    card = submit(
        web, "/password/first", **first_form(ICHIRO, ICHIRO_BIRTH, ICHIRO_PHONE, "2100000003!")
    )
    assert card.status_code == 422 and "カード番号" in card.text  # type: ignore[attr-defined]
    # Refusals after the right facts do not use up the card's few attempts.
    for _ in range(3):
        submit(web, "/password/first", **first_form(ICHIRO, ICHIRO_BIRTH, ICHIRO_PHONE, "20140620"))
    done = submit(
        web,
        "/password/first",
        **first_form(ICHIRO, ICHIRO_BIRTH, ICHIRO_PHONE, "本を読むのが好きです"),
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    login = TestClient(web.app, client=("testclient", 50000), cookies=done.cookies)  # type: ignore[attr-defined]
    page = login.get(done.headers["location"])  # type: ignore[attr-defined]
    assert "パスワードを登録しました。" in page.text, (done.headers, page.text.count("flash"))  # type: ignore[attr-defined]


def test_first_site_wide_limit(
    web: TestClient, clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        throttle,
        "FIRST_ALL",
        throttle.Limit("first:all", 3, throttle.HOUR, throttle.HOUR, throttle.DAY),
    )
    new = "本を読むのが好きです"
    # Other cards from other addresses: only the site-wide count reaches its limit.
    refused = [
        submit(
            web,
            "/password/first",
            f"192.0.2.{n}",
            **first_form(f"29999999{n:02d}", ICHIRO_BIRTH, ICHIRO_PHONE, new),
        )
        for n in range(3)
    ]
    form = first_form(ICHIRO, ICHIRO_BIRTH, ICHIRO_PHONE, new)
    waiting = submit(web, "/password/first", "198.51.100.7", **form)
    assert normalised(waiting, ICHIRO) == normalised(refused[0], "2999999900")
    queries.set_clock(lambda: START + timedelta(hours=3))
    assert submit(web, "/password/first", "198.51.100.7", **form).status_code == 303  # type: ignore[attr-defined]
    assert log_in(web, ICHIRO, new).status_code == 303  # type: ignore[attr-defined]


# /password/forgot


@pytest.mark.parametrize("email", ["x@example.jp", "hanakö@example.jp", "ｈａｎａｋｏ@example.com"])
def test_forgot_unknown_card_and_wrong_email_answer_alike(web: TestClient, email: str) -> None:
    unknown = submit(web, "/password/forgot", card=UNKNOWN, email=email)
    known = submit(web, "/password/forgot", card=HANAKO[0], email=email)
    assert unknown.status_code == 200  # type: ignore[attr-defined]
    assert normalised(unknown, UNKNOWN) == normalised(known, HANAKO[0])
    assert not [kind for kind, *_ in mailbox.composed() if kind == "password_reset"]


def test_forgot_takes_the_address_typed_full_width(web: TestClient) -> None:
    submit(web, "/password/forgot", card=HANAKO[0], email=" ＨＡＮＡＫＯ＠ｅｘａｍｐｌｅ．ｊｐ ")
    assert [kind for kind, *_ in mailbox.composed() if kind == "password_reset"] == [
        "password_reset"
    ]


def test_forgot_site_wide_limit(
    web: TestClient, clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        throttle,
        "RESET_ALL",
        throttle.Limit("reset:all", 3, throttle.HOUR, throttle.HOUR, throttle.DAY),
    )
    for n in range(3):
        submit(
            web, "/password/forgot", f"192.0.2.{n}", card=f"29999999{n:02d}", email="x@example.jp"
        )
    waiting = submit(
        web, "/password/forgot", "198.51.100.7", card=HANAKO[0], email="hanako@example.jp"
    )
    assert "再設定用のリンクを送りました" in waiting.text  # type: ignore[attr-defined]
    assert not [kind for kind, *_ in mailbox.composed() if kind == "password_reset"]
    queries.set_clock(lambda: START + timedelta(hours=3))
    submit(web, "/password/forgot", "198.51.100.7", card=HANAKO[0], email="hanako@example.jp")
    assert [kind for kind, *_ in mailbox.composed() if kind == "password_reset"] == [
        "password_reset"
    ]
