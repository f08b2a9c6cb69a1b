"""A patron on a phone reserves three volumes of a series in order (htmx, inline), sees
volume 2 held back until volume 1 is collected, steps back on volume 3, and the pages
pass axe and fit 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from db import queries
from tests.browser.conftest import start_server, stop_server
from tests.conftest import Database
from tests.test_web_holds import HANAKO, return_overdue
from tests.test_web_series_holds import SERIES, add_series

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def series_server(library_db: Database) -> Iterator[tuple[str, list[int]]]:
    ids = add_series(3)
    proc, base = start_server(library_db.url)
    yield base, ids
    stop_server(proc)


def serious_violations(page: Page) -> list[str]:
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    page.evaluate(AXE.read_text("utf-8"))
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    return found


def test_phone_series_in_order_then_step_back(
    phone: Page, series_server: tuple[str, list[int]]
) -> None:
    base, ids = series_server
    phone.goto(base + "/login")
    phone.get_by_label("利用者カード番号").fill(HANAKO[0])
    phone.get_by_label("パスワード", exact=True).fill(HANAKO[1])
    phone.get_by_role("button", name="ログイン").click()
    phone.wait_for_url("**/my")

    # The record page's inline reserve form (loaded by htmx) offers the series.
    phone.goto(f"{base}/records/{ids[0]}")
    link = phone.get_by_role("link", name=f"「{SERIES}」の複数巻をまとめて予約する")
    expect(link).to_be_visible()
    link.click()
    phone.wait_for_url("**/hold/series")
    for n in (1, 2, 3):
        expect(phone.get_by_label(f"{n} 巻 ふしぎの森 第{n}巻")).to_be_checked()
    expect(phone.get_by_label("順番に", exact=True)).to_be_checked()
    assert serious_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.evaluate("window.__stillHere = true")
    phone.get_by_role("button", name="選んだ巻を予約する").click()
    expect(phone.get_by_text("シリーズ予約をしました")).to_be_visible()
    assert phone.evaluate("window.__stillHere") is True  # swapped in place by htmx

    phone.goto(base + "/my/holds")
    volume2 = phone.locator("li.hold", has_text="ふしぎの森 第2巻")
    expect(volume2).to_contain_text("前の巻を借りるまで保留中")
    expect(phone.locator("li.hold", has_text="ふしぎの森 第1巻")).to_contain_text("予想：")
    assert serious_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    # Volume 2 comes back first (held back), then volume 1; she collects volume 1.
    assert queries.return_item("SER0002").route == "available"
    assert queries.return_item("SER0001").route == "ready"
    return_overdue(HANAKO[0])  # issue 12: a patron with overdue items is refused
    queries.checkout(HANAKO[0], "SER0001")
    assert queries.pull_copy("SER0002").route == "ready"  # staff take it off the shelf
    phone.reload()
    expect(volume2).to_contain_text("でご用意しています")

    # Volume 3: let the next reader go first once, in place.
    volume3 = phone.locator("li.hold", has_text="ふしぎの森 第3巻")
    phone.evaluate("window.__stillHere = true")
    volume3.get_by_role("button", name="順番を譲る").click()
    expect(phone.locator("li.hold", has_text="ふしぎの森 第3巻")).to_contain_text(
        "次の1冊を後ろの方に譲っています"
    )
    assert phone.evaluate("window.__stillHere") is True
    assert serious_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.csp_errors == []  # type: ignore[attr-defined]
