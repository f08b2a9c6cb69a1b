"""Issue 20: cancelling a reservation asks first, and can be undone for a few minutes — the
reservation comes back in its place in the queue — with htmx and without JavaScript."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from tests import kiosk as kiosk_helpers
from tests.conftest import Database, app_settings
from tests.test_web_account import HTMX, csrf_of, log_in
from tests.test_web_holds import HANAKO, MISAKI, patron_id, reserve, taros_loan
from web import hold_undo
from web.app import create_app


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    fixed = Clock()
    queries.set_clock(fixed)
    yield fixed
    queries.set_clock(None)


def two_in_line(db: Database, clock: Clock) -> tuple[TestClient, TestClient, int]:
    """Hanako first and Misaki second in the queue of the title Taro has on loan."""
    work_id, _, _ = taros_loan()
    app = create_app(app_settings(db.url))  # one site key for both browsers
    hanako, misaki = TestClient(app), TestClient(app)
    log_in(hanako, *HANAKO)
    log_in(misaki, *MISAKI)
    assert reserve(hanako, work_id, "sogo").status_code == 303  # type: ignore[attr-defined]
    clock.now += timedelta(seconds=5)
    assert reserve(misaki, work_id, "sogo").status_code == 303  # type: ignore[attr-defined]
    return hanako, misaki, work_id


# The refusal of a note used already (undo_used).
USED_UP = "この取り消しはすでに元に戻しています"
STAFF = queries.StaffActor(1, "STA01", "試験", "staff", (), 1)


def position(card: str, work_id: int) -> int | None:
    held = [h for h in queries.list_holds(patron_id(card)) if h.work_id == work_id]
    return held[0].position if held else None


def cancelled_count() -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT COALESCE(SUM(count), 0) FROM daily_count WHERE event = :e"),
                {"e": "hold_cancelled"},
            ).scalar_one()
        )


def undo_token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, "no undo form"
    return found.group(1)


def test_htmx_confirm_cancel_and_undo_in_place(library_db: Database, clock: Clock) -> None:
    hanako, misaki, work_id = two_in_line(library_db, clock)
    hold = next(h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id)
    page = hanako.get("/my/holds").text
    token = csrf_of(page)
    assert '<p id="holds-count">1件予約しています' in page
    # The danger button asks first; it names what it destroys, apart from the other actions.
    assert f'aria-label="『{hold.title}』の予約を取り消す"' in page
    assert page.index('class="hold-actions"') < page.index('class="hold-danger"')
    assert f'action="/my/holds/{hold.id}/cancel" hx-post' not in page  # no one-tap cancel
    asked = hanako.get(f"/my/holds/{hold.id}/cancel", headers=HTMX)
    assert asked.status_code == 200 and "<html" not in asked.text
    assert f"『{hold.title}』の予約を取り消しますか？" in asked.text
    assert f'hx-post="/my/holds/{hold.id}/cancel"' in asked.text
    kept = hanako.get(f"/my/holds/{hold.id}", headers=HTMX)  # 取り消さない
    assert kept.status_code == 200 and "取り消しますか" not in kept.text
    before = cancelled_count()
    gone = hanako.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": token}, headers=HTMX)
    assert gone.status_code == 200 and "予約を取り消しました" in gone.text
    assert f'id="hold-undo-{hold.id}"' in gone.text and 'hx-post="/my/holds/undo"' in gone.text
    # The count of the page, out of band: one fewer.
    assert 'id="holds-count" hx-swap-oob="true">予約している資料はありません' in gone.text
    assert position(HANAKO[0], work_id) is None and position(MISAKI[0], work_id) == 1
    assert cancelled_count() == before + 1
    clock.now += timedelta(minutes=9)
    back = hanako.post(
        "/my/holds/undo",
        data={"csrf_token": token, "token": undo_token(gone.text)},
        headers=HTMX,
    )
    assert back.status_code == 200, back.text
    assert "予約を元に戻しました" in back.text and 'class="hold hold-waiting"' in back.text
    assert 'id="holds-count" hx-swap-oob="true">1件予約しています' in back.text
    # Back in its place: first in line again, Misaki second; not counted as a cancellation.
    assert position(HANAKO[0], work_id) == 1 and position(MISAKI[0], work_id) == 2
    assert cancelled_count() == before
    again = hanako.post(
        "/my/holds/undo", data={"csrf_token": token, "token": undo_token(gone.text)}, headers=HTMX
    )
    # A note works once: a refusal in the line, not an error page.
    assert again.status_code == 422 and USED_UP in again.text
    assert 'action="/my/holds/undo"' not in again.text
    hanako.close()
    misaki.close()


def test_without_javascript(library_db: Database, clock: Clock) -> None:
    hanako, misaki, work_id = two_in_line(library_db, clock)
    hold = next(h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id)
    page = hanako.get("/my/holds").text
    assert f'<form method="get" action="/my/holds/{hold.id}/cancel"' in page
    confirm = hanako.get(f"/my/holds/{hold.id}/cancel")
    assert confirm.status_code == 200 and "<html" in confirm.text
    assert f'<form method="post" action="/my/holds/{hold.id}/cancel"' in confirm.text
    assert 'href="/my/holds"' in confirm.text  # 取り消さない
    gone = hanako.post(
        f"/my/holds/{hold.id}/cancel",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert gone.status_code == 303 and gone.headers["location"] == "/my/holds"
    listing = hanako.get("/my/holds").text
    assert "予約を取り消しました" in listing and 'action="/my/holds/undo"' in listing
    assert '<p id="holds-count">予約している資料はありません' in listing
    back = hanako.post(
        "/my/holds/undo",
        data={"csrf_token": csrf_of(listing), "token": undo_token(listing)},
        follow_redirects=False,
    )
    assert back.status_code == 303
    listing = hanako.get("/my/holds").text
    assert "予約を元に戻しました" in listing and 'action="/my/holds/undo"' not in listing
    assert position(HANAKO[0], work_id) == 1 and position(MISAKI[0], work_id) == 2
    hanako.close()
    misaki.close()


def test_a_used_note_cannot_undo_staff_s_cancellation(library_db: Database, clock: Clock) -> None:
    """Undone once, cancelled again by staff at the counter: the same note, posted again
    within its minutes, is refused — with htmx, without JavaScript, in either language."""
    hanako, misaki, work_id = two_in_line(library_db, clock)
    hanako_id = patron_id(HANAKO[0])
    hold = next(h for h in queries.list_holds(hanako_id) if h.work_id == work_id)
    token = csrf_of(hanako.get("/my/holds").text)
    gone = hanako.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": token}, headers=HTMX)
    note = undo_token(gone.text)
    undone = hanako.post("/my/holds/undo", data={"csrf_token": token, "token": note}, headers=HTMX)
    assert undone.status_code == 200 and position(HANAKO[0], work_id) == 1
    clock.now += timedelta(minutes=1)
    [restored] = [h for h in queries.list_holds(hanako_id) if h.work_id == work_id]
    queries.cancel_hold_for_staff(STAFF, hanako_id, restored.id)  # the console's cancel
    assert position(HANAKO[0], work_id) is None and position(MISAKI[0], work_id) == 1
    replay = hanako.post("/my/holds/undo", data={"csrf_token": token, "token": note}, headers=HTMX)
    assert replay.status_code == 422 and USED_UP in replay.text
    assert 'action="/my/holds/undo"' not in replay.text
    plain = hanako.post("/my/holds/undo", data={"csrf_token": token, "token": note})
    assert plain.status_code == 422 and "<html" in plain.text and USED_UP in plain.text
    hanako.cookies.set("shiori_lang", "en")
    english = hanako.post("/my/holds/undo", data={"csrf_token": token, "token": note})
    assert english.status_code == 422
    assert "This cancellation was undone already" in english.text
    assert position(HANAKO[0], work_id) is None and position(MISAKI[0], work_id) == 1
    hanako.close()
    misaki.close()


def test_another_patron_cannot_undo_or_cancel(library_db: Database, clock: Clock) -> None:
    hanako, misaki, work_id = two_in_line(library_db, clock)
    hold = next(h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id)
    theirs = csrf_of(misaki.get("/my/holds").text)
    # Hanako's hold is not Misaki's to see, confirm or cancel.
    assert misaki.get(f"/my/holds/{hold.id}/cancel").status_code == 404
    assert misaki.get(f"/my/holds/{hold.id}", headers=HTMX).status_code == 404
    refused = misaki.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": theirs})
    assert refused.status_code == 404 and position(HANAKO[0], work_id) == 1
    mine = csrf_of(hanako.get("/my/holds").text)
    gone = hanako.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": mine}, headers=HTMX)
    token = undo_token(gone.text)
    # Her undo note does not work for Misaki (it names Hanako), nor without the CSRF token.
    stolen = misaki.post("/my/holds/undo", data={"csrf_token": theirs, "token": token})
    assert stolen.status_code == 404 and position(HANAKO[0], work_id) is None
    forged = hanako.post("/my/holds/undo", data={"token": token})
    assert forged.status_code == 403 and position(HANAKO[0], work_id) is None
    altered = hanako.post(
        "/my/holds/undo", data={"csrf_token": mine, "token": token[:-2] + "xx"}, headers=HTMX
    )
    assert altered.status_code == 422 and position(HANAKO[0], work_id) is None
    hanako.close()
    misaki.close()


def test_the_undo_ends_after_its_window(library_db: Database, clock: Clock) -> None:
    hanako, misaki, work_id = two_in_line(library_db, clock)
    hold = next(h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id)
    token = csrf_of(hanako.get("/my/holds").text)
    hanako.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": token}, follow_redirects=False)
    note = undo_token(hanako.get("/my/holds").text)
    clock.now += timedelta(minutes=queries.HOLD_UNDO_MINUTES, seconds=1)
    assert 'action="/my/holds/undo"' not in hanako.get("/my/holds").text
    late = hanako.post("/my/holds/undo", data={"csrf_token": token, "token": note}, headers=HTMX)
    assert late.status_code == 422 and "10分を過ぎたため" in late.text
    assert position(HANAKO[0], work_id) is None and position(MISAKI[0], work_id) == 1
    hanako.close()
    misaki.close()


def test_the_undo_note_leaves_with_the_patron(library_db: Database, clock: Clock) -> None:
    """On a kiosk the next person must not inherit the note; it never carries the title."""
    work_id, _, _ = taros_loan()
    app = create_app(app_settings(library_db.url))
    kiosk = kiosk_helpers.enrol(TestClient(app))
    log_in(kiosk, *HANAKO)
    assert reserve(kiosk, work_id, "sogo").status_code == 303  # type: ignore[attr-defined]
    hold = next(h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id)
    token = csrf_of(kiosk.get("/my/holds").text)
    kiosk.post(f"/my/holds/{hold.id}/cancel", data={"csrf_token": token}, follow_redirects=False)
    note = kiosk.cookies.get(hold_undo.COOKIE)
    assert note
    _, payload = URLSafeTimedSerializer("any key").loads_unsafe(note)
    assert payload["w"] == work_id and "t" not in payload
    assert hold.title not in json.dumps(payload, ensure_ascii=False)
    listing = kiosk.get("/my/holds").text  # the title is looked up for the page
    assert "予約を取り消しました" in listing and hold.title in listing
    out = kiosk.post("/logout", data={"csrf_token": csrf_of(listing)}, follow_redirects=False)
    assert out.status_code == 303 and f'{hold_undo.COOKIE}=""' in out.headers["set-cookie"]
    assert hold_undo.COOKIE not in kiosk.cookies
    kiosk.close()


def test_an_undo_after_a_checkout_is_refused(library_db: Database, clock: Clock) -> None:
    hanako, misaki, work_id = two_in_line(library_db, clock)
    theirs = queries.list_holds(patron_id(MISAKI[0]))[0]
    mine = csrf_of(misaki.get("/my/holds").text)
    gone = misaki.post(f"/my/holds/{theirs.id}/cancel", data={"csrf_token": mine}, headers=HTMX)
    first = queries.list_holds(patron_id(HANAKO[0]))[0]
    queries.cancel_hold(patron_id(HANAKO[0]), first.id)
    [(barcode,)] = taros_copy(work_id)
    queries.return_item(barcode)  # nobody waits for it now: Misaki borrows it at the counter
    queries.checkout(MISAKI[0], barcode)
    late = misaki.post(
        "/my/holds/undo", data={"csrf_token": mine, "token": undo_token(gone.text)}, headers=HTMX
    )
    assert late.status_code == 422 and position(MISAKI[0], work_id) is None
    assert "この資料は現在あなたが借りています" in late.text
    hanako.close()
    misaki.close()


def taros_copy(work_id: int) -> list[tuple[str]]:
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT i.barcode FROM loan l JOIN item i ON i.id = l.item_id WHERE i.work_id = :w"
            ),
            {"w": work_id},
        ).all()
    return [(str(r[0]),) for r in rows]


def test_undo_of_a_ready_reservation_brings_it_back_ready(
    library_db: Database, clock: Clock
) -> None:
    """Before: back as waiting, its copy put on the pull list of a shelf it was not on."""
    work_id, barcode, branch = taros_loan()
    app = create_app(app_settings(library_db.url))
    hanako = TestClient(app)
    log_in(hanako, *HANAKO)
    assert reserve(hanako, work_id, branch).status_code == 303  # type: ignore[attr-defined]
    queries.return_item(barcode)  # at its own branch, Hanako's pickup: on the hold shelf
    [ready] = [h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id]
    assert ready.state == "ready" and ready.ready_until is not None
    token = csrf_of(hanako.get("/my/holds").text)
    gone = hanako.post(f"/my/holds/{ready.id}/cancel", data={"csrf_token": token}, headers=HTMX)
    note = undo_token(gone.text)
    _, payload = URLSafeTimedSerializer("any key").loads_unsafe(note)
    assert payload["ru"] == ready.ready_until.isoformat() and payload["i"]  # its copy, by id
    assert ready.title not in json.dumps(payload, ensure_ascii=False)
    clock.now += timedelta(minutes=5)
    back = hanako.post("/my/holds/undo", data={"csrf_token": token, "token": note}, headers=HTMX)
    assert back.status_code == 200, back.text
    assert "予約を元に戻しました" in back.text and 'class="hold hold-ready"' in back.text
    [again] = [h for h in queries.list_holds(patron_id(HANAKO[0])) if h.work_id == work_id]
    assert (again.state, again.ready_until) == ("ready", ready.ready_until)
    with engine.read() as conn:
        shelf = conn.execute(
            text("SELECT status FROM item WHERE barcode = :b"), {"b": barcode}
        ).scalar_one()
    assert shelf == "on_hold_shelf"  # not "to_pull": nobody is sent to fetch it
    hanako.close()
