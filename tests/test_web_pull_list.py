"""The staff pull list (/staff/pull-list): the list, printing widths, scanning a copy found
or not on the shelf (without JavaScript and with htmx), and the catalogue's 予約する for
titles with no lendable copy."""

from __future__ import annotations

from sqlalchemy import text

from db import engine, queries, rules
from db.patrons import DEMO_PATRONS
from tests import mailbox, test_web_staff
from tests.test_web_account import HTMX
from tests.test_web_staff import COUNTER_BRANCH, Console, patron_id, personal_values

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

MISAKI = DEMO_PATRONS[3].patron  # email misaki@example.jp


def shelf_copy(branch: str, *, only_here: bool) -> tuple[int, str, str]:
    """A title nobody has borrowed or reserved with a lendable copy on `branch`'s shelf
    (`only_here`: and no copy on any other shelf). → (work id, barcode, title)."""
    with engine.read() as conn:
        row = conn.execute(
            text(
                "SELECT w.id, i.barcode, w.title FROM item i JOIN work w ON w.id = i.work_id "
                "JOIN branch b ON b.id = i.branch_id "
                "JOIN material_type m ON m.code = i.material_type "
                "WHERE b.code = :branch AND i.status = 'available' AND m.reservable "
                "AND m.loan_days > 0 "
                "AND NOT EXISTS (SELECT 1 FROM hold h WHERE h.work_id = w.id) "
                "AND NOT EXISTS (SELECT 1 FROM item o WHERE o.work_id = w.id AND o.id <> i.id "
                "AND (o.status <> 'available' OR :only_here)) "
                "ORDER BY i.id LIMIT 1"
            ),
            {"branch": branch, "only_here": only_here},
        ).one()
    return row.id, row.barcode, row.title


def item_status(barcode: str) -> str:
    with engine.read() as conn:
        return str(
            conn.execute(
                text("SELECT status FROM item WHERE barcode = :b"), {"b": barcode}
            ).scalar_one()
        )


def test_reserve_pull_scan_ready_without_javascript(team: dict[str, Console]) -> None:
    intern = team["intern"]  # counter work only, at COUNTER_BRANCH
    work_id, barcode, title = shelf_copy(COUNTER_BRANCH, only_here=True)
    misaki = patron_id(MISAKI.card_number)
    assert queries.place_hold(misaki, work_id, COUNTER_BRANCH).state == "pulling"
    intern.bodies.clear()

    page = intern.get("/staff/pull-list")
    assert page.status_code == 200  # type: ignore[attr-defined]
    body = page.text  # type: ignore[attr-defined]
    assert "南市民図書館" in body and title in body and barcode in body
    assert "この館の予約棚へ" in body and "抜き取る資料: 1 冊" in body
    assert 'class="pull-page pull-a4"' in body and "他館へ回送" not in body

    found = intern.post("/staff/pull-list/found", "/staff/pull-list", barcode=barcode)
    assert found.status_code == 303  # type: ignore[attr-defined]
    assert found.headers["location"] == "/staff/pull-list?width=a4"  # type: ignore[attr-defined]
    after = intern.get("/staff/pull-list?width=a4").text  # type: ignore[attr-defined]
    assert f"抜き取り: {title}。この館（南市民図書館）の予約棚に置いてください。" in after
    assert "抜き取る資料: 0 冊" in after and barcode not in after
    [hold] = queries.list_holds(misaki)
    assert hold.state == "ready" and item_status(barcode) == rules.ON_HOLD_SHELF
    assert [(k, to) for k, to, *_ in mailbox.composed()] == [("hold_ready", MISAKI.email)]
    # The list and its answers name no patron.
    leaked = [v for v in personal_values() for b in intern.bodies if v in b]
    assert not leaked, leaked


