"""Personal data and secrets stay out of URLs and logs: staff lookups by POST, one-time
tokens exchanged for a short-lived cookie, and an access log without query strings."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.conftest import Database, app_settings
from web.app import create_app


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines(library_db: Database) -> Iterator[tuple[str, list[str]]]:
    """A real uvicorn server on a free port, with its access log collected."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    collect = Collect()
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(collect)
    level = logger.level
    logger.setLevel(logging.INFO)
    config = uvicorn.Config(
        create_app(app_settings(library_db.url)),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=True,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", collect.lines
    finally:
        server.should_exit = True
        thread.join(10)
        logger.removeHandler(collect)
        logger.setLevel(level)


def test_access_log_keeps_no_query_strings_or_tokens(
    access_lines: tuple[str, list[str]],
) -> None:
    base, lines = access_lines
    secrets = ["yamada-hanako", "0001234567", "s3cr3t-reset", "s3cr3t-enrol"]
    with httpx.Client(base_url=base) as http:
        http.get("/search", params={"q": secrets[0]})
        http.get("/staff/patrons", params={"card": secrets[1]})
        http.get("/password/reset", params={"token": secrets[2]})
        http.get(f"/staff/enrol/{secrets[3]}")
        http.get("/my/loans", params={"sort": secrets[0]})
    time.sleep(0.2)
    logged = "\n".join(lines)
    assert '"GET /search HTTP/1.1"' in logged
    assert '"GET /password/reset HTTP/1.1"' in logged
    for secret in secrets:
        assert secret not in logged
