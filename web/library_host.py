"""The library a request is for, from its host name (db.tenancy, issue 21).

The Host header, lower case and without its port, is looked up in `library_host`; the
request then runs in that library (every transaction it opens sets it, and PostgreSQL's
row-level security keeps it there). With no host configured (one library on PostgreSQL)
every host is library 1; SQLite is library 1 and reads nothing. The host of
SHIORI_PUBLIC_URL always serves library 1 (the map's implicit entry), so adding a library
never takes the first one offline. A host not in a configured map gets a plain 404 page in
both languages: nothing of any library is shown there.

Each library's public URL (absolute links, mail, feeds: web.structured.public_url) is
SHIORI_PUBLIC_URL's scheme, port and path with the library's first configured host;
library 1's is SHIORI_PUBLIC_URL itself. It comes from the same cached map.

The map is read at most once per HOST_MAP_SECONDS per process (no query per request); a
library or host added with `shiori library add` is served within that time. The Host a
request names is the one nginx passes on (deploy/nginx.conf: `proxy_set_header Host
$host`): X-Forwarded-Host is not read, so a client cannot pick a library by header."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from db import queries
from web import i18n
from web.i18n import N_
from web.settings import Settings
from web.templating import env

log = logging.getLogger(__name__)

HOST_MAP_SECONDS = 30.0
UNMAPPED = frozenset({"/health"})

NO_LIBRARY_TITLE = N_("No library here")
NO_LIBRARY = N_("No library is served at this address. Check the address you typed.")


class HostMap:
    """This process's copy of `library_host`, read again after `seconds`; the app reads it
    when it starts (lifespan), so no request waits for it then."""

    def __init__(self, public_url: str, seconds: float = HOST_MAP_SECONDS) -> None:
        self.public_url = public_url.rstrip("/")
        self.seconds = seconds
        self._public_host = queries.normalise_host(urlsplit(self.public_url).netloc)
        self._hosts: dict[str, int] = {}
        self._first: dict[int, str] = {}
        self._read_at: float | None = None

    def load(self) -> None:
        configured = queries.library_hosts()
        first: dict[int, str] = {}
        for host, library in sorted(configured.items()):
            first.setdefault(library, host)
        self._first = first
        if configured and self._public_host:
            configured = {**configured, self._public_host: queries.DEFAULT_LIBRARY}
        self._hosts = configured
        self._read_at = time.monotonic()

    def _stale(self) -> bool:
        return self._read_at is None or time.monotonic() - self._read_at >= self.seconds

    def base_url(self, library: int) -> str:
        """The library's public URL from the map as last read (no query)."""
        host = self._first.get(library)
        if library == queries.DEFAULT_LIBRARY or host is None:
            return self.public_url
        return with_host(self.public_url, host)

    def base_url_now(self, library: int) -> str:
        """base_url for work outside a request (timers, mail, the console): reads the map
        first if it is stale."""
        if library != queries.DEFAULT_LIBRARY and self._stale():
            self.load()
        return self.base_url(library)

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
        if self._stale():
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
        scope["shiori_public_url"] = self.hosts.base_url(library)
        if hosts:
            # A page of a host the map serves may post to itself (web.csrf.same_origin): as
            # the request names it, or with the public URL's scheme and port (behind nginx).
            host = _host(scope).lower()
            scope["shiori_host_origins"] = (
                f"{scope.get('scheme', 'http')}://{host}",
                origin(with_host(self.hosts.public_url, host)),
            )
        with queries.use_library(library):
            await self.app(scope, receive, send)

    def _no_library(self) -> HTMLResponse:
        words = {
            lang: (tr.gettext(NO_LIBRARY_TITLE), tr.gettext(NO_LIBRARY))
            for lang, tr in self._catalogues.translators.items()
        }
        html = env.get_template("no_library.html").render(words=words)
        return HTMLResponse(html, status_code=404, headers={"Cache-Control": "no-store"})


_shared: HostMap | None = None  # this process's map (the app's, else made on first use)


def share(hosts: HostMap | None) -> None:
    global _shared
    _shared = hosts


def public_base(settings: Settings) -> str:
    """The current library's public URL, for work outside a request."""
    global _shared
    library = queries.current_library.get()
    if library == queries.DEFAULT_LIBRARY:
        return settings.public_url
    if _shared is None or _shared.public_url != settings.public_url.rstrip("/"):
        _shared = HostMap(settings.public_url)
    return _shared.base_url_now(library)


def with_host(public_url: str, host: str) -> str:
    """`public_url` with `host` in place of its host name (its scheme, port and path kept)."""
    parts = urlsplit(public_url)
    host = queries.normalise_host(host)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server")
    return str(server[0]) if server else ""