def test_scans_with_htmx_swap_the_list_and_refusals_are_422(team: dict[str, Console]) -> None:
    staff = team["staff"]
    work_id, barcode, title = shelf_copy("sogo", only_here=True)
    misaki = patron_id(MISAKI.card_number)
    queries.place_hold(misaki, work_id, COUNTER_BRANCH)  # the copy travels sogo → minami
    page = "/staff/pull-list?branch=sogo&width=receipt"
    full = staff.get(page).text  # type: ignore[attr-defined]
    assert 'class="pull-page pull-receipt"' in full and "他館へ回送" in full
    assert "南市民図書館" in full and barcode in full
    fragment = staff.get(page, headers=HTMX)
    assert fragment.text.startswith('<section id="pull-list"')  # type: ignore[attr-defined]
    assert "<html" not in fragment.text  # type: ignore[attr-defined]

    empty = staff.htmx_post("/staff/pull-list/found", page, branch="sogo", barcode="  ")
    assert empty.status_code == 422  # type: ignore[attr-defined]
    assert "資料番号を入力してください" in empty.text  # type: ignore[attr-defined]
    unknown = staff.htmx_post("/staff/pull-list/found", page, branch="sogo", barcode="NOPE")
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    assert 'aria-invalid="true"' in unknown.text and 'value="NOPE"' in unknown.text  # type: ignore[attr-defined]

    found = staff.htmx_post(
        "/staff/pull-list/found", page, branch="sogo", width="receipt", barcode=barcode
    )
    assert found.status_code == 200  # type: ignore[attr-defined]
    text_ = found.text  # type: ignore[attr-defined]
    assert "<html" not in text_ and f"抜き取り: {title}。南市民図書館へ回送してください。" in text_
    assert "抜き取る資料: 0 冊" in text_
    assert queries.list_holds(misaki)[0].state == "in_transit"
    again = staff.htmx_post("/staff/pull-list/found", page, branch="sogo", barcode=barcode)
    assert again.status_code == 422  # type: ignore[attr-defined]
    assert "抜き取りリストにありません" in again.text  # type: ignore[attr-defined]


def test_not_on_the_shelf_moves_the_reservation_to_the_next_copy(
    team: dict[str, Console],
) -> None:
    intern = team["intern"]
    work_id, barcode, title = shelf_copy(COUNTER_BRANCH, only_here=True)
    with engine.write() as conn:  # a second copy, on sogo's shelf
        conn.execute(
            text(
                "INSERT INTO item (barcode, work_id, branch_id, material_type, call_number, "
                "shelf_location, status) SELECT 'PULL-2', :w, id, 'book', '913.6/ナ', "
                "'一般書架', 'available' FROM branch WHERE code = 'sogo'"
            ),
            {"w": work_id},
        )
    misaki = patron_id(MISAKI.card_number)
    queries.place_hold(misaki, work_id, COUNTER_BRANCH)
    gone = intern.post("/staff/pull-list/missing", "/staff/pull-list", barcode=barcode)
    assert gone.status_code == 303  # type: ignore[attr-defined]
    after = intern.get("/staff/pull-list").text  # type: ignore[attr-defined]
    assert f"不明にしました: {title}。予約は総合市民図書館の資料に移りました。" in after
    assert item_status(barcode) == rules.MISSING and item_status("PULL-2") == rules.TO_PULL
    sogo = intern.get("/staff/pull-list?branch=sogo").text  # type: ignore[attr-defined]
    assert "PULL-2" in sogo and "913.6/ナ" in sogo and "一般書架" in sogo
    last = intern.htmx_post("/staff/pull-list/missing", "/staff/pull-list", barcode="PULL-2")
    assert last.status_code == 200  # type: ignore[attr-defined]
    assert "予約は返却を待ちます" in last.text  # type: ignore[attr-defined]
    assert queries.list_holds(misaki)[0].state == "waiting"


