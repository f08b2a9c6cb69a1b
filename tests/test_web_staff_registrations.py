"""Making patrons at the counter over HTTP: the activation-code slip from a patron record
(and, with the applications, the registration queue, confirm, reject and walk-in): the
roles that may and may not, the audit rows, CSRF."""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.testclient import TestClient

from db import queries
from tests import test_web_staff
from tests.mailbox import COMPOSE
from tests.test_queries_registration import FORM, submit
from tests.test_web_account import csrf_of, log_in
from tests.test_web_staff import Console, audit_rows, patron_id

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

ICHIRO = "2100000003"  # a demo patron without a web password
NEW_PASSWORD = "図書館で受け取ったコード"


def code_on(slip: str) -> str:
    found = re.search(r'class="slip-code">([A-Z0-9-]+)<', slip)
    assert found, "no code on the slip"
    return found.group(1)


def set_password_with(client: TestClient, card: str, code: str) -> int:
    data = {
        "csrf_token": csrf_of(client.get("/password/code").text),
        "card": card,
        "code": code,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
    }
    return client.post("/password/code", data=data, follow_redirects=False).status_code


def test_staff_issue_a_code_the_patron_sets_a_password_with(
    team: dict[str, Console], app: object
) -> None:
    staff = team["staff"]
    ichiro = patron_id(ICHIRO)
    page = f"/staff/patrons/{ichiro}"
    record = staff.get(page).text  # type: ignore[attr-defined]
    assert f'action="/staff/patrons/{ichiro}/code"' in record
    before = len(audit_rows())
    slip = staff.post(f"{page}/code", page, width="receipt")
    assert slip.status_code == 200  # type: ignore[attr-defined]
    body = slip.text  # type: ignore[attr-defined]
    assert "slip-receipt" in body and ICHIRO in body and "/password/code" in body
    assert slip.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    code = code_on(body)
    issued = [r for r in audit_rows()[before:] if r[3] == "issue_code"]
    assert issued == [("STA01", ichiro, "card", "issue_code", "allowed")]
    # A second code replaces the first.
    newer = code_on(staff.post(f"{page}/code", page).text)  # type: ignore[attr-defined]
    patron = TestClient(app)  # type: ignore[arg-type]
    assert set_password_with(patron, ICHIRO, code) == 422
    assert set_password_with(patron, ICHIRO, newer) == 303
    assert log_in(patron, ICHIRO, NEW_PASSWORD).headers["location"] == "/my"  # type: ignore[attr-defined]
    assert set_password_with(patron, ICHIRO, newer) == 422  # single use


def test_temporary_staff_and_interns_may_not_issue_codes(team: dict[str, Console]) -> None:
    ichiro = patron_id(ICHIRO)
    page = f"/staff/patrons/{ichiro}"
    before = len(audit_rows())
    for role in ("temporary", "intern"):
        console = team[role]
        assert "/code" not in console.get(page).text  # type: ignore[attr-defined]
        refused = console.post(f"{page}/code", page)
        assert refused.status_code == 403 and "slip-code" not in refused.text  # type: ignore[attr-defined]
    refused_rows = [r for r in audit_rows()[before:] if r[4] == "refused"]
    assert [(r[0], r[1], r[3]) for r in refused_rows] == [
        ("TEM01", ichiro, "patron.code"),
        ("INT01", ichiro, "patron.code"),
    ]


def test_issuing_a_code_needs_the_csrf_token(team: dict[str, Console]) -> None:
    staff = team["staff"]
    ichiro = patron_id(ICHIRO)
    before = len(audit_rows())
    forged = staff.client.post(
        f"/staff/patrons/{ichiro}/code", data={"width": "a4"}, follow_redirects=False
    )
    assert forged.status_code == 403 and "slip-code" not in forged.text
    assert [r for r in audit_rows()[before:] if r[3] == "issue_code"] == []


def test_a_code_for_no_such_patron_is_404(team: dict[str, Console]) -> None:
    staff = team["staff"]
    assert staff.post("/staff/patrons/999999/code", "/staff/patrons").status_code == 404  # type: ignore[attr-defined]


def _application(**changes: str) -> str:
    """A counted application (reglead's query function); its receipt number."""
    return submit(replace(FORM, **changes)).receipt_number  # type: ignore[arg-type]


