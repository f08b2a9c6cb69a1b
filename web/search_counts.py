"""Counting catalogue searches for the statistics (db.queries.stats) without a database
write per search: each search is counted in this process's memory, and a background task
adds the counts to the database every FLUSH_SECONDS and once more at shutdown.

A search that found nothing records its words with a hash of the visitor (client address
and browser, the way privacy-minded web analytics tell visits apart without a cookie),
salted by a random salt of the day that is deleted with that day's rows: the same visitor
counts once a day, and nothing links a stored row to a person or a session. Searching needs
no login and sets no cookie, so the visitor's "session" cannot be a cookie; several people
behind one address with the same browser (kiosks) count as one, which only errs on the
safe side of the five-session threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.requests import Request

from db import queries
from web import client

log = logging.getLogger(__name__)


def count(request: Request, params: queries.SearchParams, result: queries.SearchResult) -> None:
    """Count a search (its first page only: paging on is not a new search)."""
    if params.page != 1:
        return
    words = " ".join(
        w for w in (params.q, params.title, params.author, params.publisher, params.subject) if w
    )
    visitor = f"{client.address(request)}\x00{request.headers.get('user-agent', '')[:300]}"
    queries.note_search(words, result.total == 0, visitor)


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
