"""deploy/nginx.conf in front of `shiori serve`, checked over https (issue 21).

Debian's nginx runs unprivileged on 127.0.0.1 high ports with a throw-away self-signed
certificate and the very file in deploy/, its @NAME@ values filled in; the wrapper below
is what /etc/nginx/nginx.conf is on a server (paths, temp directories, the include). The
application runs as in production behind it (SHIORI_ENV=production, https public URL, the
proxy on the loopback trusted by default)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SERVER_START_SECONDS, copy_database
from web import static_version

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
)
OPENSSL = shutil.which("openssl")

pytestmark = pytest.mark.skipif(
    NGINX is None or OPENSSL is None,
    reason="needs Debian's nginx and openssl (scripts/system-deps.sh installs them)",
)

MARKER = "served by nginx from its static root\n"
HOST = "localhost"

WRAPPER = """\
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {work}/access.log;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    include {work}/shiori.conf;
}}
"""


@dataclass(frozen=True)
class Stack:
    https: str  # https://localhost:PORT
    http: str  # http://localhost:PORT
    https_port: int
    http_port: int
    app: str  # the application itself, http://127.0.0.1:PORT
    app_process: subprocess.Popen[bytes]
    tls: ssl.SSLContext  # trusts the throw-away certificate
    work: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.https, verify=self.tls, timeout=10)

    def error_log(self) -> str:
        return (self.work / "error.log").read_text()


def render(values: dict[str, str]) -> str:
    """deploy/nginx.conf with its @NAME@ values filled in; every one must be given."""
    text = TEMPLATE.read_text()
    for name, value in values.items():
        assert f"@{name}@" in text, name
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, f"values not given: {left}"
    return text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unprivileged(work: Path) -> tuple[int, int] | None:
    """As root (CI containers), nginx runs as nobody, owning its work directory."""
    if os.geteuid() != 0:
        return None
    uid, gid = 65534, 65534
    for path in (work, *work.rglob("*")):
        os.chown(path, uid, gid)
    return uid, gid


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not start:\n{log.read_text() if log.exists() else ''}")


@pytest.fixture(scope="module")
def stack(_empty_template: str, db_dir: Path) -> Iterator[Stack]:
    from tests.browser.conftest import start_server, stop_server

    work = Path(tempfile.mkdtemp(prefix="shiori-nginx-"))
    os.chmod(work, 0o755)
    (work / "tmp").mkdir()
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [
            str(OPENSSL), "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
            "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    static = work / "static"
    shutil.copytree(ROOT / "static", static)
    (static / "nginx-only.txt").write_text(MARKER)  # the application has no such file

    https_port, http_port = _free_port(), _free_port()
    url, pg_name = copy_database(_empty_template, db_dir)
    proc, app = start_server(
        url,
        SHIORI_ENV="production",
        SHIORI_PUBLIC_URL=f"https://{HOST}:{https_port}",
        SHIORI_SECRET_KEY="n" * 40,
        SHIORI_PASSWORD_HASHING="standard",
        SHIORI_SEARCH_BURST="5",
        SHIORI_SEARCH_PER_MINUTE="6",
        SHIORI_SEARCH_BURST_EXEMPT="",
    )
    nginx: subprocess.Popen[bytes] | None = None
    try:
        site = render(
            {
                "SERVER_NAME": HOST,
                "PUBLIC_URL": f"https://{HOST}:{https_port}",
                "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
                "HTTP_LISTEN": f"127.0.0.1:{http_port}",
                "CERTIFICATE": str(cert),
                "CERTIFICATE_KEY": str(key),
                "STATIC_ROOT": str(static),
                "APP": app.removeprefix("http://"),
                "STATIC_VERSION": static_version.fingerprint(ROOT / "static"),
            }
        )
        (work / "shiori.conf").write_text(site)
        (work / "nginx.conf").write_text(WRAPPER.format(work=work))
        ids = _unprivileged(work)

        def drop() -> None:
            if ids is not None:
                os.setgid(ids[1])
                os.setuid(ids[0])

        log = work / "error.log"
        nginx = subprocess.Popen(
            [str(NGINX), "-p", str(work), "-e", str(log), "-c", str(work / "nginx.conf"),
             "-g", "daemon off;"],
            preexec_fn=drop,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(https_port, nginx, log)
        yield Stack(
            https=f"https://{HOST}:{https_port}",
            http=f"http://{HOST}:{http_port}",
            https_port=https_port,
            http_port=http_port,
            app=app,
            app_process=proc,
            tls=ssl.create_default_context(cafile=str(cert)),
            work=work,
        )
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        stop_server(proc)
        shutil.rmtree(work, ignore_errors=True)
        if pg_name:
            from tests.conftest import _drop_pg_database

            _drop_pg_database(pg_name)


def test_the_template_is_complete_and_nginx_accepts_it(stack: Stack) -> None:
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in TEMPLATE.read_text()
    # Started at all: `nginx -t` would have said the same.
    assert "emerg" not in stack.error_log()


def test_security_headers_over_modern_tls(stack: Stack) -> None:
    with stack.client() as http:
        page = http.get("/")
        tls_version = page.extensions["network_stream"].get_extra_info("ssl_object").version()
    assert page.status_code == 200
    assert tls_version in ("TLSv1.3", "TLSv1.2")
    headers = page.headers
    assert headers.get_list("strict-transport-security") == ["max-age=63072000; includeSubDomains"]
    assert "default-src" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers.get("server") == "nginx"  # no version


def _handshake(stack: Stack, context: ssl.SSLContext, server_name: str | None) -> str:
    with (
        socket.create_connection(("127.0.0.1", stack.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return str(tls.version())


def test_old_protocols_and_weak_ciphers_are_refused(stack: Stack) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():  # the point is to offer what is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        _handshake(stack, old, HOST)
    # TLS 1.2 without forward secrecy (RSA key exchange, CBC): not offered.
    weak = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    weak.check_hostname, weak.verify_mode = False, ssl.CERT_NONE
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA:AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA")
    with pytest.raises(ssl.SSLError):
        _handshake(stack, weak, HOST)
    good = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    good.load_verify_locations(cafile=str(stack.work / "cert.pem"))
    good.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _handshake(stack, good, HOST) == "TLSv1.2"


def test_no_content_for_other_names(stack: Stack) -> None:
    """Another name (or none: a scan by address) gets no TLS handshake, and plain http a
    closed connection: no default page of nginx's, nothing of the site."""
    anything = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anything.check_hostname, anything.verify_mode = False, ssl.CERT_NONE
    for name in (None, "other.example.jp"):
        with pytest.raises(ssl.SSLError):
            _handshake(stack, anything, name)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"http://127.0.0.1:{stack.http_port}/", headers={"Host": "other.example.jp"})


