"""The library a request is for, from its host name (db.tenancy, issue 21).

The Host header, lower case and without its port, is looked up in `library_host`; the
request then runs in that library (every transaction it opens sets it, and PostgreSQL's
row-level security keeps it there). With no host configured (one library on PostgreSQL)
every host is library 1; SQLite is library 1 and reads nothing. A host not in a configured
map gets a plain 404 page in both languages: nothing of any library is shown there.

The map is read at most once per HOST_MAP_SECONDS per process (no query per request); a
library or host added with `shiori library add` is served within that time. The Host a
request names is the one nginx passes on (deploy/nginx.conf: `proxy_set_header Host
$host`): X-Forwarded-Host is not read, so a client cannot pick a library by header."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from db import queries
from web import i18n
from web.i18n import N_
from web.templating import env

log = logging.getLogger(__name__)

HOST_MAP_SECONDS = 30.0
UNMAPPED = frozenset({"/health"})

NO_LIBRARY_TITLE = N_("No library here")
NO_LIBRARY = N_("No library is served at this address. Check the address you typed.")


class HostMap:
    """This process's copy of `library_host`, read again after `seconds`; the app reads it
    when it starts (lifespan), so no request waits for it then."""

    def __init__(self, seconds: float = HOST_MAP_SECONDS) -> None:
        self.seconds = seconds
        self._hosts: dict[str, int] = {}
        self._read_at: float | None = None

    def load(self) -> None:
        self._hosts = queries.library_hosts()
        self._read_at = time.monotonic()

    def preload(self) -> None:
        """At start: a database not reachable yet is the first request's to find; a role
        that bypasses row-level security with several libraries stops the start
        (queries.check_runtime_role: LibraryRefused)."""
        try:
            queries.check_runtime_role()
            self.load()
        except queries.LibraryRefused:
            raise
        except Exception as exc:  # the class only: a driver message may quote a URL
            log.warning("library hosts not read at start: %s", type(exc).__name__)

    async def get(self) -> dict[str, int]:
        if self._read_at is None or time.monotonic() - self._read_at >= self.seconds:
            await run_in_threadpool(self.load)
        return self._hosts


class LibraryHost:
    def __init__(self, app: ASGIApp, locale_dir: Path, hosts: HostMap | None) -> None:
        self.app = app
        self.hosts = hosts  # None: SQLite, always library 1
        self._catalogues = i18n.Catalogues(locale_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # /health: monitoring asks 127.0.0.1:8000 itself (README), and it names no library.
        if scope["type"] != "http" or self.hosts is None or scope["path"] in UNMAPPED:
            await self.app(scope, receive, send)
            return
        hosts = await self.hosts.get()
        if not hosts:
            library: int | None = queries.DEFAULT_LIBRARY
        else:
            library = hosts.get(queries.normalise_host(_host(scope)))
        if library is None:
            await self._no_library()(scope, receive, send)
            return
        with queries.use_library(library):
            await self.app(scope, receive, send)

    def _no_library(self) -> HTMLResponse:
        words = {
            lang: (tr.gettext(NO_LIBRARY_TITLE), tr.gettext(NO_LIBRARY))
            for lang, tr in self._catalogues.translators.items()
        }
        html = env.get_template("no_library.html").render(words=words)
        return HTMLResponse(html, status_code=404, headers={"Cache-Control": "no-store"})


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server")
    return str(server[0]) if server else ""
