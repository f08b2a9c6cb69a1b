"""My data over HTTP (issue 16): the "done when" for the patron, corrections, IDOR, CSRF."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from db.queries import mail
from tests import kiosk as kiosk_helpers
from tests import mailbox
from tests.conftest import Database
from tests.smtp_sink import Server
from tests.test_queries_my_data import tables_holding
from tests.test_web_account import csrf_of, log_in
from tests.test_web_holds import HANAKO, MISAKI, TARO, client_for, patron_id

TARO_VALUES = ("2100000002", "佐藤 太郎", "サトウ タロウ", "鵠沼石上2-2-2", "0466-22-2222")
HANAKO_VALUES = ("2100000001", "山田 花子", "ヤマダ ハナコ", "hanako@example.jp", "朝日町1-1")
TARO_EMAIL = "taro.sato@example.jp"


def post(client: TestClient, url: str, page: str = "/my/data", **data: str) -> object:
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def send_mail(smtp_server: Server) -> int:
    return mail.send_due(smtp_server.settings, datetime.now(UTC), compose=mailbox.COMPOSE).sent


def a_title_for_taro_to_reserve() -> tuple[int, str, str]:
    """(work, barcode, branch) of one of Hanako's loans, its other copies off the shelves,
    so Taro's reservation waits for her copy."""
    loan = queries.list_loans(patron_id(HANAKO[0]))[0]
    code = next(b.code for b in queries.list_branches() if b.name == loan.branch)
    with engine.write() as conn:
        conn.execute(
            text(
                "UPDATE item SET status = 'in_process' WHERE work_id = :w AND barcode <> :b "
                "AND status = 'available'"
            ),
            {"w": loan.work_id, "b": loan.barcode},
        )
    return loan.work_id, loan.barcode, code


def test_done_when(library_db: Database, smtp_server: Server) -> None:
    taro = patron_id(TARO[0])
    with client_for(library_db) as web:
        log_in(web, *TARO)
        page = web.get("/my/data")
        assert page.status_code == 200
        assert "佐藤 太郎" in page.text and "鵠沼石上2-2-2" in page.text
        assert "に削除されます" in page.text  # the 3-year rule's date

        # He adds an email: nothing is used until the link in the mail is opened.
        assert post(web, "/my/data/email", email=TARO_EMAIL, password=TARO[1]).status_code == 303
        assert queries.get_my_data(taro).email is None
        assert send_mail(smtp_server) == 1
        [received] = smtp_server.recorder.received
        assert received.rcpt_tos == [TARO_EMAIL]
        link = re.search(r"https?://\S+/my/email-link\?token=\S+", received.message.get_content())
        assert link is not None
        path = link.group(0).split("://", 1)[1].split("/", 1)[1]
        opened = web.get("/" + path, follow_redirects=False)
        assert opened.status_code == 303 and "token" not in opened.headers["location"]
        confirm_page = web.get(opened.headers["location"])
        assert confirm_page.status_code == 200
        done = web.post(
            "/my/email-link",
            data={"csrf_token": csrf_of(confirm_page.text)},
            follow_redirects=False,
        )
        assert done.status_code == 200
        assert queries.get_my_data(taro).email == TARO_EMAIL
        # Single use: the same link again is refused.
        again = web.get("/" + path)
        reused = web.post("/my/email-link", data={"csrf_token": csrf_of(again.text)})
        assert reused.status_code == 400

        # The downloads hold exactly his data.
        exported = web.get("/my/data/export.json")
        assert exported.status_code == 200
        assert exported.headers["content-disposition"].startswith("attachment")
        assert exported.headers["cache-control"] == "no-store"
        data = json.loads(exported.content)
        assert data["registration"]["card_number"] == TARO[0]
        assert data["registration"]["email"] == TARO_EMAIL
        assert len(data["loans"]) == 1
        assert {"reservations", "reference_questions", "devices", "notice_settings"} <= set(data)
        assert not any(v in exported.text for v in HANAKO_VALUES)
        sheet = web.get("/my/data/export.csv")
        assert sheet.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
        assert sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
        registration = rows[1][0]  # the first section
        values = {row[2]: row[4] for row in rows[1:] if row[0] == registration}
        assert values["card_number"] == TARO[0] and values["email"] == TARO_EMAIL
        assert all(v in sheet.content.decode("utf-8-sig") for v in TARO_VALUES)
        assert not any(v in sheet.content.decode("utf-8-sig") for v in HANAKO_VALUES)

        # Titles in ready notices on, then switched off ("no titles"): the notice has none.
        form = {f"{k}_email": "email" for k in queries.NOTICE_KINDS}
        titles_on = post(web, "/my/notices", "/my/notices", **form, ready_titles="yes")
        assert titles_on.status_code == 303  # type: ignore[attr-defined]
        assert queries.get_notice_settings(taro).settings[0].titles
        assert post(web, "/my/notices", "/my/notices", **form).status_code == 303
        assert not queries.get_notice_settings(taro).settings[0].titles
        work_id, barcode, branch = a_title_for_taro_to_reserve()
        title = queries.get_record(work_id).title
        queries.place_hold(taro, work_id, branch)
        assert queries.return_item(barcode).route == "ready"
        assert send_mail(smtp_server) == 1
        ready = smtp_server.recorder.received[-1]
        assert ready.rcpt_tos == [TARO_EMAIL]
        assert title not in ready.message["Subject"]
        assert title not in ready.message.get_content()
        assert "1 item you reserved is ready for pickup" in ready.message.get_content()

        # Deleting: refused while his loan is out, and the page lists it.
        [loan] = queries.list_loans(taro)
        listing = web.get("/my/data/delete").text
        assert loan.title in listing and 'name="password"' not in listing
        refused = post(web, "/my/data/delete", "/my/data", password=TARO[1], confirm="yes")
        assert refused.status_code == 422  # type: ignore[attr-defined]
        queries.return_item(loan.barcode)
        wrong = post(web, "/my/data/delete", "/my/data/delete", password="nope", confirm="yes")
        assert wrong.status_code == 422  # type: ignore[attr-defined]
        gone = post(web, "/my/data/delete", "/my/data/delete", password=TARO[1], confirm="yes")
        assert gone.status_code == 200  # type: ignore[attr-defined]
        assert "Clear-Site-Data" in gone.headers  # type: ignore[attr-defined]
        assert web.get("/my/data", follow_redirects=False).status_code == 303  # logged out
        assert send_mail(smtp_server) == 1
        last = smtp_server.recorder.received[-1]
        assert last.rcpt_tos == [TARO_EMAIL] and "deleted" in last.message["Subject"]
        # A scan of every table finds nothing of him (audit rows name an id, no values).
        marks = (*TARO_VALUES, TARO_EMAIL)
        assert set(tables_holding(marks, taro)) <= {"staff_audit"}
        assert tables_holding(marks, -1) == []


