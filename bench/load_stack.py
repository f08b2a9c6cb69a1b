"""The served site of bench/library_load.py: `shiori serve --workers 2` (the systemd unit's
command, deploy/systemd/shiori.service) behind Debian's nginx with deploy/nginx.conf, its
@NAME@ values filled in as tests/test_deploy_https.py does (a throw-away self-signed
certificate for *.load.test, https on 127.0.0.1), every library's host in server_name."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# What /etc/nginx/nginx.conf is on a server, with room for a few thousand connections.
WRAPPER = """\
worker_processes 1;
worker_rlimit_nofile 16384;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 8192; }}
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


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the servers bind: connections of an earlier run in TIME_WAIT do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def render(values: dict[str, str]) -> str:
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError(f"deploy/nginx.conf values not given: {left}")
    return text


def _wait_for(port: int, proc: subprocess.Popen[bytes], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start on port {port}")


class Stack:
    def __init__(self, url: str, hosts: list[str], https_port: int, app_port: int) -> None:
        for port in (https_port, https_port + 1, app_port):
            if not port_free(port):
                raise RuntimeError(
                    f"port {port} is in use: choose others (--https-port, --app-port)"
                )
        self.work = Path(tempfile.mkdtemp(prefix="shiori-load-"))
        os.chmod(self.work, 0o755)
        (self.work / "tmp").mkdir()
        self.https_port = https_port
        cert, key = self.work / "cert.pem", self.work / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=load.test", "-addext",
             "subjectAltName=DNS:*.load.test", "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.tls = ssl.create_default_context(cafile=str(cert))
        static = self.work / "static"
        shutil.copytree(ROOT / "static", static)
        public = f"https://{hosts[0]}:{https_port}"
        from web import static_version

        (self.work / "shiori.conf").write_text(
            render(
                {
                    "SERVER_NAME": " ".join(hosts),
                    "PUBLIC_URL": public,
                    "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
                    "HTTP_LISTEN": f"127.0.0.1:{https_port + 1}",
                    "CERTIFICATE": str(cert),
                    "CERTIFICATE_KEY": str(key),
                    "STATIC_ROOT": str(static),
                    "APP": f"127.0.0.1:{app_port}",
                    "STATIC_VERSION": static_version.fingerprint(ROOT / "static"),
                }
            )
        )
        (self.work / "nginx.conf").write_text(WRAPPER.format(work=self.work))
        self.app_log = open(self.work / "app.log", "wb")  # noqa: SIM115
        env = {
            **os.environ,
            "SHIORI_DATABASE_URL": url,
            "SHIORI_ENV": "production",
            "SHIORI_PUBLIC_URL": public,
            "SHIORI_SECRET_KEY": "load-bench-" + "k" * 40,
            "SHIORI_PORT": str(app_port),
            "SHIORI_PASSWORD_HASHING": "standard",
            "SHIORI_STAFF_CONSOLE": "true",
        }
        self.app = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=self.app_log,
            stderr=subprocess.STDOUT,
        )
        self.nginx: subprocess.Popen[bytes] | None = None
        try:
            _wait_for(app_port, self.app, "shiori serve")
            ids = None
            if os.geteuid() == 0:  # as root (CI containers), nginx runs as nobody
                for path in (self.work, *self.work.rglob("*")):
                    os.chown(path, 65534, 65534)
                ids = (65534, 65534)

            def drop() -> None:
                if ids is not None:
                    os.setgid(ids[1])
                    os.setuid(ids[0])

            self.nginx = subprocess.Popen(
                [NGINX, "-p", str(self.work), "-e", str(self.work / "error.log"), "-c",
                 str(self.work / "nginx.conf"), "-g", "daemon off;"],
                preexec_fn=drop,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait_for(https_port, self.nginx, "nginx")
            self._wait_ready(hosts[0])
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, host: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with httpx.Client(verify=self.tls, timeout=5) as client:
                    r = client.get(
                        f"https://127.0.0.1:{self.https_port}/",
                        headers={"Host": host},
                        extensions={"sni_hostname": host},
                    )
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the site did not answer through nginx (see {self.work}/app.log)")

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def stop(self) -> None:
        for proc in (self.nginx, self.app):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.app_log.close()
        shutil.rmtree(self.work, ignore_errors=True)
