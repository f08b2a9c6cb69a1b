"""Managers' actions on staff accounts (create, role and other changes, enrolment links,
ending) are written to the audit log and shown on /staff/audit."""

from __future__ import annotations

import re

from sqlalchemy import text

from db import engine
from tests import test_web_staff
from tests.test_web_staff import Clock, Console, new_account

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team


def account_rows() -> list[tuple[str, str, str, str | None, str | None]]:
    with engine.read() as conn:
        return [
            (r.staff_code, r.action, r.field_groups, r.target_staff_code, r.patron_id)
            for r in conn.execute(
                text(
                    "SELECT staff_code, action, field_groups, target_staff_code, patron_id "
                    "FROM staff_audit WHERE screen = 'staff_accounts' ORDER BY id"
                )
            )
        ]


def staff_id(code: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM staff_account WHERE staff_code = :c"), {"c": code}
            ).scalar_one()
        )


def test_manager_actions_on_staff_accounts_are_audited(
    team: dict[str, Console], app: object, clock: Clock
) -> None:
    manager = team["manager"]
    # The team's accounts were made by the manager too (test_web_staff.enrol_team).
    assert [r[3] for r in account_rows()] == ["STA01", "TEM01", "INT01"]
    before = len(account_rows())
    new_account(manager, "NEW01", "staff")
    page = f"/staff/accounts/{staff_id('STA01')}"
    form = manager.get(page).text  # type: ignore[attr-defined]
    branch = re.search(r'<option value="(\w+)" selected', form)
    assert branch
    changed = manager.post(
        page,
        page,
        name="職員 STA01",
        affiliation="奉仕係",
        branch=branch.group(1),
        role="temporary",
    )
    assert changed.status_code == 303, changed.text  # type: ignore[attr-defined]
    tem = staff_id("TEM01")
    link = manager.post(f"/staff/accounts/{tem}/enrol-link", "/staff/accounts")
    assert link.status_code == 200  # type: ignore[attr-defined]
    ended = manager.post(f"/staff/accounts/{staff_id('INT01')}/end", "/staff/accounts", confirm="1")
    assert ended.status_code == 303  # type: ignore[attr-defined]
    rows = account_rows()[before:]
    assert rows[0] == ("M001", "account_create", "role:staff", "NEW01", None)
    assert rows[1][:2] == ("M001", "account_edit") and rows[1][3] == "STA01"
    assert "role:temporary" in rows[1][2].split(",")
    assert rows[2:] == [
        ("M001", "account_enrol_link", "", "TEM01", None),
        ("M001", "account_end", "", "INT01", None),
    ]
    audit = manager.get("/staff/audit").text  # type: ignore[attr-defined]
    for target in ("NEW01", "STA01", "TEM01", "INT01"):
        assert f"→ {target}" in audit
    # In words (web/labels.py), not codes: "account_end", "role:temporary" before.
    assert "職員アカウント停止" in audit and "権限：臨時職員" in audit
    assert "account_end" not in audit and "role:temporary" not in audit
