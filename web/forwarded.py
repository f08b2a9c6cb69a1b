"""The client behind a reverse proxy: X-Forwarded-For and X-Forwarded-Proto, believed only
from the proxies in SHIORI_TRUSTED_PROXIES (deploy/nginx.conf on the same host: 127.0.0.1).

The application does this itself rather than leaving it to uvicorn's --proxy-headers, so the
rule is one (web.client.forwarded_client), the same under any server and in the tests, and
the proxies are a setting. A request from anywhere else keeps its connection's address, and
its headers change nothing: a client that sends X-Forwarded-For straight to the app, or
through a proxy that appends to it, cannot choose the address its requests are counted
under (web/burst.py, db/throttle.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from db import queries
from web import client, errors
from web.i18n import translator


class ForwardedHeaders:
    def __init__(self, app: ASGIApp, trusted: tuple[client.Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] == "http" and peer and client.in_networks(peer[0], self.trusted):
            scope = dict(scope)
            forwarded, proto = _headers(scope)
            scope["client"] = (client.forwarded_client(peer[0], forwarded, self.trusted), 0)
            if proto in ("http", "https"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> tuple[str, str]:
    hops: list[str] = []
    proto = ""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops.append(value.decode("latin-1"))
        elif name == b"x-forwarded-proto":
            proto = value.decode("latin-1").strip().lower()
    return ",".join(hops), proto


async def busy(request: Request) -> Response:
    """The page nginx shows for a request its limit_req refused (deploy/nginx.conf):
    /busy/N, N the seconds until the zone allows one more. The application's own 429s
    (web/burst.py) say the same, with Retry-After the same way."""
    seconds = min(max(int(request.path_params["seconds"]), 1), MAX_WAIT)
    tr = translator(request)
    response = errors.error_response(
        request,
        429,
        tr.gettext(
            "Too many requests came from your network in a short time. "
            "Please wait %(seconds)s seconds and try again.",
            seconds=seconds,
        ),
    )
    response.headers["Retry-After"] = str(seconds)
    return response


async def too_large(request: Request) -> Response:
    """The page nginx shows for a body over its client_max_body_size (deploy/nginx.conf)."""
    return errors.error_response(request, 413)


async def health(_request: Request) -> Response:
    """For monitoring (README, "Deployment"): 200 while this process can use the database,
    503 when it cannot. Says nothing else."""
    try:
        await run_in_threadpool(queries.check_database)
    except queries.DatabaseUnavailable:
        return PlainTextResponse("unavailable\n", status_code=503)
    return PlainTextResponse("ok\n", headers={"Cache-Control": "no-store"})


MAX_WAIT = 3600
routes = [
    Route("/busy/{seconds:int}", busy, methods=["GET"], name="busy"),
    Route("/too-large", too_large, methods=["GET"], name="too_large"),
    Route("/health", health, methods=["GET"], name="health"),
]
