"""The staff queue of address changes patrons asked for online (issue 16): who may, the
audit rows (every look, every decision), confirm and reject, CSRF."""

from __future__ import annotations

import re

from db import queries
from tests import test_web_staff
from tests.test_web_staff import Console, audit_rows, patron_id

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

HANAKO = "2100000001"
MISAKI = "2100000004"
NEW_ADDRESS = "神奈川県藤沢市鵠沼海岸5-5-5"


def change_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/staff/address-changes/(\d+)"', page)]


def test_staff_confirm_a_change_after_seeing_id(team: dict[str, Console]) -> None:
    hanako = patron_id(HANAKO)
    queries.request_address_change(hanako, "2510037", NEW_ADDRESS)
    staff = team["staff"]
    assert "/staff/address-changes" in staff.get("/staff/").text  # type: ignore[attr-defined]
    before = len(audit_rows())
    queue = staff.get("/staff/address-changes").text  # type: ignore[attr-defined]
    [change_id] = change_ids(queue)
    assert "山田 花子" in queue and NEW_ADDRESS not in queue
    page = f"/staff/address-changes/{change_id}"
    shown = staff.get(page).text  # type: ignore[attr-defined]
    assert "神奈川県藤沢市朝日町1-1" in shown and NEW_ADDRESS in shown and "251-0037" in shown
    done = staff.post(f"{page}/confirm", page)
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert queries.get_my_data(hanako).address == NEW_ADDRESS
    assert queries.get_my_data(hanako).address_change is None
    assert audit_rows()[before:] == [
        ("STA01", hanako, "card,name", "view", "allowed"),
        ("STA01", hanako, "name,contact", "view", "allowed"),
        ("STA01", hanako, "name,contact", "view", "allowed"),  # opened again to confirm
        ("STA01", hanako, "contact", "address_confirm", "allowed"),
    ]
    # Done: the same request again is gone.
    assert staff.get(page).status_code == 404  # type: ignore[attr-defined]


def test_the_queue_is_audited_per_patron_listed(team: dict[str, Console]) -> None:
    hanako, misaki = patron_id(HANAKO), patron_id(MISAKI)
    queries.request_address_change(hanako, "2510037", NEW_ADDRESS)
    queries.request_address_change(misaki, "2510037", NEW_ADDRESS)
    before = len(audit_rows())
    queue = team["staff"].get("/staff/address-changes").text  # type: ignore[attr-defined]
    assert len(change_ids(queue)) == 2
    # Card numbers and names of both were shown: each patron's own row, so each one's
    # "staff looks" page shows the look.
    assert sorted(audit_rows()[before:], key=lambda r: r[1] or 0) == sorted(
        [
            ("STA01", hanako, "card,name", "view", "allowed"),
            ("STA01", misaki, "card,name", "view", "allowed"),
        ],
        key=lambda r: r[1] or 0,
    )
    assert queries.list_staff_looks_at_me(misaki)


def test_a_rejected_change_leaves_the_record(team: dict[str, Console]) -> None:
    misaki = patron_id(MISAKI)
    queries.request_address_change(misaki, "2510037", NEW_ADDRESS)
    manager = team["manager"]
    [change_id] = change_ids(manager.get("/staff/address-changes").text)  # type: ignore[attr-defined]
    page = f"/staff/address-changes/{change_id}"
    before = len(audit_rows())
    assert manager.post(f"{page}/reject", page).status_code == 303  # type: ignore[attr-defined]
    assert queries.get_my_data(misaki).address == "神奈川県藤沢市大庭4-4-4"
    assert queries.get_my_data(misaki).address_change is None
    assert audit_rows()[before:] == [
        ("M001", misaki, "name,contact", "view", "allowed"),
        ("M001", misaki, "contact", "address_reject", "allowed"),
    ]


def test_interns_and_temporary_staff_may_not(team: dict[str, Console]) -> None:
    queries.request_address_change(patron_id(HANAKO), "2510037", NEW_ADDRESS)
    [change_id] = change_ids(team["staff"].get("/staff/address-changes").text)  # type: ignore[attr-defined]
    before = len(audit_rows())
    for role in ("temporary", "intern"):
        console = team[role]
        assert "/staff/address-changes" not in console.get("/staff/").text  # type: ignore[attr-defined]
        refused = console.get(f"/staff/address-changes/{change_id}")
        assert refused.status_code == 403 and NEW_ADDRESS not in refused.text  # type: ignore[attr-defined]
        confirm = console.post(f"/staff/address-changes/{change_id}/confirm", "/staff/")
        assert confirm.status_code == 403  # type: ignore[attr-defined]
    assert all(row[4] == "refused" for row in audit_rows()[before:])
    assert len(audit_rows()) > before
    assert queries.get_my_data(patron_id(HANAKO)).address_change is not None


def test_decisions_need_the_csrf_token(team: dict[str, Console]) -> None:
    queries.request_address_change(patron_id(HANAKO), "2510037", NEW_ADDRESS)
    staff = team["staff"]
    [change_id] = change_ids(staff.get("/staff/address-changes").text)  # type: ignore[attr-defined]
    refused = staff.client.post(f"/staff/address-changes/{change_id}/confirm", data={})
    assert refused.status_code == 403
    assert queries.get_my_data(patron_id(HANAKO)).address_change is not None
