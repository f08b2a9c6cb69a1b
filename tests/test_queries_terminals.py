"""Library terminals at the db level: registration, the single-use enrolment link (used
once, even by two requests at the same moment; expired; replaced), the key a browser
holds, revocation, refusals, the audit, and the floor guide."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from db import engine, queries
from tests.conftest import Database

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
DATA = queries.TerminalInput("総合 OPAC 1", "sogo", "2階 階段の横", "一般開架: 2階\r\n児童書：1階")


@pytest.fixture
def manager(library_db: Database) -> Iterator[queries.StaffActor]:
    queries.set_clock(lambda: NOW)
    queries.create_first_manager(
        queries.StaffInput("M001", "管理 一郎", "", "sogo", "manager", (), None)
    )
    with engine.read() as conn:
        staff_id, branch_id = conn.execute(
            text("SELECT id, branch_id FROM staff_account WHERE staff_code = 'M001'")
        ).one()
    yield queries.StaffActor(int(staff_id), "M001", "管理 一郎", "manager", (), int(branch_id))
    queries.set_clock(None)


def audit() -> list[tuple[str, str]]:
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT action, field_groups FROM staff_audit WHERE screen = 'terminals' "
                "ORDER BY id"
            )
        )
        return [(r.action, r.field_groups) for r in rows]


def test_a_link_enrols_once_and_the_key_names_the_terminal(
    manager: queries.StaffActor,
) -> None:
    terminal_id, token = queries.create_terminal(manager, DATA)
    view = queries.get_terminal(terminal_id)
    assert (view.state, view.link_pending, view.branch_code) == ("waiting", True, "sogo")
    assert view.floor_guide == "一般開架: 2階\n児童書：1階"  # the browser's CRLF as plain lines
    assert queries.check_terminal_link(token).id == terminal_id
    enrolled = queries.enrol_terminal(token)
    assert enrolled.terminal_id == terminal_id
    info = queries.get_terminal_by_key(terminal_id, enrolled.key)
    assert info is not None and info.branch_code == "sogo" and info.location == "2階 階段の横"
    # Used up: neither shown nor used again.
    for use in (queries.check_terminal_link, queries.enrol_terminal):
        with pytest.raises(queries.TerminalLinkRefused):
            use(token)  # type: ignore[operator]
    view = queries.get_terminal(terminal_id)
    assert (view.state, view.link_pending) == ("enrolled", False)
    # Only digests are stored: neither the token nor the key is in the row.
    with engine.read() as conn:
        row = " ".join(map(str, conn.execute(text("SELECT * FROM terminal")).one()))
    assert token not in row and enrolled.key not in row
    # Another key, another terminal's id, a forged token: nothing.
    assert queries.get_terminal_by_key(terminal_id, enrolled.key + "x") is None
    assert queries.get_terminal_by_key(terminal_id + 1, enrolled.key) is None
    assert queries.get_terminal_by_key(terminal_id, "") is None
    with pytest.raises(queries.TerminalLinkRefused):
        queries.check_terminal_link("forged-" + token[7:])
    assert audit() == [("terminal_create", f"terminal:{terminal_id},branch:sogo")]


def test_an_expired_link_is_refused(manager: queries.StaffActor) -> None:
    _, token = queries.create_terminal(manager, DATA)
    later = NOW + timedelta(hours=queries.TERMINAL_LINK_HOURS, seconds=1)
    queries.set_clock(lambda: later)
    with pytest.raises(queries.TerminalLinkRefused):
        queries.check_terminal_link(token)
    with pytest.raises(queries.TerminalLinkRefused):
        queries.enrol_terminal(token)


def test_two_browsers_using_one_link_at_once_make_one_terminal(
    manager: queries.StaffActor,
) -> None:
    terminal_id, token = queries.create_terminal(manager, DATA)
    results: list[object] = []
    start = threading.Barrier(2)

    def use() -> None:
        start.wait()
        try:
            results.append(queries.enrol_terminal(token))
        except queries.TerminalLinkRefused as refused:
            results.append(refused)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    enrolled = [r for r in results if isinstance(r, queries.TerminalEnrolled)]
    assert len(enrolled) == 1 and len(results) == 2
    assert queries.get_terminal_by_key(terminal_id, enrolled[0].key) is not None


def test_revoking_ends_the_key_and_the_open_link(manager: queries.StaffActor) -> None:
    terminal_id, token = queries.create_terminal(manager, DATA)
    key = queries.enrol_terminal(token).key
    pending = queries.reissue_terminal_link(manager, terminal_id)
    queries.revoke_terminal(manager, terminal_id)
    assert queries.get_terminal_by_key(terminal_id, key) is None
    with pytest.raises(queries.TerminalLinkRefused):
        queries.enrol_terminal(pending)
    assert queries.get_terminal(terminal_id).state == "revoked"
    # A new link enrols it again; the browser enrolled before does not come back.
    fresh = queries.enrol_terminal(queries.reissue_terminal_link(manager, terminal_id))
    assert queries.get_terminal(terminal_id).state == "enrolled"
    assert queries.get_terminal_by_key(terminal_id, fresh.key) is not None
    assert queries.get_terminal_by_key(terminal_id, key) is None
    assert [a for a, _ in audit()] == [
        "terminal_create",
        "terminal_enrol_link",
        "terminal_revoke",
        "terminal_enrol_link",
    ]


def test_a_new_enrolment_replaces_the_browser(manager: queries.StaffActor) -> None:
    terminal_id, token = queries.create_terminal(manager, DATA)
    old = queries.enrol_terminal(token).key
    new = queries.enrol_terminal(queries.reissue_terminal_link(manager, terminal_id)).key
    assert queries.get_terminal_by_key(terminal_id, old) is None
    assert queries.get_terminal_by_key(terminal_id, new) is not None


def test_bad_input_is_refused_per_field_and_changes_are_audited(
    manager: queries.StaffActor,
) -> None:
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.create_terminal(manager, queries.TerminalInput("  ", "nowhere", "x" * 201, ""))
    assert {f: r.code for f, r in refused.value.errors.items()} == {
        "name": "terminal_name_required",
        "branch": "choose_branch",
        "location": "name_too_long",
    }
    assert queries.list_terminals() == ()
    terminal_id, _ = queries.create_terminal(manager, DATA)
    queries.update_terminal(manager, terminal_id, DATA)  # nothing changed: nothing recorded
    changed = queries.TerminalInput("総合 OPAC 2", "minami", DATA.location, "新聞: 1階")
    queries.update_terminal(manager, terminal_id, changed)
    assert audit()[-1] == (
        "terminal_edit",
        f"terminal:{terminal_id},terminal_name,branch,floor_guide",
    )
    assert len(audit()) == 2
    assert queries.get_terminal(terminal_id).branch_code == "minami"


def test_an_unknown_terminal_is_not_found(manager: queries.StaffActor) -> None:
    for act in (
        lambda: queries.get_terminal(999),
        lambda: queries.revoke_terminal(manager, 999),
        lambda: queries.reissue_terminal_link(manager, 999),
        lambda: queries.update_terminal(manager, 999, DATA),
    ):
        with pytest.raises(queries.NotFound):
            act()
    assert audit() == []


def test_the_floor_guide_names_the_floor_of_a_shelf_location(
    manager: queries.StaffActor,
) -> None:
    terminal_id, token = queries.create_terminal(manager, DATA)
    info = queries.get_terminal_by_key(terminal_id, queries.enrol_terminal(token).key)
    assert info is not None
    assert info.floor_of("一般開架") == "2階"
    assert info.floor_of(" 児童書 ") == "1階"  # a full-width colon works too
    assert info.floor_of("文庫コーナー") == ""
    assert info.floor_of("") == ""
