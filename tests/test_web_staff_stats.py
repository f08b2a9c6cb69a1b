"""The library's statistics screen (業務統計, `/staff/stats`, issue 16): charts with their
data tables, CSV files, small cells suppressed, the period form, who may see it, and the
search counts that feed it (no database write per search)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries, stats
from tests import test_web_staff
from tests.test_web_staff import TARO, Clock, Console, available_barcodes


@pytest.fixture(autouse=True)
def fresh_tally(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process's tally: no counts or cached salt from another test's database."""
    monkeypatch.setattr(stats, "_tallies", {})


_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team


def _loans_this_month(clock: Clock) -> tuple[int, str]:
    """This month's loans, and their total as the table shows it: a lower bound ("≥") of
    the days shown when a day of 1 to 4 loans is suppressed."""
    today = queries.library_day()
    with engine.read() as conn:
        days = [
            int(n)
            for n in conn.execute(
                text(
                    "SELECT sum(count) FROM daily_count "
                    "WHERE event = 'checkout' AND day >= :f AND day <= :t GROUP BY day"
                ),
                {"f": today.replace(day=1), "t": today},
            ).scalars()
        ]
    shown = sum(n for n in days if n >= 5)
    return sum(days), (f"≥ {shown}" if any(0 < n < 5 for n in days) else str(shown))


def _csv(response: object) -> list[list[str]]:
    body: bytes = response.content  # type: ignore[attr-defined]
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads it
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_a_manager_sees_this_months_loans_as_a_chart_and_downloads_the_csv(
    team: dict[str, Console], clock: Clock
) -> None:
    for barcode in available_barcodes(5):
        queries.checkout(TARO.card_number, barcode, confirm=True)
    loans, total_shown = _loans_this_month(clock)
    assert loans >= 5
    manager = team["manager"].speaking("ja")
    home = manager.get("/staff/").text  # type: ignore[attr-defined]
    assert 'href="/staff/stats"' in home and "業務統計" in home
    page = manager.get("/staff/stats")
    assert page.status_code == 200  # type: ignore[attr-defined]
    html: str = page.text  # type: ignore[attr-defined]
    # The charts: inline SVG drawn by pygal, one labelled image each, nothing the CSP refuses.
    svgs = re.findall(r"<svg [^>]*>", html)
    assert len(svgs) == 3 and all('role="img"' in s and "aria-label=" in s for s in svgs)
    assert "pygal-chart" in svgs[0] and "<style" not in html and "style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert 'href="/staff/stats/charts.css"' in html
    css = manager.get("/staff/stats/charts.css")
    assert css.headers["content-type"].startswith("text/css")  # type: ignore[attr-defined]
    assert "svg.pygal-chart .color-0" in css.text  # type: ignore[attr-defined]
    # The data table under the chart, this month's loans in its total row.
    assert '<caption id="caption-circulation">貸出・登録</caption>' in html
    total = re.search(r'<th scope="row">合計</th><td class="number">([^<]+)</td>', html)
    assert total and total.group(1).replace(",", "") == total_shown
    assert "1〜4件は「&lt;5」と表示します" in html  # the suppression is said on the page
    assert 'href="/staff/mail"' in html  # the failed-mail list is reached from here
    # The CSV of the same table.
    link = re.search(r'href="(/staff/stats\.csv\?[^"]*table=circulation[^"]*)"', html)
    assert link
    download = manager.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200  # type: ignore[attr-defined]
    assert download.headers["content-type"] == "text/csv; charset=utf-8"  # type: ignore[attr-defined]
    assert "attachment" in download.headers["content-disposition"]  # type: ignore[attr-defined]
    rows = _csv(download)
    assert rows[0][:2] == ["期間", "貸出"]
    assert rows[-1][:2] == ["合計", total_shown]
    assert all(cell == "<5" or cell.isdigit() for row in rows[1:-1] for cell in row[1:])
    assert all(cell.removeprefix("≥ ").isdigit() for cell in rows[-1][1:])