def test_unknown_branch_is_404_and_the_counter_keeps_a_listed_copy(
    team: dict[str, Console],
) -> None:
    intern = team["intern"]
    assert intern.get("/staff/pull-list?branch=nowhere").status_code == 404  # type: ignore[attr-defined]
    work_id, barcode, _ = shelf_copy(COUNTER_BRANCH, only_here=True)
    queries.place_hold(patron_id(MISAKI.card_number), work_id, COUNTER_BRANCH)
    lent = intern.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=DEMO_PATRONS[1].patron.card_number,
        barcode=barcode,
    )
    assert lent.status_code == 422  # type: ignore[attr-defined]
    assert "抜き取りリストでスキャンしてください" in lent.text  # type: ignore[attr-defined]
    assert item_status(barcode) == rules.TO_PULL
    home = intern.get("/staff/").text  # type: ignore[attr-defined]
    assert 'href="/staff/pull-list"' in home


def test_the_catalogue_offers_reserve_only_for_a_lendable_copy(team: dict[str, Console]) -> None:
    patron = team["intern"].client  # any browser: the record page is public
    # A title whose one copy is reference only (館内閲覧のみ): on the shelf, never reservable.
    reference_id, reference_barcode, reference_title = shelf_copy("sogo", only_here=True)
    with engine.write() as conn:
        conn.execute(
            text("UPDATE item SET material_type = 'reference' WHERE barcode = :b"),
            {"b": reference_barcode},
        )
    record = patron.get(f"/records/{reference_id}").text
    assert f'href="/records/{reference_id}/hold"' not in record
    assert "予約できません（館内閲覧のみ）" in record
    results = patron.get("/search", params={"q": reference_title}).text
    assert reference_title in results
    assert f'href="/records/{reference_id}/hold"' not in results

    work_id, barcode, title = shelf_copy(COUNTER_BRANCH, only_here=True)
    assert f'href="/records/{work_id}/hold"' in patron.get(f"/records/{work_id}").text
    with engine.write() as conn:  # its only copy is lost
        conn.execute(text("UPDATE item SET status = 'missing' WHERE barcode = :b"), {"b": barcode})
    record = patron.get(f"/records/{work_id}").text
    assert f'href="/records/{work_id}/hold"' not in record
    assert "この資料は現在予約できる所蔵がありません。" in record
    results = patron.get("/search", params={"q": title}).text
    assert f'href="/records/{work_id}/hold"' not in results


def test_a_copy_left_on_the_hold_shelf_is_listed_to_send_home_until_scanned(
    team: dict[str, Console],
) -> None:
    """A ready reservation cancelled online: sogo's copy still lies on minami's hold shelf,
    in transit home with nobody told to send it. minami's pull list names it, sogo's not;
    scanned at minami's counter (in the transit box) it leaves the list."""
    intern, staff = team["intern"], team["staff"]  # intern: counter work at minami
    work_id, barcode, title = shelf_copy("sogo", only_here=True)
    misaki = patron_id(MISAKI.card_number)
    hold = queries.place_hold(misaki, work_id, COUNTER_BRANCH)
    staff.htmx_post("/staff/pull-list/found", "/staff/pull-list?branch=sogo", barcode=barcode)
    assert queries.receive_item(barcode).state == "ready"  # on minami's hold shelf
    queries.cancel_hold(misaki, hold.id)
    assert item_status(barcode) == rules.IN_TRANSIT

    heading = "予約の取消・期限切れで所蔵館へ回送する資料"
    here = intern.get("/staff/pull-list").text  # type: ignore[attr-defined]
    assert heading in here and title in here and barcode in here
    assert "総合市民図書館" in here  # where to send it
    home = staff.get("/staff/pull-list?branch=sogo").text  # type: ignore[attr-defined]
    assert heading not in home and barcode not in home

    scan = intern.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert "所蔵館（総合市民図書館）へ回送してください" in scan.text  # type: ignore[attr-defined]
    assert item_status(barcode) == rules.IN_TRANSIT
    after = intern.get("/staff/pull-list").text  # type: ignore[attr-defined]
    assert heading not in after and barcode not in after
    leaked = [v for v in personal_values() for b in intern.bodies if v in b]
    assert not leaked, leaked
