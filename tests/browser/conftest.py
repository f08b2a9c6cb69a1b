"""A live server on 127.0.0.1 and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import SERVER_START_SECONDS, _drop_pg_database, copy_database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`shiori serve` on a free loopback port for `url`; returns once it answers."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve"],
        cwd=ROOT,
        # Every browser test searches from 127.0.0.1: never slowed as a burst (web/burst.py).
        env={
            **os.environ,
            "SHIORI_DATABASE_URL": url,
            "SHIORI_PORT": str(port),
            "SHIORI_SEARCH_BURST_EXEMPT": "127.0.0.1",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            if httpx.get(base + "/", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait()
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(_catalog_template: str, db_dir: Path) -> Iterator[str]:
    url, pg_name = copy_database(_catalog_template, db_dir)
    proc, base = start_server(url)
    yield base
    stop_server(proc)
    if pg_name:
        _drop_pg_database(pg_name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def watch_csp(page: Page) -> Page:
    """Collect Content-Security-Policy violations in `page.csp_errors` (tests assert none)."""
    page.csp_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: (
            page.csp_errors.append(msg.text)  # type: ignore[attr-defined]
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    return page


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="ja-JP",
    )
    yield watch_csp(context.new_page())
    context.close()


def open_site_menu(page: Page) -> None:
    """On a phone the header's links are in a menu (issue 20): open it when it is shown."""
    summary = page.locator(".site-menu > summary")
    if summary.is_visible() and page.locator(".site-menu[open]").count() == 0:
        summary.click()
