"""/register (issue 13): the applicant's form without and with htmx, the anti-automation
checks, the emailed link, and the receipt with its QR code."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from tests.conftest import Database
from tests.mailbox import composed
from tests.test_web_account import csrf_of
from web import registration

HX = {"HX-Request": "true"}


def form_of(web: TestClient, **changes: str) -> dict[str, str]:
    page = web.get("/register")
    assert page.status_code == 200
    started = re.search(r'name="started" value="([^"]+)"', page.text)
    assert started is not None
    data = {
        "csrf_token": csrf_of(page.text),
        "started": _started_before(web, 10),  # as if the applicant took ten seconds
        "name": "藤沢 一葉",
        "name_kana": "ふじさわ かずは",
        "birth_date": "平成2年4月1日",
        "postal_code": "２５１－００５２",
        "address": "神奈川県藤沢市藤沢999-9",
        "phone": "０４６６－２２－１２３４",
        "email": "",
        "category": "",
        "home_branch": "sogo",
        "consent": "yes",
        "website": "",
    }
    return data | changes


def _started_before(web: TestClient, seconds: int) -> str:
    from itsdangerous import Signer

    secret = web.app.state.settings.secret_key  # type: ignore[attr-defined]
    return (
        Signer(secret, salt="shiori.register.started")
        .sign(str(int(time.time()) - seconds))
        .decode()
    )


def applications() -> list[dict[str, object]]:
    with engine.read() as conn:
        return [
            dict(r._mapping) for r in conn.execute(text("SELECT * FROM application ORDER BY id"))
        ]


def test_the_form_works_without_javascript(web: TestClient) -> None:
    page = web.get("/register")
    assert page.status_code == 200
    for name in queries.APPLICATION_FIELDS:
        assert f'name="{name}"' in page.text
    assert "個人情報" in page.text or "privacy" in page.text.lower()
    response = web.post("/register", data=form_of(web), follow_redirects=False)
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/register/receipt"
    [row] = applications()
    assert row["phone_digits"] == "0466221234" and row["name_kana"] == "フジサワ カズハ"
    assert str(row["birth_date"]) == "1990-04-01"
    assert row["category"] == "general"  # suggested from the birth date
    receipt = web.get("/register/receipt")
    assert receipt.status_code == 200
    number = queries.format_receipt_number(str(row["receipt_number"]))
    assert number in receipt.text
    assert "<svg" in receipt.text and 'role="img"' in receipt.text and number in receipt.text
    assert "本人確認書類" in receipt.text
    assert receipt.headers["cache-control"] == "no-store"


def test_a_failed_submit_keeps_everything_typed(web: TestClient) -> None:
    data = form_of(web, phone="12-34", name_kana="藤沢")
    response = web.post("/register", data=data)
    assert response.status_code == 422
    assert 'id="phone-error"' in response.text and 'id="name_kana-error"' in response.text
    for value in (
        "藤沢 一葉",
        "平成2年4月1日",
        "２５１－００５２",
        "神奈川県藤沢市藤沢999-9",
        "12-34",
    ):
        assert value in response.text
    assert applications() == []


def test_consent_is_required(web: TestClient) -> None:
    response = web.post("/register", data=form_of(web, consent=""))
    assert response.status_code == 422 and 'id="consent-error"' in response.text
    assert applications() == []


def test_a_filled_honeypot_is_refused(web: TestClient) -> None:
    response = web.post("/register", data=form_of(web, website="http://spam.example"))
    assert response.status_code == 422 and applications() == []


def test_a_form_sent_too_fast_is_refused_and_kept(web: TestClient) -> None:
    response = web.post("/register", data=form_of(web, started=_started_before(web, 0)))
    assert response.status_code == 422 and "藤沢 一葉" in response.text
    assert applications() == []
    forged = web.post("/register", data=form_of(web, started="123.forged"))
    assert forged.status_code == 422 and applications() == []


def test_each_field_is_checked_as_it_is_left(web: TestClient) -> None:
    data = form_of(web, phone="0466")
    response = web.post("/register/check?field=phone", data=data, headers=HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div class="field" id="field-phone"')
    assert 'id="phone-error"' in response.text and "<html" not in response.text
    # The birth date suggests a category, out of band; the postal code fills the city.
    born = web.post(
        "/register/check?field=birth_date", data=form_of(web, birth_date="R2.4.1"), headers=HX
    )
    assert 'id="field-category" hx-swap-oob="true"' in born.text
    assert '<option value="elementary" selected>' in born.text
    postal = web.post(
        "/register/check?field=postal_code", data=form_of(web, address=""), headers=HX
    )
    assert 'id="field-address" hx-swap-oob="true"' in postal.text
    assert 'value="神奈川県藤沢市"' in postal.text
    # Without htmx the same URL is the whole form.
    whole = web.post("/register/check?field=phone", data=data)
    assert whole.status_code == 422 and "<html" in whole.text


def test_an_email_application_waits_for_its_link(web: TestClient) -> None:
    response = web.post(
        "/register", data=form_of(web, email="kazuha@example.jp"), follow_redirects=False
    )
    assert urlsplit(response.headers["location"]).path == "/register/sent"
    assert web.get("/register/receipt").status_code == 400  # no receipt yet
    [(kind, to_addr, _subject, body)] = composed()
    assert (kind, to_addr) == ("application_confirm", "kazuha@example.jp")
    assert body is not None
    link = re.search(r"(http\S+/register/confirm\?token=\S+)", body)
    assert link is not None
    path = urlsplit(link.group(1))
    exchanged = web.get(f"{path.path}?{path.query}", follow_redirects=False)
    assert exchanged.status_code == 303  # the token leaves the address bar
    page = web.get("/register/confirm")
    assert page.status_code == 200 and not applications()[0]["counted_at"]  # GET changes nothing
    done = web.post(
        "/register/confirm", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert urlsplit(done.headers["location"]).path == "/register/receipt"
    receipt = web.get("/register/receipt")
    number = queries.format_receipt_number(str(applications()[0]["receipt_number"]))
    assert receipt.status_code == 200 and number in receipt.text
    kinds = [m[0] for m in composed()]
    assert kinds == ["application_confirm", "application_receipt"]
    mailed = composed()[1][3]
    assert mailed is not None and number in mailed and "本人確認書類" in mailed
    again = web.get(f"{path.path}?{path.query}")
    again_post = web.post("/register/confirm", data={"csrf_token": csrf_of(again.text)})
    assert again_post.status_code == 400


def test_a_second_identical_application_is_flagged(web: TestClient) -> None:
    web.post("/register", data=form_of(web))
    response = web.post("/register", data=form_of(web, name="藤沢一葉"))
    assert response.status_code == 200 and 'class="notice"' in response.text  # go to the counter
    assert [bool(a["probable_duplicate"]) for a in applications()] == [False, True]


def test_submissions_are_throttled_per_address(web: TestClient) -> None:
    limit = 10
    for n in range(limit):
        web.post("/register", data=form_of(web, phone=f"0466-22-{1000 + n}"))
    response = web.post("/register", data=form_of(web, phone="0466-22-2000"))
    assert response.status_code == 422
    assert len(applications()) == limit


def test_privacy_notice_says_when_it_is_deleted(web: TestClient) -> None:
    page = web.get("/register/privacy", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "30 days" in page.text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_messages_are_in_the_page_language(web: TestClient, lang: str) -> None:
    web.cookies.set("shiori_lang", lang)
    response = web.post("/register", data=form_of(web, postal_code="12"))
    error = re.search(r'id="postal_code-error">([^<]+)<', response.text)
    assert error is not None
    assert ("郵便番号" in error.group(1)) == (lang == "ja")


def test_qr_code_holds_the_receipt_number() -> None:
    svg = registration.qr_svg("1234567897")
    assert svg.startswith("<svg") and "receipt-qr" in svg


def test_application_days_setting(library_db: Database) -> None:
    from tests.conftest import app_settings

    assert app_settings(library_db.url, SHIORI_APPLICATION_DAYS="14").application_days == 14


def test_a_corrected_birth_date_suggests_again_until_the_applicant_chooses(
    web: TestClient,
) -> None:
    """The page's own suggestion follows the birth date; a category the applicant chose
    stays (the walk: H30.1.1 then S30.1.1 kept 小学生以下)."""

    def check(**changes: str) -> str:
        data = form_of(web, **changes)
        return web.post("/register/check?field=birth_date", data=data, headers=HX).text

    child = check(birth_date="H30.1.1")
    assert '<option value="elementary" selected>' in child
    assert 'name="suggested_category" value="elementary"' in child
    adult = check(birth_date="S30.1.1", category="elementary", suggested_category="elementary")
    assert '<option value="general" selected>' in adult
    chosen = check(birth_date="S30.1.1", category="other", suggested_category="elementary")
    assert '<option value="other" selected>' in chosen


def test_the_receipt_names_a_last_day_some_library_is_open(web: TestClient) -> None:
    """Applied on 12/2 (+30 is 1/1, in 年末年始 12/28–1/4 everywhere): the receipt page and
    the receipt mail name 1/5, and say it is any library on a day it is open."""
    manager = queries.StaffActor(1, "M001", "試験 管理", "manager", (), 1)
    queries.add_branch_closure(manager, "", date(2026, 12, 28), date(2027, 1, 4), "new_year")
    queries.set_clock(lambda: datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
    try:
        response = web.post(
            "/register", data=form_of(web, email="kazuha@example.jp"), follow_redirects=False
        )
        assert urlsplit(response.headers["location"]).path == "/register/sent"
        [(_kind, _to, _subject, body)] = composed()
        link = re.search(r"(http\S+/register/confirm\?token=\S+)", body or "")
        assert link is not None
        path = urlsplit(link.group(1))
        page = web.get(f"{path.path}?{path.query}")
        web.post("/register/confirm", data={"csrf_token": csrf_of(page.text)})
        receipt = web.get("/register/receipt")
        mailed = composed()[1][3] or ""
    finally:
        queries.set_clock(None)
    for text_ in (receipt.text, mailed):
        assert "2027年1月5日" in text_ and "2027年1月1日" not in text_
        assert "までの開館日に" in text_
    assert 'href="/calendar"' in receipt.text