def _registration_url(console: Console, receipt: str) -> str:
    found = console.post("/staff/registrations/find", "/staff/registrations", receipt=receipt)
    assert found.status_code == 303, found.text  # type: ignore[attr-defined]
    location: str = found.headers["location"]  # type: ignore[attr-defined]
    return location


def test_find_by_scanned_receipt_confirm_and_the_patron_logs_in(
    team: dict[str, Console], app: object
) -> None:
    receipt = _application(phone="０９０－１２３４－５６７８")
    staff = team["staff"]
    queue = staff.get("/staff/registrations").text  # type: ignore[attr-defined]
    assert queries.format_receipt_number(receipt) in queue and "藤沢 一葉" in queue
    assert 'name="receipt"' in queue and "autofocus" in queue
    url = _registration_url(staff, receipt + "\n")  # the scanner ends with Enter
    page = staff.get(url).text  # type: ignore[attr-defined]
    assert "藤沢 一葉" in page and "090-1234-5678" in page and "/confirm" in page
    before = len(audit_rows())
    slip = staff.post(f"{url}/confirm", url, width="a4")
    assert slip.status_code == 200, slip.text  # type: ignore[attr-defined]
    body = slip.text  # type: ignore[attr-defined]
    card = re.search(r'class="slip-card">(\d{10})<', body)
    assert card and "slip-a4" in body and "/password/code" in body
    registered = [r for r in audit_rows()[before:] if r[3] == "register"]
    assert registered == [
        ("STA01", patron_id(card.group(1)), "name,contact,birth_date,card", "register", "allowed")
    ]
    assert staff.get(url).status_code == 404  # type: ignore[attr-defined]
    patron = TestClient(app)  # type: ignore[arg-type]
    assert set_password_with(patron, card.group(1), code_on(body)) == 303
    assert log_in(patron, card.group(1), NEW_PASSWORD).headers["location"] == "/my"  # type: ignore[attr-defined]
    assert "藤沢 一葉" in patron.get("/my").text


def test_a_wrong_receipt_number_is_said_next_to_the_field(team: dict[str, Console]) -> None:
    staff = team["staff"]
    wrong = staff.post("/staff/registrations/find", "/staff/registrations", receipt="12345")
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert 'id="receipt-error"' in wrong.text and 'aria-invalid="true"' in wrong.text  # type: ignore[attr-defined]


def test_interns_see_the_queue_masked_and_may_not_act(team: dict[str, Console]) -> None:
    receipt = _application()
    intern = team["intern"]
    queue = intern.get("/staff/registrations").text  # type: ignore[attr-defined]
    assert queries.format_receipt_number(receipt) in queue
    assert "藤沢" not in queue and "（非表示）" in queue and "/registrations/new" not in queue
    url = _registration_url(intern, receipt)
    before = len(audit_rows())
    page = intern.get(url).text  # type: ignore[attr-defined]
    assert "藤沢" not in page and "0466" not in page and "/confirm" not in page
    assert audit_rows()[before:] == [("INT01", None, "", "view", "allowed")]
    for action in ("confirm", "reject", "correct"):
        refused = intern.post(f"{url}/{action}", url, reason="other")
        assert refused.status_code == 403, action  # type: ignore[attr-defined]
    assert intern.get("/staff/registrations/new").status_code == 403  # type: ignore[attr-defined]
    refused_rows = [r for r in audit_rows()[before:] if r[4] == "refused"]
    assert len(refused_rows) == 4 and {r[3] for r in refused_rows} == {"patron.register"}
    assert intern.get(url).status_code == 200  # type: ignore[attr-defined]  # still there