def test_a_wrong_phone_is_refused_next_to_the_field(web: TestClient) -> None:
    log_in(web, *HANAKO)
    refused = post(web, "/my/data/phone", phone="12-34")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert 'id="phone-error"' in refused.text  # type: ignore[attr-defined]
    assert 'value="12-34"' in refused.text  # type: ignore[attr-defined]
    assert post(web, "/my/data/phone", phone="０４６６－９９－１２３４").status_code == 303
    assert queries.get_my_data(patron_id(HANAKO[0])).phone == "0466-99-1234"


def test_an_address_change_waits_for_the_counter(web: TestClient) -> None:
    log_in(web, *HANAKO)
    bad = post(web, "/my/data/address", postal_code="12", address="")
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert 'id="postal_code-error"' in bad.text and 'id="address-error"' in bad.text  # type: ignore[attr-defined]
    asked = post(web, "/my/data/address", postal_code="２５１－００５２", address="藤沢市藤沢1-1")
    assert asked.status_code == 303
    data = queries.get_my_data(patron_id(HANAKO[0]))
    assert data.address == "神奈川県藤沢市朝日町1-1"  # unchanged until the counter
    assert data.address_change is not None and data.address_change.postal_code == "2510052"
    again = post(web, "/my/data/address", postal_code="2510052", address="藤沢市2")
    assert again.status_code == 422  # type: ignore[attr-defined]
    assert post(web, "/my/data/address/withdraw").status_code == 303
    assert queries.get_my_data(patron_id(HANAKO[0])).address_change is None


def test_nothing_of_another_patron_is_reachable(library_db: Database) -> None:
    """IDOR: nothing on these pages takes an id; a link or request of one patron does
    nothing for another, and each sees only their own."""
    with client_for(library_db) as hanako, client_for(library_db) as misaki:
        log_in(hanako, *HANAKO)
        log_in(misaki, *MISAKI)
        assert (
            post(
                hanako, "/my/data/email", email="hanako.new@example.jp", password=HANAKO[1]
            ).status_code
            == 303
        )
        asked = post(hanako, "/my/data/address", postal_code="2510052", address="A町")
        assert asked.status_code == 303  # type: ignore[attr-defined]
        page = misaki.get("/my/data").text
        assert "hanako.new@example.jp" not in page and "A町" not in page
        assert "山田" not in misaki.get("/my/data/export.json").text
        # Misaki's withdrawals touch her own (absent) requests only.
        assert post(misaki, "/my/data/email/cancel").status_code == 303
        assert post(misaki, "/my/data/address/withdraw").status_code == 303
        hanako_data = queries.get_my_data(patron_id(HANAKO[0]))
        assert hanako_data.email_waiting == "hanako.new@example.jp"
        assert hanako_data.address_change is not None
        # Paths with someone else's id do not exist at all.
        assert misaki.get(f"/my/data/{patron_id(HANAKO[0])}").status_code == 404


