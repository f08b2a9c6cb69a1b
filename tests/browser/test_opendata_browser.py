"""A record page's JSON-LD and COinS in a real browser: the strict CSP lets the data block be
(a data block is never executed, so nothing is refused), and the page stays accessible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
NDL_ID = "029455884"  # これからの本の話をしよう, ISBN 978-4-7949-7075-6


def test_record_page_data_block_passes_the_csp_and_axe(phone: Page, live_server: str) -> None:
    phone.goto(live_server + f"/ndl/{NDL_ID}")
    assert "/records/" in phone.url
    block = phone.locator('script[type="application/ld+json"]')
    data = json.loads(block.text_content() or "")
    assert data["@type"] == "Book" and data["isbn"] == "9784794970756"
    # The browser parsed the data block without treating it as script to refuse.
    assert phone.csp_errors == []  # type: ignore[attr-defined]
    assert phone.locator("span.Z3988").count() == 1
    phone.evaluate(AXE.read_text("utf-8"))
    violations = phone.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == []
