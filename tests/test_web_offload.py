"""Handlers run in worker threads on each thread's own event loop (web/offload.py): the loop
is kept from request to request, but every request still runs in its own context, the one
the server's loop gave it (the library that web/library_host.py chose, for one)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from types import SimpleNamespace

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from web import offload

chosen: contextvars.ContextVar[str] = contextvars.ContextVar("chosen", default="none")
left_behind: contextvars.ContextVar[str] = contextvars.ContextVar("left_behind", default="clean")
# Every loop a handler ran on, kept so that no two loops can share an id().
loops_seen: list[asyncio.AbstractEventLoop] = []


class ChooseFromHeader:
    """Like web/library_host.py: sets a context variable on the server's loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            chosen.set(dict(scope["headers"]).get(b"x-choose", b"none").decode())
        await self.app(scope, receive, send)


async def probe(request: Request) -> Response:
    loops_seen.append(asyncio.get_running_loop())
    seen = {
        "thread": threading.get_ident(),
        "loop": id(loops_seen[-1]),
        "chosen": chosen.get(),
        "left_behind": left_behind.get(),
    }
    left_behind.set(f"set by request {request.query_params['n']}")
    return JSONResponse(seen)


def _app() -> Starlette:
    app = Starlette(routes=offload.routes([Route("/search", probe, name="search")]))
    app.state.settings = SimpleNamespace(page_threads=2, search_threads=1, password_threads=1)
    return ChooseFromHeader(app)  # type: ignore[return-value]


def test_a_worker_thread_keeps_its_loop_and_each_request_its_own_context() -> None:
    with TestClient(_app()) as client:
        answers = [
            client.get(f"/search?n={n}", headers={"x-choose": f"library {n % 3}"}).json()
            for n in range(12)
        ]
    loops_of_thread: dict[int, set[int]] = {}
    for answer in answers:
        loops_of_thread.setdefault(answer["thread"], set()).add(answer["loop"])
    assert all(len(loops) == 1 for loops in loops_of_thread.values())
    # Sequential requests reuse an idle thread, so a loop served more than one of them.
    assert len(loops_of_thread) < len(answers)
    # What the server's loop chose reached the handler; nothing a handler set stayed behind.
    assert [a["chosen"] for a in answers] == [f"library {n % 3}" for n in range(12)]
    assert {a["left_behind"] for a in answers} == {"clean"}
