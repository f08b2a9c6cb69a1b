"""My Library's first page leads with what needs action (ready for pickup, overdue, due
soon), then the counts; the record page shows each copy's due date and the number of
reservations, never who has a copy."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from db import clock, engine, queries
from db.patrons import DEMO_PATRONS
from tests.conftest import Database
from tests.test_web_account import log_in
from tests.test_web_holds import HANAKO, MISAKI, TARO, client_for, patron_id, taros_loan


def _ready_hold_for_hanako() -> tuple[str, str]:
    """Hanako reserves the title Taro has on loan, at its branch; Taro returns it: ready.
    → (title, pickup branch name in Japanese)."""
    work_id, barcode, branch = taros_loan()
    hold = queries.place_hold(patron_id(HANAKO[0]), work_id, branch)
    queries.return_item(barcode)
    [ready] = [h for h in queries.list_holds(patron_id(HANAKO[0])) if h.state == "ready"]
    assert ready.id == hold.id
    return hold.title, hold.pickup.get("ja")


def _section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"', 1)[1].split("</ul>", 1)[0]


def test_my_library_leads_with_what_needs_action(library_db: Database) -> None:
    title, branch = _ready_hold_for_hanako()
    hanako = patron_id(HANAKO[0])
    loans = queries.list_loans(hanako)
    overdue = next(v for v in loans if v.overdue)
    # One more loan due tomorrow: "due soon" (the default is 3 days).
    soon = next(v for v in loans if not v.overdue)
    tomorrow = clock.library_today(clock.now()) + timedelta(days=1)
    with engine.write() as conn:
        conn.execute(
            text("UPDATE loan SET due_on = :d WHERE id = :i"), {"d": tomorrow, "i": soon.id}
        )
    ready_until = queries.list_holds(hanako)[0].ready_until
    with client_for(library_db) as web:
        log_in(web, *HANAKO)
        page = web.get("/my").text
    main = page.split('<main id="main"', 1)[1]
    order = [
        main.index(f'id="{h}"')
        for h in (
            "actions-heading",
            "ready-heading",
            "overdue-heading",
            "due-soon-heading",
            "counts-heading",
            "account-heading",
        )
    ]
    assert order == sorted(order), order
    ready = _section(main, "ready-heading")
    assert title in ready and branch in ready
    assert ready_until is not None and f"{ready_until.month}月{ready_until.day}日" in ready
    assert overdue.title in _section(main, "overdue-heading")
    due_soon = _section(main, "due-soon-heading")
    assert soon.title in due_soon and overdue.title not in due_soon
    counts = _section(main, "counts-heading")
    assert "3冊借りています（延滞 1冊）" in counts and "1件予約しています" in counts
    assert 'href="/my/loans"' in counts and 'href="/my/holds"' in counts


def test_my_library_with_nothing_to_do_says_so(library_db: Database) -> None:
    with client_for(library_db) as web:
        log_in(web, *MISAKI)
        page = web.get("/my").text
    assert "今、お手続きが必要なものはありません。" in page
    assert 'id="ready-heading"' not in page and 'id="overdue-heading"' not in page
    counts = _section(page, "counts-heading")
    assert (
        "現在借りている資料はありません。" in counts and "予約している資料はありません。" in counts
    )


def test_due_soon_follows_the_patrons_reminder_setting(library_db: Database) -> None:
    taro = patron_id(TARO[0])
    [loan] = queries.list_loans(taro)
    in_five = clock.library_today(clock.now()) + timedelta(days=5)
    with engine.write() as conn:
        conn.execute(
            text("UPDATE loan SET due_on = :d WHERE id = :i"), {"d": in_five, "i": loan.id}
        )
    assert queries.get_my_summary(taro).due_soon == ()  # 3 days by default
    queries.set_notice_prefs(taro, True, 7)
    summary = queries.get_my_summary(taro)
    assert [v.id for v in summary.due_soon] == [loan.id] and summary.due_soon_days == 7


def test_record_page_shows_due_dates_and_reservations_never_who(library_db: Database) -> None:
    work_id, _barcode, branch = taros_loan()
    [loan] = queries.list_loans(patron_id(TARO[0]))
    with client_for(library_db) as web:
        before = web.get(f"/records/{work_id}").text
        assert "この資料に予約はありません。" in before
        queries.place_hold(patron_id(HANAKO[0]), work_id, branch)
        log_in(web, *MISAKI)
        page = web.get(f"/records/{work_id}").text
    assert "返却予定日" in page and "この資料の予約は 1件です。" in page
    row = next(r for r in page.split("<tr>") if "status-on_loan" in r)
    assert f"{loan.due_on.year}年{loan.due_on.month}月{loan.due_on.day}日" in row
    taro = DEMO_PATRONS[1].patron
    for value in (taro.name, taro.card_number, taro.phone, taro.name_kana):
        assert value not in page


def test_title_status_counts_every_reservation(library_db: Database) -> None:
    work_id, _barcode, branch = taros_loan()
    assert queries.get_title_status(work_id).reservations == 0
    queries.place_hold(patron_id(HANAKO[0]), work_id, branch)
    queries.place_hold(patron_id(MISAKI[0]), work_id, branch)
    status = queries.get_title_status(work_id)
    assert status.reservations == 2 and len(status.due) == 1
