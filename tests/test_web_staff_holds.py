"""Staff and a patron's reservations over HTTP (/staff/patrons/{id}): see, reserve a title
by title, ISBN or barcode, change, suspend, resume, cancel — no-JS and htmx — and the roles
that may not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import text

from db import engine, queries
from tests import test_web_staff
from tests.test_web_staff import HANAKO, TARO, Console, audit_rows, patron_id

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team


def title_with_copy() -> tuple[int, str, str]:
    """(work id, title, a copy's barcode) of a reservable title nobody has on loan."""
    with engine.read() as conn:
        row = conn.execute(
            text(
                "SELECT w.id, w.title, i.barcode FROM item i JOIN work w ON w.id = i.work_id "
                "JOIN material_type m ON m.code = i.material_type "
                "WHERE m.reservable AND m.loan_days > 0 AND i.status = 'available' "
                "AND i.work_id NOT IN (SELECT it.work_id FROM loan l "
                "JOIN item it ON it.id = l.item_id) ORDER BY i.id LIMIT 1"
            )
        ).one()
    return int(row.id), str(row.title), str(row.barcode)


def off_the_shelves(work_id: int) -> None:
    """The title's copies are being processed: a reservation waits in line for them instead
    of putting one on a pull list (db.pulling), where it could not be suspended."""
    with engine.write() as conn:
        conn.execute(
            text("UPDATE item SET status = 'in_process' WHERE work_id = :w"), {"w": work_id}
        )


def _holds_section(html: str) -> str:
    return html.split('<section id="patron-holds"', 1)[1].split("</section>", 1)[0]


def test_staff_reserve_a_title_for_a_patron_without_javascript(team: dict[str, Console]) -> None:
    staff = team["staff"]
    hanako = patron_id(HANAKO.card_number)
    work_id, title, barcode = title_with_copy()
    page = f"/staff/patrons/{hanako}"
    shown = staff.get(page).text  # type: ignore[attr-defined]
    section = _holds_section(shown)
    assert "この利用者の予約はありません。" in section
    assert f'action="/staff/patrons/{hanako}/holds/search"' in section
    # A search is a POST like the patron lookup: what staff type stays out of the URL.
    found = staff.post(f"{page}/holds/search", page, q=title)
    assert found.status_code == 200 and "<html" in found.text  # type: ignore[attr-defined]
    assert f'name="work_id" value="{work_id}"' in found.text  # type: ignore[attr-defined]
    by_barcode = staff.post(f"{page}/holds/search", page, q=barcode)
    assert f"資料 {barcode}" in by_barcode.text  # type: ignore[attr-defined]
    empty = staff.post(f"{page}/holds/search", page, q="  ")
    assert empty.status_code == 422  # type: ignore[attr-defined]
    assert "書名・ISBN・資料バーコードのいずれかを入力してください。" in empty.text  # type: ignore[attr-defined]
    branch = queries.list_branches()[1].code
    placed = staff.post(f"{page}/holds", page, work_id=str(work_id), pickup=branch)
    assert placed.status_code == 303 and placed.headers["location"] == page  # type: ignore[attr-defined]
    after = staff.get(page).text  # type: ignore[attr-defined]
    assert "利用者の予約を受け付けました" in after and title in _holds_section(after)
    [hold] = queries.list_holds(hanako)
    assert hold.work_id == work_id and hold.pickup_code == branch
    # The same title again: the patron side's refusal, next to the form, 422.
    again = staff.post(f"{page}/holds", page, work_id=str(work_id), pickup=branch)
    assert again.status_code == 422 and "この利用者はすでにこの資料を予約しています。" in again.text  # type: ignore[attr-defined]
    # Issue 20: the first tap asks (the patron page with the question), the second cancels.
    asked = staff.post(f"{page}/holds/{hold.id}/cancel", page)
    assert asked.status_code == 200 and "の予約を取り消しますか？" in asked.text  # type: ignore[attr-defined]
    assert 'name="confirm" value="1"' in asked.text and queries.list_holds(hanako)  # type: ignore[attr-defined]
    cancelled = staff.post(f"{page}/holds/{hold.id}/cancel", page, confirm="1")
    assert cancelled.status_code == 303 and queries.list_holds(hanako) == ()  # type: ignore[attr-defined]
    actions = [r[3] for r in audit_rows() if r[0] == "STA01" and r[1] == hanako and r[2] == "holds"]
    assert {"view", "hold_place", "hold_cancel"} <= set(actions)


def test_staff_change_suspend_resume_and_cancel_with_htmx(team: dict[str, Console]) -> None:
    staff = team["staff"]
    hanako = patron_id(HANAKO.card_number)
    work_id, title, _ = title_with_copy()
    off_the_shelves(work_id)  # so the reservation waits and can be suspended
    page = f"/staff/patrons/{hanako}"
    found = staff.htmx_post(f"{page}/holds/search", page, q=title)
    assert found.text.lstrip().startswith('<div id="title-choices"')  # type: ignore[attr-defined]
    branches = [b.code for b in queries.list_branches()]
    placed = staff.htmx_post(f"{page}/holds", page, work_id=str(work_id), pickup=branches[0])
    assert placed.status_code == 200  # type: ignore[attr-defined]
    assert placed.text.lstrip().startswith('<section id="patron-holds"')  # type: ignore[attr-defined]
    [hold] = queries.list_holds(hanako)
    base = f"{page}/holds/{hold.id}"
    moved = staff.htmx_post(f"{base}/pickup", page, pickup=branches[2])
    assert "受取館を変更しました" in moved.text  # type: ignore[attr-defined]
    assert queries.list_holds(hanako)[0].pickup_code == branches[2]
    bad = staff.htmx_post(f"{base}/suspend", page, until="来週")
    assert bad.status_code == 422  # type: ignore[attr-defined]
    _said_next_to_the_date(bad.text, hold.id, "来週", BAD_DATE["ja"])  # type: ignore[attr-defined]
    far = staff.htmx_post(f"{base}/suspend", page, until="2099-01-01")
    assert far.status_code == 422  # type: ignore[attr-defined]
    days = queries.HOLD_MAX_SUSPEND_DAYS
    too_far = f"休止の期限は明日から{days}日以内の日付にしてください。"
    _said_next_to_the_date(far.text, hold.id, "2099-01-01", too_far)  # type: ignore[attr-defined]
    # Without JavaScript: the whole page, the same words at the same place, in English too.
    plain = staff.speaking("en").post(f"{base}/suspend", page, until="31/12")
    assert plain.status_code == 422 and "<html" in plain.text  # type: ignore[attr-defined]
    _said_next_to_the_date(plain.text, hold.id, "31/12", BAD_DATE["en"])  # type: ignore[attr-defined]
    assert "西暦 or 和暦: 2026-12-28, 2026年12月28日, 令和8年12月28日." in plain.text  # type: ignore[attr-defined]
    staff.speaking("ja")
    assert queries.list_holds(hanako)[0].state == "waiting"  # nothing suspended by a bad date
    until = queries.to_library_time(staff.clock.now).date().replace(day=1)
    year = until.year + 1
    # 和暦 and full-width digits are accepted: 令和 (year - 2018).
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    wareki = f"令和{str(year - 2018).translate(wide)}年1月5日"
    suspended = staff.htmx_post(f"{base}/suspend", page, until=wareki)
    assert suspended.status_code == 200, suspended.text  # type: ignore[attr-defined]
    [now_suspended] = queries.list_holds(hanako)
    assert now_suspended.state == "suspended"
    assert now_suspended.suspended_until is not None
    assert now_suspended.suspended_until.isoformat() == f"{year}-01-05"
    resumed = staff.htmx_post(f"{base}/resume", page)
    assert resumed.status_code == 200 and queries.list_holds(hanako)[0].state == "waiting"  # type: ignore[attr-defined]
    asked = staff.htmx_post(f"{base}/cancel", page)
    assert asked.text.lstrip().startswith('<section id="patron-holds"')  # type: ignore[attr-defined]
    assert "の予約を取り消しますか？" in asked.text and queries.list_holds(hanako)  # type: ignore[attr-defined]
    gone = staff.htmx_post(f"{base}/cancel", page, confirm="1")
    assert gone.status_code == 200 and title in gone.text  # type: ignore[attr-defined]
    assert queries.list_holds(hanako) == ()


BAD_DATE = {
    "ja": "2026-12-28 や 令和8年12月28日 のように日付を入力してください。",
    "en": "Use a date like 2026-12-28 or R8.12.28.",
}


def _said_next_to_the_date(html: str, hold_id: int, typed: str, message: str) -> None:
    """The suspension form of the reservation: what was typed kept, the message right after
    the field and named by it, the hint saying 西暦 or 和暦 — and no YYYY-MM-DD anywhere."""
    form = html.split(f'id="staff-until-{hold_id}"', 1)[1].split("</form>", 1)[0]
    assert form.startswith(f' name="until" value="{typed}"')
    described = re.search(r'aria-describedby="([^"]*)"', form)
    assert described and described.group(1).split() == [
        f"staff-until-help-{hold_id}",
        f"staff-until-error-{hold_id}",
    ]
    assert 'aria-invalid="true"' in form
    help_text = re.search(rf'id="staff-until-help-{hold_id}">([^<]*)<', form)
    assert help_text and "令和8年12月28日" in help_text.group(1)
    error = re.search(rf'id="staff-until-error-{hold_id}">([^<]*)<', form)
    assert error and error.group(1) == message
    # Not said again above the reservation or the list.
    assert f'id="hold-error-{hold_id}"' not in html and f">{message}</p>" not in html
    assert "YYYY" not in html and 'placeholder="2026' not in html


def test_roles_without_the_permission_are_refused(team: dict[str, Console]) -> None:
    hanako, taro = patron_id(HANAKO.card_number), patron_id(TARO.card_number)
    work_id, title, _ = title_with_copy()
    hold = queries.place_hold(hanako, work_id, queries.list_branches()[0].code)
    page = f"/staff/patrons/{hanako}"
    before = len(audit_rows())
    for role in ("temporary", "intern"):
        console = team[role]
        tried = [
            console.post(f"{page}/holds", page, work_id=str(work_id), pickup="sogo"),
            console.post(f"{page}/holds/{hold.id}/cancel", page),
            console.post(f"{page}/holds/{hold.id}/pickup", page, pickup="sogo"),
            console.post(f"{page}/holds/search", page, q=title),
        ]
        assert [r.status_code for r in tried] == [403] * 4, role  # type: ignore[attr-defined]
    assert [h.id for h in queries.list_holds(hanako)] == [hold.id]  # untouched
    refused = [r for r in audit_rows()[before:] if r[4] == "refused"]
    assert len(refused) == 8 and {r[0] for r in refused} == {"TEM01", "INT01"}
    assert all(r[1] == hanako and r[2] == "holds" for r in refused)
    # Temporary staff see the reservations but no form; an intern sees neither.
    temporary = _holds_section(team["temporary"].get(page).text)  # type: ignore[attr-defined]
    assert title in temporary and "<form" not in temporary
    intern = _holds_section(team["intern"].get(page).text)  # type: ignore[attr-defined]
    assert title not in intern and "（非表示）" in intern and "<form" not in intern
    # Staff who may: another patron's reservation under this patron's page is 404.
    staff = team["staff"]
    other = staff.post(f"/staff/patrons/{taro}/holds/{hold.id}/cancel", f"/staff/patrons/{taro}")
    assert other.status_code == 404 and [h.id for h in queries.list_holds(hanako)] == [hold.id]  # type: ignore[attr-defined]


def test_the_patron_record_audit_names_only_what_it_shows(team: dict[str, Console]) -> None:
    staff = team["staff"]
    hanako = patron_id(HANAKO.card_number)
    before = len(audit_rows())
    staff.get(f"/staff/patrons/{hanako}")
    rows = [r for r in audit_rows()[before:] if r[0] == "STA01"]
    groups = sorted(r[2] for r in rows)
    assert groups == ["birth_date,contact,loans,name", "holds"], groups
    assert re.fullmatch(r"[a-z_,]+", ",".join(groups))


def test_the_console_reaches_reservations_only_through_the_audited_queries() -> None:
    # The patron side's reservation queries take any patron id and record nothing: no staff
    # module may call them (db.queries.staff_holds puts the policy and the audit in front).
    patron_side = {
        "place_hold",
        "cancel_hold",
        "change_hold_pickup",
        "suspend_hold",
        "resume_hold",
        "list_holds",
        "get_hold",
        "get_hold_form",
    }
    staff_dir = Path(__file__).resolve().parents[1] / "web" / "staff"
    for path in staff_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute):
                assert node.attr not in patron_side, f"{path.name} calls queries.{node.attr}"


