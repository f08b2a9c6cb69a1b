"""Reservations over HTTP: the issue's "done when", no-JS and htmx variants, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from db.queries import mail
from tests import mailbox
from tests.conftest import Database, app_settings
from tests.smtp_sink import Server
from tests.test_web_account import HTMX, csrf_of, log_in
from web.app import create_app

HANAKO = ("2100000001", "hon-wo-yomu-2026")  # sogo, email hanako@example.jp
TARO = ("2100000002", "tosho-kan-taro-7")  # English, no email, 1 loan
MISAKI = ("2100000004", "misaki-no-hon-99")  # email misaki@example.jp


def client_for(db: Database) -> TestClient:
    return TestClient(create_app(app_settings(db.url)))


def patron_id(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def taros_loan() -> tuple[int, str, str]:
    """(work id, barcode, branch code) of the title Taro has on loan. Its other copies are
    taken off the shelves (being processed), so a reservation waits in the queue for his
    copy instead of going on a pull list (db.pulling)."""
    [loan] = queries.list_loans(patron_id(TARO[0]))
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


def return_overdue(card: str) -> None:
    """Issue 12: the counter refuses a patron with overdue items, so they come back first."""
    for loan in queries.list_loans(patron_id(card)):
        if loan.overdue:
            queries.return_item(loan.barcode)


def reserve(client: TestClient, work_id: int, pickup: str, **headers: str) -> object:
    page = client.get(f"/records/{work_id}/hold")
    assert page.status_code == 200
    return client.post(
        f"/records/{work_id}/hold",
        data={"pickup": pickup, "csrf_token": csrf_of(page.text)},
        headers=headers,
        follow_redirects=False,
    )


def test_done_when(library_db: Database, smtp_server: Server) -> None:
    work_id, barcode, branch = taros_loan()
    with client_for(library_db) as a, client_for(library_db) as b:
        # A newcomer reserves a checked-out title as Hanako, from the record page.
        log_in(a, *HANAKO)
        record = a.get(f"/records/{work_id}")
        assert f'href="/records/{work_id}/hold"' in record.text
        response = reserve(a, work_id, branch)
        assert response.status_code == 303 and response.headers["location"] == "/my/holds"
        mine = a.get("/my/holds").text
        assert "あなたは 1 番目" in mine and "予約しました" in mine

        # A second demo patron reserves it too.
        log_in(b, *MISAKI)
        assert reserve(b, work_id, branch).status_code == 303
        assert "あなたは 2 番目" in b.get("/my/holds").text

        # Hanako asked for titles in her ready notices (issue 16: none unless asked).
        queries.set_notice_settings(patron_id(HANAKO[0]), {"ready": (True, True)})
        # At the staff counter the item is returned (the console calls the same function).
        assert queries.return_item(barcode).route == "ready"
        report = mail.send_due(smtp_server.settings, datetime.now(UTC), compose=mailbox.COMPOSE)
        assert report.sent == 1
        [received] = smtp_server.recorder.received
        assert received.rcpt_tos == ["hanako@example.jp"]
        message = received.message
        assert "ご用意しました" in message["Subject"]
        title = queries.get_record(work_id).title
        assert title not in message["Subject"]
        assert title in message.get_content()

        hold = queries.list_holds(patron_id(HANAKO[0]))[0]
        assert hold.ready_until is not None
        page = a.get("/my/holds").text
        d = hold.ready_until
        assert (
            f"{d.year}年{d.month}月{d.day}日({'月火水木金土日'[d.weekday()]})までにお受け取りください"
            in page
        )

        # Checkout to Hanako deletes the reservation; Misaki becomes number 1.
        return_overdue(HANAKO[0])
        queries.checkout(HANAKO[0], barcode)
        assert "予約している資料はありません" in a.get("/my/holds").text
        assert "あなたは 1 番目" in b.get("/my/holds").text


def test_reserve_with_htmx_swaps_the_form_and_refusals_are_422(web: TestClient) -> None:
    work_id, _, _ = taros_loan()
    log_in(web, *HANAKO)
    form = web.get(f"/records/{work_id}/hold", headers=HTMX)
    assert form.text.startswith('<div id="hold-form"') or 'id="hold-form"' in form.text
    assert "<html" not in form.text
    assert 'value="sogo" selected' in form.text  # the home branch preselected
    placed = reserve(web, work_id, "sogo", **HTMX)
    assert placed.status_code == 200 and "予約済み" in placed.text and "1 番目" in placed.text
    again = web.post(
        f"/records/{work_id}/hold",
        data={"pickup": "sogo", "csrf_token": csrf_of(web.get("/my/holds").text)},
        headers=HTMX,
    )
    # A double submit: refused, and the form shows the one reservation there is.
    assert again.status_code == 422 and "予約済み" in again.text
    assert len(queries.list_holds(patron_id(HANAKO[0]))) == 1
    bad = reserve(web, next(iter(_reference_work())), "sogo")
    assert bad.status_code == 422 and "予約できません" in bad.text


def _reference_work() -> list[int]:
    with engine.read() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT w.id FROM work w WHERE NOT EXISTS (SELECT 1 FROM item i "
                    "JOIN material_type m ON m.code = i.material_type "
                    "WHERE i.work_id = w.id AND m.reservable) ORDER BY w.id LIMIT 1"
                )
            ).scalars()
        )


def test_row_actions_without_js_and_with_htmx(web: TestClient) -> None:
    work_id, _, _ = taros_loan()
    log_in(web, *HANAKO)
    reserve(web, work_id, "sogo")
    hold = queries.list_holds(patron_id(HANAKO[0]))[0]
    token = csrf_of(web.get("/my/holds").text)

    moved = web.post(
        f"/my/holds/{hold.id}/pickup",
        data={"pickup": "minami", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert "受取館を変更しました" in web.get("/my/holds").text

    row = web.post(
        f"/my/holds/{hold.id}/suspend",
        data={"until": "2099-01-01", "csrf_token": token},
        headers=HTMX,
    )
    assert row.status_code == 422 and f'id="hold-{hold.id}"' in row.text
    assert "休止の期限" in row.text
    until = queries.to_library_time(datetime.now(UTC)).date().isoformat()
    bad = web.post(
        f"/my/holds/{hold.id}/suspend",
        data={"until": "not a date", "csrf_token": token},
        headers=HTMX,
    )
    assert bad.status_code == 422 and f'id="until-{hold.id}-error"' in bad.text
    assert 'value="not a date"' in bad.text and 'type="date"' not in bad.text
    assert "令和8年12月28日" in bad.text
    from datetime import date, timedelta

    # Typed as people type it: full-width digits (和暦 reads the same way, web.forms).
    later = (
        (date.fromisoformat(until) + timedelta(days=10))
        .isoformat()
        .translate(str.maketrans("0123456789-", "０１２３４５６７８９／"))
    )
    row = web.post(
        f"/my/holds/{hold.id}/suspend", data={"until": later, "csrf_token": token}, headers=HTMX
    )
    assert row.status_code == 200 and "休止中" in row.text and "<html" not in row.text
    row = web.post(f"/my/holds/{hold.id}/resume", data={"csrf_token": token}, headers=HTMX)
    assert row.status_code == 200 and "あなたは 1 番目" in row.text

    gone = web.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": token}, headers=HTMX)
    assert gone.status_code == 200 and "予約を取り消しました" in gone.text
    again = web.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": token}, headers=HTMX)
    assert again.status_code == 404 and again.headers["HX-Retarget"] == "#alerts"


def test_another_patrons_hold_is_404_and_pages_need_login(library_db: Database) -> None:
    work_id, _, _ = taros_loan()
    with client_for(library_db) as a, client_for(library_db) as b:
        for url in ("/my/holds", f"/records/{work_id}/hold"):
            assert a.get(url, follow_redirects=False).headers["location"].startswith("/login")
        log_in(a, *HANAKO)
        reserve(a, work_id, "sogo")
        hold = queries.list_holds(patron_id(HANAKO[0]))[0]
        log_in(b, *MISAKI)
        token = csrf_of(b.get("/my/holds").text)
        for action in ("cancel", "resume"):
            response = b.post(f"/my/holds/{hold.id}/{action}", data={"csrf_token": token})
            assert response.status_code == 404
        assert queries.get_hold(patron_id(HANAKO[0]), hold.id).id == hold.id
        assert a.get("/my/holds").headers["cache-control"] == "no-store"
        # No CSRF token, no change.
        assert a.post(f"/my/holds/{hold.id}/cancel").status_code == 403


@pytest.mark.parametrize(
    ("lang", "counter", "own"),
    [
        ("en", "Ask at a counter", "You can add one on the My data page."),
        ("ja", "カウンターでお申し出", "「わたしの登録情報」のページで登録できます。"),
    ],
)
@pytest.mark.parametrize("path", ["/my/holds", "/my/reference/new"])
def test_without_email_the_patron_is_sent_to_my_data_not_to_a_counter(
    web: TestClient, path: str, lang: str, counter: str, own: str
) -> None:
    """Patrons add an email themselves on My data (as /my/notices says)."""
    log_in(web, *TARO)
    web.cookies.set("shiori_lang", lang)
    page = web.get(path).text
    assert own in page and 'href="/my/data"' in page
    assert counter not in page


def test_notice_settings_and_english(web: TestClient) -> None:
    log_in(web, *TARO)
    web.cookies.set("shiori_lang", "en")
    page = web.get("/my/holds").text
    assert "no email address registered" in page
    token = csrf_of(page)
    saved = web.post(
        "/my/holds/notices", data={"reminder_days": "3", "csrf_token": token}, headers=HTMX
    )
    assert saved.status_code == 200 and "Notice settings saved" in saved.text
    prefs = queries.get_notice_prefs(patron_id(TARO[0]))
    assert (prefs.hold_ready, prefs.due_reminder_days) == (False, 3)
    assert "Reservations" in web.get("/my").text