def test_state_changes_need_the_csrf_token(web: TestClient) -> None:
    log_in(web, *MISAKI)
    for url in (
        "/my/data/email",
        "/my/data/email/cancel",
        "/my/data/phone",
        "/my/data/address",
        "/my/data/address/withdraw",
        "/my/notices",
        "/my/data/delete",
        "/my/email-link",
    ):
        refused = web.post(url, data={"password": MISAKI[1], "confirm": "yes"})
        assert refused.status_code == 403, url
        foreign = web.post(
            url,
            data={"csrf_token": csrf_of(web.get("/my/data").text), "confirm": "yes"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403, url
    assert queries.get_my_data(patron_id(MISAKI[0])).card_number == MISAKI[0]


def test_pages_need_a_login(web: TestClient) -> None:
    for url in ("/my/data", "/my/data/export.json", "/my/data/export.csv", "/my/notices"):
        response = web.get(url, follow_redirects=False)
        assert response.status_code == 303 and "/login" in response.headers["location"], url


MY_NOTICES = {
    "hold_ready": {"count": 1, "branch": "minami", "until": "2026-11-27"},
    "due_reminder": {"loans": [{"due": "2026-12-05"}, {"due": "2026-12-06"}]},
    "overdue_reminder": {"loans": [{"due": "2026-11-05", "title": "こころ"}]},
    "email_confirm": {"link": "https://opac.example.jp/my/email-link?token=abc", "hours": 24},
    "purge_reminder": {"purge_on": "2026-12-21"},
    "account_deleted": {"when": "2026-11-21T09:00:00+00:00"},
}


def test_each_new_notice_reads_in_both_languages(fresh_db: Database) -> None:
    """Without titles by default, never one in a subject; the warning ends every mail."""
    expected = {
        ("hold_ready", "ja"): "ご予約の資料が1点ご用意できました（受取館：南市民図書館）。",
        ("hold_ready", "en"): "1 item you reserved is ready for pickup at Minami Civic Library.",
        ("due_reminder", "ja"): "  2026年12月5日(土)\n  2026年12月6日(日)\n",
        ("overdue_reminder", "en"): "This item is past its due date:\n  Thu 5 Nov 2026  こころ\n",
        ("email_confirm", "ja"): "https://opac.example.jp/my/email-link?token=abc",
        ("purge_reminder", "ja"): "2026年12月21日(月)に利用者登録と",
        ("account_deleted", "en"): "were deleted at your request",
    }
    never_ask = {
        "ja": "図書館が電話やメールでパスワードをおたずねすることはありません。",
        "en": "The library never asks for your password by phone or email.",
    }
    for kind, params in MY_NOTICES.items():
        for lang in ("ja", "en"):
            subject, body = mailbox.COMPOSE(kind, lang, params)
            assert "こころ" not in subject and subject.startswith(("【", "["))
            assert body.endswith(f"\n{never_ask[lang]}\n"), (kind, lang)
            if (kind, lang) in expected:
                assert expected[(kind, lang)] in body, (kind, lang, body)


def test_a_library_terminal_offers_no_download(web: TestClient) -> None:
    """A kiosk keeps nothing for the next person: no file either."""
    web = kiosk_helpers.enrol(web)  # issue 15: the terminal, not a checkbox, makes a kiosk
    log_in(web, *HANAKO)
    page = web.get("/my/data").text
    assert "/my/data/export.json" not in page and "山田 花子" in page
    for url in ("/my/data/export.json", "/my/data/export.csv"):
        refused = web.get(url)
        assert refused.status_code == 403 and "山田" not in refused.text, url


def test_a_wrong_password_changes_no_email(web: TestClient) -> None:
    log_in(web, *HANAKO)
    refused = post(web, "/my/data/email", email="hanako.new@example.jp", password="nope")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    said = refused.text  # type: ignore[attr-defined]
    assert 'id="email_password-error"' in said and 'value="hanako.new@example.jp"' in said
    assert queries.get_my_data(patron_id(HANAKO[0])).email_waiting is None
    assert mailbox.composed() == []


def test_a_library_terminal_changes_no_email(web: TestClient) -> None:
    """A shared terminal: the next person must not be able to move the reset address."""
    web = kiosk_helpers.enrol(web)
    log_in(web, *HANAKO)
    page = web.get("/my/data").text
    assert 'action="/my/data/email"' not in page
    assert "図書館の端末ではメールアドレスを変更できません" in page
    refused = post(web, "/my/data/email", email="hanako.new@example.jp", password=HANAKO[1])
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "図書館の端末ではメールアドレスを変更できません" in refused.text  # type: ignore[attr-defined]
    assert queries.get_my_data(patron_id(HANAKO[0])).email_waiting is None
    assert mailbox.composed() == []


def test_a_bad_reminder_day_saves_no_notice_setting(web: TestClient) -> None:
    log_in(web, *HANAKO)
    hanako = patron_id(HANAKO[0])
    before = queries.get_notice_settings(hanako)
    form = {f"{k}_email": "none" for k in queries.NOTICE_KINDS}
    refused = post(
        web, "/my/notices", "/my/notices", **{**form, "due_soon_email": "email"}, reminder_days="4"
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert queries.get_notice_settings(hanako) == before
