"""Request bodies are limited while they stream in, on every route, chunked or not: a body
past its route's limit is refused with the site's 413 page before anything buffers it."""

from __future__ import annotations

import base64
import os
import select
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.testclient import TestClient
from starlette.types import Message

from tests.browser.conftest import start_server, stop_server
from tests.conftest import Database
from tests.test_web_account import HANAKO, HTMX, csrf_of, log_in
from web import limits

CHUNK = 64 * 1024
HUGE = 50 * 1024 * 1024


class Upload:
    """The client side of one request sent straight to the ASGI app: `total` bytes (of
    `content`, else of "x") in `CHUNK`-sized `http.request` messages, made as they are
    asked for, counting how many the app took."""

    def __init__(self, total: int, content: bytes = b"") -> None:
        self.total = len(content) if content else total
        self.content = content
        self.taken = 0
        self.filler = b"x" * CHUNK

    async def receive(self) -> Message:
        if self.taken >= self.total:
            return {"type": "http.disconnect"}
        size = min(CHUNK, self.total - self.taken)
        chunk = self.content[self.taken : self.taken + size] if self.content else self.filler
        self.taken += size
        more = self.taken < self.total
        return {"type": "http.request", "body": chunk[:size], "more_body": more}


def _send(
    client: TestClient, path: str, upload: Upload, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    """POST `upload` to `path` of the client's app, on the client's event loop; the status,
    headers and body of the answer."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    answer: list[Message] = []

    async def send(message: Message) -> None:
        answer.append(message)

    assert client.portal is not None  # inside the fixture's `with TestClient(...)`
    client.portal.call(client.app, scope, upload.receive, send)
    start = answer[0]
    body = b"".join(m.get("body", b"") for m in answer[1:])
    return start["status"], dict(start["headers"]), body


CHUNKED = (b"transfer-encoding", b"chunked")
FORM = (b"content-type", b"application/x-www-form-urlencoded")
JSON = (b"content-type", b"application/json")


def test_a_chunked_body_past_the_limit_is_refused_while_it_streams(client: TestClient) -> None:
    cases = [
        ("/booklist/availability", JSON, limits.BOOKLIST_AVAILABILITY_BODY),
        ("/login", FORM, limits.MAX_BODY),  # read by the CSRF check before any handler
        ("/my/booklist/save", FORM, limits.BOOKLIST_SEALED_BODY),  # as the CSRF check reads
        ("/staff/login", FORM, limits.MAX_BODY),
        ("/no/such/page", FORM, limits.MAX_BODY),
    ]
    for path, kind, limit in cases:
        upload = Upload(HUGE)
        status, headers, body = _send(client, path, upload, [kind, CHUNKED])
        assert status == 413, (path, status)
        # Refused as soon as the count passed the limit: never more than one chunk beyond.
        assert upload.taken <= limit + CHUNK, (path, upload.taken)
        assert headers[b"connection"] == b"close"
        assert "大きすぎます".encode() in body


def test_a_declared_length_past_the_limit_is_refused_unread(client: TestClient) -> None:
    for path, limit in (
        ("/booklist/availability", limits.BOOKLIST_AVAILABILITY_BODY),
        ("/login", limits.MAX_BODY),
        ("/my/booklist/create", limits.BOOKLIST_SEALED_BODY),
    ):
        upload = Upload(HUGE)
        length = (b"content-length", str(limit + 1).encode())
        status, _headers, _body = _send(client, path, upload, [FORM, length])
        assert status == 413, path
        assert upload.taken == 0, path


def test_a_body_within_the_limit_is_read_whole(client: TestClient) -> None:
    fields = [f"f{i}=".encode() + b"x" * 60_000 for i in range(4)]
    rest = limits.MAX_BODY - sum(len(f) + 1 for f in fields) - len("f4=")
    upload = Upload(0, b"&".join([*fields, b"f4=" + b"x" * rest]))
    assert upload.total == limits.MAX_BODY
    status, _headers, _body = _send(client, "/login", upload, [FORM, CHUNKED])
    assert status == 403  # past the size limit, refused by the CSRF check: no token
    assert upload.taken == limits.MAX_BODY


def test_the_413_page_is_the_sites_error_page(client: TestClient) -> None:
    big = b"a=" + b"x" * limits.MAX_BODY
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    page = client.post("/login", content=big, headers=form)
    assert page.status_code == 413
    assert "content-security-policy" in page.headers
    assert "<html" in page.text and "大きすぎます" in page.text
    english = client.post("/login", content=big, headers={**form, "Accept-Language": "en"})
    assert english.status_code == 413 and "too large" in english.text
    fragment = client.post("/login", content=big, headers={**form, **HTMX})
    assert fragment.status_code == 413 and fragment.headers["hx-retarget"] == "#alerts"


def _b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def test_forms_and_a_full_size_booklist_still_go_through(web: TestClient) -> None:
    assert log_in(web, *HANAKO).status_code == 303  # type: ignore[attr-defined]
    token = csrf_of(web.get("/my/password").text)
    largest = 2 * 1024 * 1024  # the most ciphertext db.queries stores
    sealed = {
        "key_id": "0" * 32,
        "kdf_salt": _b64(16),
        "kdf_iterations": 600_000,
        "wrapped_key": _b64(40),
        "nonce": _b64(12),
        "ciphertext": _b64(largest),
    }
    headers = {"X-CSRF-Token": token}
    created = web.post("/my/booklist/create", json=sealed, headers=headers)
    assert created.json() == {"version": 1}
    save = {"key_id": "0" * 32, "base_version": 1, "nonce": _b64(12), "ciphertext": _b64(largest)}
    assert web.post("/my/booklist/save", json=save, headers=headers).json() == {"version": 2}
    over = {**save, "base_version": 2, "ciphertext": _b64(limits.BOOKLIST_SEALED_BODY)}
    assert web.post("/my/booklist/save", json=over, headers=headers).status_code == 413
    assert web.get("/my/booklist/state").json()["version"] == 2
    # An availability lookup of the most ids there can be fits its limit.
    most = {"ids": list(range(2**31 - 500, 2**31))}
    assert web.post("/booklist/availability", json=most).status_code == 200


def _peak_rss(pid: int) -> int:
    """The most memory the process has held so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _chunked_post(base: str, path: str, total: int, seconds: float) -> tuple[bytes, int]:
    """POST `total` bytes of chunked JSON to a live server, reading its answer between
    chunks; stops at the answer, a closed connection or the deadline. The answer's first
    bytes and how much was sent."""
    address = urlsplit(base)
    chunk = b"x" * CHUNK
    frame = b"%x\r\n" % CHUNK + chunk + b"\r\n"
    deadline = time.monotonic() + seconds
    sent = 0
    answer = b""
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            while sent < total and time.monotonic() < deadline:
                if select.select([sock], [], [], 0)[0]:
                    answer = sock.recv(4096)
                    break
                sock.sendall(frame)
                sent += CHUNK
            else:
                answer = sock.recv(4096)
        except OSError:  # the server closed the connection under the upload
            answer = _left_in_socket(sock)
    return answer, sent


def _left_in_socket(sock: socket.socket) -> bytes:
    """The answer a server sent before closing the connection, if it is still there to read
    (a write into the closed connection fails first when the machine is busy)."""
    try:
        return sock.recv(4096)
    except OSError:
        return b""


def test_a_live_server_stays_small_under_a_huge_chunked_upload(catalog_db: Database) -> None:
    proc, base = start_server(catalog_db.url)
    try:
        before = _peak_rss(proc.pid)
        answer, sent = _chunked_post(base, "/booklist/availability", HUGE, seconds=20)
        grown = _peak_rss(proc.pid) - before
    finally:
        stop_server(proc)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert sent < HUGE // 4, sent  # the server stopped taking the body early
    assert grown < 16 * 1024 * 1024, grown
