"""Counting catalogue searches for the statistics (db.queries.stats) without a database
write per search: each search is counted in this process's memory, and a background task
adds the counts to the database every FLUSH_SECONDS and once more at shutdown. Each flush
adds (`count = count + n`), so any number of processes on any number of hosts count into the
same rows; a process killed without a shutdown loses at most its last FLUSH_SECONDS.

A search that found nothing records its words with a keyed hash of the visitor's address
(db.stats says exactly what is stored): an IPv4 address, or the /64 network of an IPv6
address (one household or device is given a whole /64). Never the browser's User-Agent,
which one person can change at will to count as many visitors. The hash's salt changes
daily and is derived from the server's secret key, never stored, so the database alone
cannot be searched for an address. Searching needs no login and sets no cookie, so the
visitor cannot be a session; several people behind one address (kiosks, a school) count as
one, which errs on the safe side of the five-visitor threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.requests import Request

from db import queries
from web import client
from web.sessions import settings_of

log = logging.getLogger(__name__)


def count(request: Request, params: queries.SearchParams, result: queries.SearchResult) -> None:
    """Count a search (its first page only: paging on is not a new search)."""
    if params.page != 1:
        return
    words = " ".join(
        w for w in (params.q, params.title, params.author, params.publisher, params.subject) if w
    )
    secret_key = settings_of(request).secret_key
    queries.note_search(words, result.total == 0, visitor(client.address(request)), secret_key)


def visitor(address: str) -> str:
    """Who counts as one visitor: the address, an IPv6 one by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address ("unknown", a test client): counted as itself
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@contextlib.asynccontextmanager
async def flushing(seconds: float) -> AsyncIterator[None]:
    """For the app's lifespan: flush every `seconds`, and at the end."""

    async def every() -> None:
        while True:
            await asyncio.sleep(seconds)
            await anyio.to_thread.run_sync(queries.flush_search_counts)

    task = asyncio.create_task(every())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await anyio.to_thread.run_sync(queries.flush_search_counts)
