"""The floor under any page: a Starlette app with one route and no middleware, answering the
bytes of the file named by SHIORI_FLOOR_BODY from memory. Served by uvicorn the way the real
application is (uvloop, httptools), it is what a page of that size costs over HTTP before an
application does anything (bench/page_overhead.py)."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ["SHIORI_FLOOR_BODY"]).read_bytes()


async def page(_request: Request) -> Response:
    return Response(BODY, media_type="text/html")


app = Starlette(routes=[Route("/", page)])
