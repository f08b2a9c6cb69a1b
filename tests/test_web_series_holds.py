"""Series reservations, step back and the estimate window over HTTP (no-JS and htmx)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import text
from starlette.testclient import TestClient

from db import catalog_write, engine, queries
from tests import test_queries_retention as retention
from tests.conftest import Database
from tests.test_queries_circulation import add_item
from tests.test_web_account import HTMX, csrf_of, log_in
from tests.test_web_holds import HANAKO, MISAKI, TARO, client_for, patron_id, return_overdue

SERIES = "ふしぎ叢書"


def add_series(volumes: int = 3, lend_to: str = TARO[0]) -> list[int]:
    """Works of one series, one copy each at sogo, all on loan to `lend_to`."""
    now = datetime.now(UTC)
    with engine.write() as conn:
        records = [
            catalog_write.WorkRecord(
                source="synth",
                source_id=f"series-{n}",
                title=f"ふしぎの森 第{n}巻",
                series=f"{SERIES} ; {n}",
            )
            for n in range(1, volumes + 1)
        ]
        ids = catalog_write.upsert_works(conn, records, catalog_write.ImportReport(), now)
        for n, work_id in enumerate(ids, start=1):
            add_item(conn, work_id, f"SER{n:04d}", "book", branch="sogo")
    for n in range(1, volumes + 1):
        queries.checkout(lend_to, f"SER{n:04d}")
    return list(ids)


def series_form(client: TestClient, work_id: int) -> str:
    page = client.get(f"/records/{work_id}/hold/series")
    assert page.status_code == 200
    return page.text


def place(
    client: TestClient, work_id: int, volumes: list[int], mode: str, **headers: str
) -> object:
    token = csrf_of(series_form(client, work_id))
    return client.post(
        f"/records/{work_id}/hold/series",
        data={
            "volume": [str(v) for v in volumes],
            "mode": mode,
            "pickup": "sogo",
            "csrf_token": token,
        },
        headers=headers,
        follow_redirects=False,
    )


def row_of(page: str, title: str) -> str:
    rows = re.findall(r'<li class="hold [^"]*" id="hold-\d+"[^>]*>.*?</li>', page, re.S)
    [found] = [r for r in rows if f">{title}</a>" in r]
    return found


def test_done_when_three_volumes_in_order(library_db: Database) -> None:
    """The issue: a series request for three volumes in order delivers volume 2 only after
    volume 1 is collected."""
    ids = add_series()
    with client_for(library_db) as web:
        log_in(web, *HANAKO)
        # The record page's reserve form offers the series.
        form = web.get(f"/records/{ids[0]}/hold", headers=HTMX).text
        assert f'href="/records/{ids[0]}/hold/series"' in form and SERIES in form
        page = series_form(web, ids[0])
        assert page.count('name="volume"') == 3 and "順番に" in page and "まとめて" in page
        response = place(web, ids[0], ids, "in_order")
        assert response.status_code == 303 and response.headers["location"] == "/my/holds"
        mine = web.get("/my/holds").text
        assert "3 冊をシリーズ予約しました" in mine
        assert "シリーズ予約（順番に）の 2 冊目" in row_of(mine, "ふしぎの森 第2巻")
        assert "前の巻を借りるまで保留中" in row_of(mine, "ふしぎの森 第2巻")
        assert "保留中" not in row_of(mine, "ふしぎの森 第1巻")
        assert "予想：" in row_of(mine, "ふしぎの森 第1巻")

        # Volume 2 comes back first: not for Hanako yet.
        assert queries.return_item("SER0002").route == "available"
        assert "でご用意しています" not in row_of(web.get("/my/holds").text, "ふしぎの森 第2巻")
        # Volume 1 comes back and waits for her; she collects it at the counter.
        assert queries.return_item("SER0001").route == "ready"
        assert "でご用意しています" in row_of(web.get("/my/holds").text, "ふしぎの森 第1巻")
        return_overdue(HANAKO[0])  # issue 12: a patron with overdue items is refused
        queries.checkout(HANAKO[0], "SER0001")
        # Now volume 2's copy on the shelf goes on the pull list; staff scan it.
        mine = web.get("/my/holds").text
        assert "ふしぎの森 第1巻" not in mine
        assert "でご用意しています" not in row_of(mine, "ふしぎの森 第2巻")
        assert queries.pull_copy("SER0002").route == "ready"
        mine = web.get("/my/holds").text
        assert "でご用意しています" in row_of(mine, "ふしぎの森 第2巻")
        assert "前の巻を借りるまで保留中" in row_of(mine, "ふしぎの森 第3巻")


def test_series_form_with_htmx_and_refusals_next_to_the_form(library_db: Database) -> None:
    ids = add_series(2)
    with client_for(library_db) as web:
        log_in(web, *HANAKO)
        refused = place(web, ids[0], ids[:1], "in_order", **HTMX)
        assert refused.status_code == 422
        assert 'id="series-error"' in refused.text and "2 冊以上選んでください" in refused.text
        assert "<html" not in refused.text
        done = place(web, ids[0], ids, "together", **HTMX)
        assert done.status_code == 200 and "シリーズ予約をしました" in done.text
        again = place(web, ids[0], ids, "together")
        assert again.status_code == 422
        assert "ふしぎの森 第1巻：この資料はすでに予約しています" in again.text
        mine = web.get("/my/holds").text
        assert "シリーズ予約（まとめて）の 2 冊目" in row_of(mine, "ふしぎの森 第2巻")


def test_step_back_no_js_and_htmx(library_db: Database) -> None:
    [work_id] = add_series(1)
    with client_for(library_db) as a, client_for(library_db) as b:
        log_in(a, *HANAKO)
        log_in(b, *MISAKI)
        hanako = queries.place_hold(patron_id(HANAKO[0]), work_id, "sogo")
        queries.place_hold(patron_id(MISAKI[0]), work_id, "sogo")
        page = a.get("/my/holds").text
        token = csrf_of(page)
        url = f"/my/holds/{hanako.id}/step-back"
        bad = a.post(url, data={"how": "days", "days": "九十", "csrf_token": token}, headers=HTMX)
        assert bad.status_code == 422 and "1〜60 日の範囲で" in bad.text
        done = a.post(url, data={"how": "days", "days": "５", "csrf_token": token}, headers=HTMX)
        assert done.status_code == 200 and "まで順番を譲っています" in done.text
        assert done.text.startswith(f'<li class="hold hold-waiting" id="hold-{hanako.id}" ')
        undo = a.post(f"{url}/undo", data={"csrf_token": token}, follow_redirects=False)
        assert undo.status_code == 303
        assert "順番の譲渡をやめました" in a.get("/my/holds").text
        once = a.post(url, data={"how": "once", "csrf_token": token}, follow_redirects=False)
        assert once.status_code == 303
        assert "次の1冊を後ろの方に譲っています" in a.get("/my/holds").text
        # Another patron's hold is simply not found.
        other = b.post(url, data={"how": "once", "csrf_token": csrf_of(b.get("/my/holds").text)})
        assert other.status_code == 404


def test_estimate_change_is_explained_and_noted(library_db: Database) -> None:
    [work_id] = add_series(1)
    with client_for(library_db) as web:
        log_in(web, *HANAKO)
        first = queries.place_hold(patron_id(MISAKI[0]), work_id, "sogo")
        mine = queries.place_hold(patron_id(HANAKO[0]), work_id, "sogo")
        assert "予想が変わりました" not in web.get("/my/holds").text
        queries.cancel_hold(patron_id(MISAKI[0]), first.id)
        row = row_of(web.get("/my/holds").text, "ふしぎの森 第1巻")
        assert "予想が変わりました" in row and "前の予約が 1 件減りました" in row
        token = csrf_of(web.get("/my/holds").text)
        seen = web.post(
            f"/my/holds/{mine.id}/estimate-seen", data={"csrf_token": token}, headers=HTMX
        )
        assert seen.status_code == 200 and "予想が変わりました" not in seen.text


def test_cancel_and_continue_a_series_request(library_db: Database) -> None:
    ids = add_series(2)
    with client_for(library_db) as web:
        log_in(web, *HANAKO)
        request_id = queries.place_series(patron_id(HANAKO[0]), ids, "in_order", "sogo", 10)
        token = csrf_of(web.get("/my/holds").text)
        done = web.post(
            f"/my/holds/series/{request_id}/cancel", data={"csrf_token": token}, headers=HTMX
        )
        assert done.status_code == 200 and "シリーズ予約を取り消しました" in done.text
        assert done.text.lstrip().startswith('<section id="holds"')
        assert queries.list_holds(patron_id(HANAKO[0])) == ()
        gone = web.post(f"/my/holds/series/{request_id}/continue", data={"csrf_token": token})
        assert gone.status_code == 404


def test_english_page(library_db: Database) -> None:
    ids = add_series(2)
    with client_for(library_db) as web:
        log_in(web, *TARO)
        web.get("/lang/en", follow_redirects=False)
        queries.place_series(patron_id(HANAKO[0]), ids, "in_order", "sogo", 10)
        page = series_form(web, ids[1])
        assert "How should they come?" in page and "On loan to you" in page


def test_a_purge_takes_the_series_request_with_the_patron(library_db: Database) -> None:
    ids = add_series(2)
    misaki = patron_id(MISAKI[0])
    queries.place_series(misaki, ids, "together", "sogo", 10)
    queries.return_item("SER0001")  # kept for her
    retention.set_patron(MISAKI[0], last_loan_on=date(2020, 1, 1))
    retention.run()
    with engine.read() as conn:
        for table in ("hold", "hold_request"):
            left = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE patron_id = :p"), {"p": misaki}
            ).scalar_one()
            assert left == 0, table