def _titles_with_a_copy(n: int) -> list[tuple[int, str]]:
    """(work id, a copy's barcode) of `n` reservable titles with one copy, none on loan."""
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT w.id, min(i.barcode) AS barcode FROM item i "
                "JOIN work w ON w.id = i.work_id "
                "JOIN material_type m ON m.code = i.material_type "
                "WHERE m.reservable AND m.loan_days > 0 AND i.status = 'available' "
                "AND i.work_id NOT IN (SELECT it.work_id FROM loan l "
                "JOIN item it ON it.id = l.item_id) "
                "GROUP BY w.id HAVING count(*) = 1 ORDER BY w.id LIMIT :n"
            ),
            {"n": n},
        ).all()
    return [(int(r.id), str(r.barcode)) for r in rows]


def test_the_row_says_kept_pulling_and_held_back_and_offers_no_pickup_change_when_kept(
    team: dict[str, Console],
) -> None:
    staff = team["staff"]
    hanako = patron_id(HANAKO.card_number)
    (w1, b1), (w2, _b2), (w3, _b3), (w4, _b4) = _titles_with_a_copy(4)
    off_the_shelves(w2)
    off_the_shelves(w4)
    with engine.read() as conn:  # pick up where volume 1's copy is: kept there at once
        branch = conn.execute(
            text(
                "SELECT b.code FROM item i JOIN branch b ON b.id = i.branch_id WHERE i.barcode = :b"
            ),
            {"b": b1},
        ).scalar_one()
    queries.place_series(hanako, [w1, w2], "together", branch, 10)
    queries.place_series(hanako, [w3, w4], "in_order", branch, 10)
    queries.pull_copy(b1)  # volume 1 of the set comes off the shelf: kept, 2 not in yet
    holds = {h.work_id: h for h in queries.list_holds(hanako)}
    assert holds[w1].state == "kept" and holds[w3].state == "pulling"
    # Ready, in transit, on a pull list, kept, then waiting.
    assert [h.state for h in queries.list_holds(hanako)][:2] == ["pulling", "kept"]
    section = _holds_section(staff.get(f"/staff/patrons/{hanako}").text)  # type: ignore[attr-defined]
    rows = {
        w: section.split(f'id="staff-hold-{holds[w].id}"', 1)[1].split("</li>", 1)[0]
        for w in (w1, w3, w4)
    }
    assert "予約棚に確保中" in rows[w1] and "受取館を変更" not in rows[w1]
    assert "抜き取りリストに載っています" in rows[w3]
    assert "前の巻を借りるまで保留中" in rows[w4]