def test_every_table_has_a_csv_and_small_cells_say_under_five(
    team: dict[str, Console], clock: Clock
) -> None:
    today = queries.library_day()
    with engine.write() as conn:
        stats.flush_searches(conn, {(today, stats.SEARCH): 12, (today, stats.ZERO_HIT): 3})
    staff = team["staff"].speaking("en")
    html = staff.get("/staff/stats").text  # type: ignore[attr-defined]
    assert "a count from 1 to 4 is shown as “&lt;5”" in html
    assert "A total that includes such a hidden count is shown as “≥”" in html
    assert "Shown only for whole calendar months that have ended" in html
    assert len(_csv(staff.get("/staff/stats.csv?table=registrations"))) == 1  # this month: no
    for name in ("circulation", "web", "branches", "registrations", "zero_hits"):
        rows = _csv(staff.get(f"/staff/stats.csv?table={name}"))
        assert rows and rows[0], name
    web = _csv(staff.get("/staff/stats.csv?table=web"))
    assert web[0] == ["Period", "Web logins", "Searches", "Searches with no hits"]
    # The total of the hidden 3 is no exact number: a lower bound, so nothing is subtracted.
    assert web[-1][2:] == ["12", "≥ 0"]
    assert staff.get("/staff/stats.csv?table=nothing").status_code == 404  # type: ignore[attr-defined]


def test_the_period_form_takes_japanese_dates_and_says_what_is_wrong(
    team: dict[str, Console],
) -> None:
    staff = team["staff"].speaking("ja")
    for typed in ("令和8年11月1日", "２０２６－１１－０１", "R8.11.1"):
        page = staff.get("/staff/stats", params={"from": typed, "to": "2026-11-20"})
        assert page.status_code == 200, typed  # type: ignore[attr-defined]
        assert "2026年11月1日" in page.text  # type: ignore[attr-defined]
    bad = staff.get("/staff/stats", params={"from": "きのう", "unit": "month"})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert re.search(r'id="stats-from"[^>]*aria-invalid="true"', bad.text)  # type: ignore[attr-defined]
    assert '<p class="field-error" id="from-error">' in bad.text  # type: ignore[attr-defined]
    assert 'value="きのう"' in bad.text  # what was typed stays  # type: ignore[attr-defined]
    backwards = staff.get("/staff/stats", params={"from": "2026-11-20", "to": "2026-11-01"})
    assert backwards.status_code == 422  # type: ignore[attr-defined]
    assert 'id="to-error"' in backwards.text  # type: ignore[attr-defined]
    too_long = staff.get("/staff/stats", params={"from": "2020-01-01", "to": "2026-11-01"})
    assert 'id="to-error"' in too_long.text  # type: ignore[attr-defined]
    by_year = staff.get("/staff/stats", params={"from": "2020-01-01", "unit": "year"})
    assert by_year.status_code == 200  # type: ignore[attr-defined]
    branch = staff.get("/staff/stats", params={"branch": "nowhere"})
    assert 'id="branch-error"' in branch.text  # type: ignore[attr-defined]
    assert staff.get("/staff/stats.csv", params={"from": "x", "table": "web"}).status_code == 422  # type: ignore[attr-defined]


def test_only_managers_and_staff_see_the_statistics(team: dict[str, Console], app: object) -> None:
    for role in ("temporary", "intern"):
        for url in ("/staff/stats", "/staff/stats.csv?table=web", "/staff/stats/charts.css"):
            assert team[role].get(url).status_code == 403, (role, url)  # type: ignore[attr-defined]
        assert 'href="/staff/stats"' not in team[role].get("/staff/").text  # type: ignore[attr-defined]
    assert 'href="/staff/stats"' in team["staff"].get("/staff/").text  # type: ignore[attr-defined]
    anonymous = TestClient(app)  # type: ignore[arg-type]
    for url in ("/staff/stats", "/staff/stats.csv?table=web"):
        response = anonymous.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/staff/login"


def test_the_form_is_a_get_and_nothing_is_posted(team: dict[str, Console]) -> None:
    manager = team["manager"]
    html = manager.get("/staff/stats").text  # type: ignore[attr-defined]
    assert re.search(r'<form method="get" action="/staff/stats"', html)
    assert manager.client.post("/staff/stats", data={}).status_code in (403, 405)
    token = test_web_staff.csrf_of(manager.get("/staff/").text)  # type: ignore[attr-defined]
    posted = manager.client.post("/staff/stats", data={"csrf_token": token})
    assert posted.status_code == 405


def test_staff_see_no_patron_in_the_statistics(team: dict[str, Console]) -> None:
    manager = team["manager"]
    bodies = [manager.get("/staff/stats", params={"from": "2020-01-01", "unit": "year"}).content]  # type: ignore[attr-defined]
    bodies += [
        manager.get(f"/staff/stats.csv?from=2020-01-01&unit=year&table={t}").content  # type: ignore[attr-defined]
        for t in ("circulation", "web", "branches", "registrations", "zero_hits")
    ]
    for value in test_web_staff.personal_values():
        assert all(value not in body for body in bodies), value