def test_correct_reject_and_the_probable_duplicate(team: dict[str, Console]) -> None:
    _application()
    receipt = _application()  # the same person twice: flagged
    staff = team["staff"]
    url = _registration_url(staff, receipt)
    page = staff.get(url).text  # type: ignore[attr-defined]
    assert "duplicate-flag" in page and 'name="duplicate_checked"' in page
    unchecked = staff.post(f"{url}/confirm", url)
    assert unchecked.status_code == 422 and 'id="confirm-error"' in unchecked.text  # type: ignore[attr-defined]
    bad = staff.post(f"{url}/correct", url, **{**_typed(), "phone": "12", "birth_date": "平成99年"})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert 'id="phone-error"' in bad.text and 'id="birth_date-error"' in bad.text  # type: ignore[attr-defined]
    assert 'value="12"' in bad.text and 'value="平成99年"' in bad.text  # type: ignore[attr-defined]
    fixed = staff.post(f"{url}/correct", url, **{**_typed(), "birth_date": "H2.4.2"})
    assert fixed.status_code == 303  # type: ignore[attr-defined]
    assert "1990" in staff.get(url).text and "duplicate-flag" not in staff.get(url).text  # type: ignore[attr-defined]
    no_reason = staff.post(f"{url}/reject", url, reason="")
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.text  # type: ignore[attr-defined]
    rejected = staff.post(f"{url}/reject", url, reason="no_identification")
    assert rejected.status_code == 303  # type: ignore[attr-defined]
    assert rejected.headers["location"] == "/staff/registrations"  # type: ignore[attr-defined]
    assert staff.get(url).status_code == 404  # type: ignore[attr-defined]


def _typed(**changes: str) -> dict[str, str]:
    return {
        "name": "辻堂　海",
        "name_kana": "つじどう うみ",
        "birth_date": "平成2年4月1日",
        "postal_code": "２５１－００５２",
        "address": "神奈川県藤沢市辻堂1-1",
        "phone": "０４６６－３３－９９９９",
        "email": "",
        "category": "general",
        "home_branch": "tsujido",
        **changes,
    }


def test_walk_in_registration_over_http(team: dict[str, Console]) -> None:
    staff = team["staff"]
    form = staff.get("/staff/registrations/new").text  # type: ignore[attr-defined]
    assert 'name="name_kana"' in form and 'name="csrf_token"' in form
    bad = staff.post(
        "/staff/registrations/new", "/staff/registrations/new", **_typed(name_kana="Umi")
    )
    assert bad.status_code == 422 and 'id="name_kana-error"' in bad.text  # type: ignore[attr-defined]
    assert 'value="辻堂　海"' in bad.text  # type: ignore[attr-defined]  # everything typed kept
    made = staff.post(
        "/staff/registrations/new", "/staff/registrations/new", **_typed(), width="receipt"
    )
    assert made.status_code == 200 and "slip-receipt" in made.text  # type: ignore[attr-defined]
    card = re.search(r'class="slip-card">(\d{10})<', made.text)  # type: ignore[attr-defined]
    assert card and code_on(made.text)  # type: ignore[attr-defined]
    # The same person again is flagged: staff must say they checked.
    again = staff.post("/staff/registrations/new", "/staff/registrations/new", **_typed())
    assert again.status_code == 422 and 'id="duplicate-error"' in again.text  # type: ignore[attr-defined]
    for role in ("temporary", "intern"):
        refused = team[role].post("/staff/registrations/new", "/staff/registrations", **_typed())
        assert refused.status_code == 403  # type: ignore[attr-defined]


def test_registration_forms_need_the_csrf_token(team: dict[str, Console]) -> None:
    receipt = _application()
    staff = team["staff"]
    url = _registration_url(staff, receipt)
    for path, data in (
        (f"{url}/confirm", {}),
        (f"{url}/reject", {"reason": "other"}),
        ("/staff/registrations/new", _typed()),
        ("/staff/registrations/find", {"receipt": receipt}),
    ):
        forged = staff.client.post(path, data=data, follow_redirects=False)
        assert forged.status_code == 403, path
    assert staff.get(url).status_code == 200  # type: ignore[attr-defined]


def test_the_rejection_mail_says_why_in_the_applicants_language(library_db: object) -> None:
    params = {"receipt_number": "12345-67890", "reason": "outside_service_area", "branch": "minami"}
    subject, body = COMPOSE("application_rejected", "ja", params)
    assert subject == "【藤沢市図書館】利用カードの仮登録申請について"
    assert (
        "仮登録番号 12345-67890" in body and "市内在住・在勤・在学の方ではありませんでした" in body
    )
    assert "南市民図書館" in body and body.endswith("おたずねすることはありません。\n")
    subject, body = COMPOSE("application_rejected", "en", params)
    assert "Your library card application" in subject
    assert "does not live, work or study in the service area" in body