def test_plain_http_is_sent_to_https(stack: Stack) -> None:
    moved = httpx.get(f"{stack.http}/search?q=%E7%8C%AB", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == f"{stack.https}/search?q=%E7%8C%AB"


def test_cookies_are_secure_and_host_only(stack: Stack) -> None:
    with stack.client() as http:
        page = http.get("/login")
    cookies = page.headers.get_list("set-cookie")
    assert cookies, "the login form sets its CSRF cookie"
    for cookie in cookies:
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert cookie.startswith("__Host-"), cookie
        assert "secure" in attributes and "path=/" in attributes, cookie
        assert not any(a.startswith("domain=") for a in attributes), cookie


def test_static_files_come_from_nginx_with_long_caching(stack: Stack) -> None:
    with stack.client() as http:
        home = http.get("/").text
        found = re.search(r'href="(/static/([0-9a-f]{12})/)site\.css"', home)
        assert found, "the page links a versioned stylesheet"
        prefix = found.group(1)
        css = http.get(prefix + "site.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
        # A file only nginx's root has: the request never reached the application.
        only = http.get(prefix + "nginx-only.txt")
        assert only.status_code == 200 and only.text == MARKER
        assert httpx.get(stack.app + prefix + "nginx-only.txt").status_code == 404
        # A file nobody has: the application's own 404 page, not nginx's.
        missing = http.get(prefix + "no-such-file.css")
        assert missing.status_code == 404 and "nginx" not in missing.text
        assert "content-security-policy" in missing.headers
        # Another release's fingerprint: today's file, not kept a year under that name.
        assert prefix != "/static/000000000000/"
        stale = http.get("/static/000000000000/site.css")
        assert stale.status_code == 200 and stale.headers["cache-control"] == "public, max-age=300"
        # Unversioned: served too, kept briefly.
        plain = http.get("/static/site.css")
        assert plain.headers["cache-control"] == "public, max-age=300"
        # A library kiosk keeps nothing, static files included (as the application does).
        kiosk = {"Cookie": "__Host-shiori_terminal=anything"}
        for path in (prefix + "site.css", "/static/site.css"):
            assert http.get(path, headers=kiosk).headers["cache-control"] == "no-store"


def test_too_large_a_body_is_refused_with_the_sites_page(stack: Stack) -> None:
    with stack.client() as http:
        refused = http.post("/search", content=b"x" * (5 * 1024 * 1024))
    assert refused.status_code == 413
    assert "nginx" not in refused.text and "<html" in refused.text


def test_login_posts_are_limited_with_the_sites_429(stack: Stack) -> None:
    with stack.client() as http:
        answers = [
            http.post("/login", data={"card": "1"}, headers={"Accept-Language": "ja"})
            for _ in range(12)
        ]
        still_free = http.get("/login")  # loading the form is never limited
    statuses = [a.status_code for a in answers]
    assert statuses[0] != 429 and 429 in statuses, statuses
    refused = answers[statuses.index(429)]
    assert refused.headers["retry-after"] == "6"  # the zone allows one POST per 6 seconds
    assert "6秒待ってから" in refused.text and "nginx" not in refused.text
    assert still_free.status_code == 200
    assert 'zone "shiori_login"' in stack.error_log()


def test_a_forged_forwarded_for_does_not_choose_the_bucket(stack: Stack) -> None:
    """Through nginx, a client that sends its own X-Forwarded-For, different every time, is
    still counted as itself (nginx replaces the header): the app's burst of 5 runs out. The
    forged addresses were charged nothing: the application, asked as the proxy would on
    behalf of one of them, still answers."""
    with stack.client() as http:
        answers = [
            http.get("/search?q=猫", headers={"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(7)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429], statuses
    assert int(answers[-1].headers["retry-after"]) >= 2  # the app's bucket, not nginx's 1
    as_the_proxy = httpx.get(stack.app + "/search?q=猫", headers={"X-Forwarded-For": "203.0.113.1"})
    assert as_the_proxy.status_code == 200
    assert 'zone "shiori_search"' not in stack.error_log()


def test_a_flood_of_searches_meets_nginx_limit(stack: Stack) -> None:
    """Past the search zone's burst nginx answers itself, with the site's 429 page and
    Retry-After 1 (the application's buckets say more: they refill slower)."""
    with stack.client() as http:
        answers = [http.get("/search?q=犬").headers.get("retry-after") for _ in range(170)]
    assert "1" in answers
    assert 'zone "shiori_search"' in stack.error_log()


def test_while_the_app_is_down_the_site_says_so(stack: Stack) -> None:
    """nginx's own error page never shows: with the application stopped (last test of the
    file: the stack is done with), the release's static/unavailable.html does, as 502."""
    stack.app_process.terminate()
    stack.app_process.wait(timeout=15)
    with stack.client() as http:
        for path in ("/", "/search?q=猫", "/login"):
            page = http.get(path)
            assert page.status_code == 502, path
            assert "ただいま利用できません" in page.text, (path, stack.error_log()[-3000:])
            assert "nginx" not in page.text
            assert page.headers["cache-control"] == "no-store"
        # Past the login zone's burst, the refusal page would come from the application too.
        for _ in range(8):
            page = http.post("/login", data={"card": "1"})
            assert page.status_code in (429, 502) and "ただいま利用できません" in page.text
