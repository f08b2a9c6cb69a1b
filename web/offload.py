"""Handlers off the event loop: every route's handler runs in a worker thread of its lane.

Handlers call the query layer (SQL, argon2, search ranking) and render templates, all of it
blocking or CPU-bound. On the server's event loop one slow request would stall every other,
static files included. So each route's endpoint (its guard included) runs in a worker thread,
on that thread's event loop: handlers stay `async def`, and the one thing they await from
the connection, the request body, is read here on the server's loop first, so the handler's
loop never touches the connection.

Threads are drawn from lanes, one anyio CapacityLimiter per lane, so a flood of one kind of
request waits in its own lane instead of taking every thread: `passwords` for the routes that
run argon2 (db.passwords bounds argon2 itself as well), `search`, and `pages` for the rest.
anyio's default limiter stays free for StaticFiles. The database pool has a connection for
every thread of every lane (Settings.connections).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.settings import Settings

Endpoint = Callable[[Request], Awaitable[Response]]

BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


class Lane(Enum):
    PAGES = "pages"
    SEARCH = "search"
    PASSWORDS = "passwords"


# Routes (by full name) that run argon2: a login storm may use only the passwords lane.
SWITCH_INTERVAL_SECONDS = 0.001

LANES = {
    "search": Lane.SEARCH,
    "search_atom": Lane.SEARCH,
    "search_suggestions": Lane.SEARCH,
    "login": Lane.PASSWORDS,
    "change_password": Lane.PASSWORDS,
    "password_first": Lane.PASSWORDS,
    "password_code": Lane.PASSWORDS,
    "password_reset": Lane.PASSWORDS,
    "staff:login": Lane.PASSWORDS,
    "staff:enrol": Lane.PASSWORDS,
    "staff:password": Lane.PASSWORDS,
}

# A limiter belongs to one event loop (the server's; TestClient starts one per client).
_limiters: RunVar[dict[Lane, CapacityLimiter]] = RunVar("shiori_lanes")


def _limiter(settings: Settings, lane: Lane) -> CapacityLimiter:
    try:
        limiters = _limiters.get()
    except LookupError:
        sizes = {
            Lane.PAGES: settings.page_threads,
            Lane.SEARCH: settings.search_threads,
            Lane.PASSWORDS: settings.password_threads,
        }
        limiters = {each: CapacityLimiter(size) for each, size in sizes.items()}
        _limiters.set(limiters)
    return limiters[lane]


class _ThreadLoop:
    """A worker thread's own event loop, made on the thread's first request and kept: a new
    loop per request (anyio.run) cost about 0.12 ms of every page. Closed with its thread
    (the thread-local that holds it goes then)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, endpoint: Endpoint, request: Request) -> Response:
        async def handle() -> Response:
            return await endpoint(request)

        # In a copy of the request's context (its library, db.tenancy), as anyio.run had it.
        task = self.loop.create_task(handle(), context=contextvars.copy_context())
        return self.loop.run_until_complete(task)

    def __del__(self) -> None:
        self.loop.close()


_worker = threading.local()


def _run_in_worker(endpoint: Endpoint, request: Request) -> Response:
    loop: _ThreadLoop | None = getattr(_worker, "loop", None)
    if loop is None:
        loop = _worker.loop = _ThreadLoop()
    return loop.run(endpoint, request)


def threaded(endpoint: Endpoint, lane: Lane) -> Endpoint:
    """`endpoint`, run in a worker thread of `lane` on that thread's event loop."""

    async def run(request: Request) -> Response:
        if request.method not in BODYLESS:
            await request.body()  # kept on the request: the handler reads it from there
        settings: Settings = request.app.state.settings
        return await to_thread.run_sync(
            _run_in_worker, endpoint, request, limiter=_limiter(settings, lane)
        )

    run.__name__ = getattr(endpoint, "__name__", "endpoint")
    return run


def share_the_interpreter() -> None:
    """Worker threads running Python (ranking, rendering) hold the interpreter lock for up to
    the switch interval at a time, and the event loop serving static files and answering new
    connections waits behind them: at the default 5 ms that alone put tens of milliseconds on
    a static file under load. 1 ms keeps the loop responsive for little switching cost."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def routes(found: Sequence[BaseRoute], prefix: str = "") -> list[BaseRoute]:
    """The same routes with every endpoint `threaded` in its lane (by `LANES`, else pages);
    `prefix` is the name of the mount they go into ("staff")."""
    out: list[BaseRoute] = []
    for route in found:
        if not isinstance(route, Route):
            out.append(route)
            continue
        name = f"{prefix}:{route.name}" if prefix else route.name
        out.append(
            Route(
                route.path,
                threaded(route.endpoint, LANES.get(name, Lane.PAGES)),
                methods=list(route.methods or ()),
                name=route.name,
                include_in_schema=route.include_in_schema,
            )
        )
    return out
