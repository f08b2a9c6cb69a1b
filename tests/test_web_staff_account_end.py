"""Issue 20: ending a staff account (security-relevant: its holder is logged out at once)
takes a confirmation step; one tap ends nothing."""

from __future__ import annotations

from db import queries
from tests import test_web_staff
from tests.test_web_staff import Console, new_account

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team


def _ended(staff_id: int) -> bool:
    return next(s for s in queries.list_staff_accounts() if s.id == staff_id).ended


def test_ending_a_staff_account_asks_first(team: dict[str, Console]) -> None:
    manager = team["manager"]
    staff_id, _ = new_account(manager, "END01", "staff")
    listing = manager.get("/staff/accounts").text  # type: ignore[attr-defined]
    # The list only leads to the question, with a button that names whose account ends.
    assert f'<form method="get" action="/staff/accounts/{staff_id}/end"' in listing
    assert f'action="/staff/accounts/{staff_id}/end" class="inline-form">' not in listing
    assert 'aria-label="今すぐ終了：職員 END01（END01）"' in listing
    question = manager.get(f"/staff/accounts/{staff_id}/end")
    assert question.status_code == 200  # type: ignore[attr-defined]
    assert "職員 END01（END01）のアカウントを今すぐ終了しますか？" in question.text  # type: ignore[attr-defined]
    assert 'name="confirm" value="1"' in question.text  # type: ignore[attr-defined]
    assert 'href="/staff/accounts"' in question.text  # type: ignore[attr-defined]
    # A post without the confirmation (an old page, a stray tap) asks again, ends nothing.
    stray = manager.post(f"/staff/accounts/{staff_id}/end", "/staff/accounts")
    assert stray.status_code == 200 and "終了しますか" in stray.text  # type: ignore[attr-defined]
    assert not _ended(staff_id)
    # CSRF as everywhere: the confirmed form without its token is refused.
    forged = manager.client.post(f"/staff/accounts/{staff_id}/end", data={"confirm": "1"})
    assert forged.status_code == 403 and not _ended(staff_id)
    done = manager.post(f"/staff/accounts/{staff_id}/end", "/staff/accounts", confirm="1")
    assert done.status_code == 303 and _ended(staff_id)  # type: ignore[attr-defined]
    # Nothing left to confirm for an ended account.
    assert manager.get(f"/staff/accounts/{staff_id}/end").status_code == 303  # type: ignore[attr-defined]


def test_only_managers_see_the_question(team: dict[str, Console]) -> None:
    staff_id, _ = new_account(team["manager"], "END02", "staff")
    for role in ("staff", "temporary", "intern"):
        refused = team[role].get(f"/staff/accounts/{staff_id}/end")
        assert refused.status_code == 403, role  # type: ignore[attr-defined]
        asked = team[role].post(f"/staff/accounts/{staff_id}/end", "/staff/password", confirm="1")
        assert asked.status_code == 403, role  # type: ignore[attr-defined]
    assert not _ended(staff_id)