def test_searches_are_counted_without_a_write_per_search(app: object, clock: Clock) -> None:
    with engine.read() as conn:
        title = str(conn.execute(text("SELECT title FROM work ORDER BY id LIMIT 1")).scalar_one())
    visitor = TestClient(app, client=("192.0.2.1", 50000))  # type: ignore[arg-type]
    assert visitor.get("/search", params={"q": title}).status_code == 200
    nothing = {"q": "ぜったいにないほんのなまえ"}
    assert visitor.get("/search", params=nothing).status_code == 200
    assert visitor.get("/search", params=nothing).status_code == 200  # the same visitor
    assert visitor.get("/search", params={"q": title, "page": "2"}).status_code in (200, 422)
    with engine.read() as conn:  # no search wrote anything
        for table in ("search_count", "zero_hit_search"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    other = TestClient(app, client=("192.0.2.2", 50000))  # type: ignore[arg-type]
    other.get("/search", params=nothing)
    assert queries.flush_search_counts() == 7  # 4 searches, 3 of them found nothing
    with engine.read() as conn:
        counted = dict(conn.execute(text("SELECT event, count FROM search_count")).all())
        rows = conn.execute(text("SELECT query, session_hash FROM zero_hit_search")).all()
    assert counted == {"search": 4, "zero_hit": 3}
    assert len(rows) == 2  # two visitors, the first one once
    assert {r.query for r in rows} == {"ぜつたいにないほんのなまえ"}
    for row in rows:
        assert len(row.session_hash) == 64 and "192.0.2" not in row.session_hash


def _zero_hit_searches(app: object, clients: list[tuple[str, str]]) -> list[str]:
    """Each (address, User-Agent) searches for a word that finds nothing; the words listed."""
    for address, agent in clients:
        browser = TestClient(app, client=(address, 50000), headers={"User-Agent": agent})  # type: ignore[arg-type]
        assert browser.get("/search", params={"q": "ないないほん"}).status_code == 200
    queries.flush_search_counts()
    today = queries.library_day()
    return [z.query for z in queries.get_stats(today, today, "day", "").zero_hits]


def test_five_browsers_on_one_address_are_one_visitor(app: object, clock: Clock) -> None:
    agents = [f"Browser {n}" for n in range(5)]
    assert _zero_hit_searches(app, [("192.0.2.9", a) for a in agents]) == []
    # One IPv6 /64 (a household or one device's privacy addresses) is one visitor too.
    addresses = [f"2001:db8:1:2::{n + 1}" for n in range(5)]
    assert _zero_hit_searches(app, [(a, "Browser") for a in addresses]) == []


def test_five_addresses_on_one_day_show_a_zero_hit_word(app: object, clock: Clock) -> None:
    clients = [(f"192.0.2.{n + 1}", "Browser") for n in range(4)]
    assert _zero_hit_searches(app, clients) == []
    assert _zero_hit_searches(app, [("2001:db8:9::1", "Browser")]) == ["ないないほん"]


def test_the_flusher_writes_at_shutdown(library_db: object, clock: Clock) -> None:
    from tests.test_web_staff import staff_app

    with TestClient(staff_app(library_db.url)) as running:  # type: ignore[arg-type,attr-defined]
        running.get("/search", params={"q": "こころ"})
    engine.configure(library_db.url)  # type: ignore[attr-defined]  # shutdown disposed it
    with engine.read() as conn:
        searched = "SELECT count FROM search_count WHERE event = 'search'"
        assert conn.execute(text(searched)).scalar_one() == 1


def test_the_flusher_writes_every_interval(library_db: object, clock: Clock) -> None:
    """While the app runs, the counts reach the database without a shutdown."""
    from web import search_counts

    async def serve_a_while() -> int:
        async with search_counts.flushing(0.05):
            queries.note_search("こころ", False, "visitor", "key")
            for _ in range(100):
                await asyncio.sleep(0.05)
                with engine.read() as conn:
                    found = conn.execute(text("SELECT sum(count) FROM search_count")).scalar()
                if found:
                    return int(found)
        return 0

    # In a thread of its own: another test's browser may own this thread's event loop.
    found: list[int] = []
    runner = threading.Thread(target=lambda: found.append(asyncio.run(serve_a_while())))
    runner.start()
    runner.join(30)
    assert found == [1]
