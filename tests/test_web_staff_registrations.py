"""Making patrons at the counter over HTTP: the activation-code slip from a patron record
(and, with the applications, the registration queue, confirm, reject and walk-in): the
roles that may and may not, the audit rows, CSRF."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests import test_web_staff
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
