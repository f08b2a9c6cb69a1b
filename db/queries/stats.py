"""The library's anonymous statistics (業務統計, `/staff/stats`) and the search counts.

What is counted, where, and how small cells are suppressed: db.stats. `note_search` is
called by every search page and does no database work; `flush_search_counts` adds this
process's counts to the database (the web tier calls it every db.stats.FLUSH_SECONDS, at
shutdown and before showing statistics).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import clock, stats
from db.clock import library_today
from db.engine import reads, writes
from db.errors import NotFound
from db.stats import (
    AGE_BANDS,
    BRANCH_MEASURES,
    FLUSH_SECONDS,
    MEASURES,
    SUPPRESS_BELOW,
    UNITS,
    ZERO_HIT_MIN_SESSIONS,
    AtLeast,
    BranchRow,
    RegistrationRow,
    Series,
    StatsReport,
    ZeroHitRow,
)
from db.tenancy import use_library

__all__ = [
    "AGE_BANDS",
    "BRANCH_MEASURES",
    "FLUSH_SECONDS",
    "MEASURES",
    "SUPPRESS_BELOW",
    "UNITS",
    "ZERO_HIT_MIN_SESSIONS",
    "AtLeast",
    "BranchRow",
    "RegistrationRow",
    "Series",
    "StatsReport",
    "ZeroHitRow",
    "flush_search_counts",
    "get_stats",
    "library_day",
    "note_search",
]

log = logging.getLogger(__name__)


def library_day() -> date:
    """Today in the library's time zone (by the injectable clock): the default period."""
    return library_today(clock.now())


def note_search(query: str, zero_hit: bool, visitor: str, secret_key: str) -> None:
    """Count a search in this process's memory; for a search that found nothing, also its
    normalised query with a hash of `visitor` under the day's salt (derived from
    `secret_key`, never stored). Written by the next flush."""
    today = library_today(clock.now())
    hit = None
    key = stats.query_key(query) if zero_hit and visitor else ""
    if key:
        hit = (today, key, stats.visitor_hash(stats.day_salt(secret_key, today), visitor))
    stats.note_search(today, zero_hit, hit)


def flush_search_counts() -> int:
    """Add this process's search counts and zero-hit queries to the database; on failure
    they wait for the next flush. Returns how many searches were written."""
    written = 0
    for library in stats.libraries_with_searches():
        with use_library(library):
            counts, hits = stats.take_searches()
            if not counts and not hits:
                continue
            try:
                written += _flush(counts, hits)
            except Exception:
                stats.give_back_searches(counts, hits)
                log.exception("search counts not written; kept for the next flush")
    return written


@writes
def _flush(
    conn: Connection, now: datetime, counts: stats.Counts, hits: frozenset[stats.ZeroHit]
) -> int:
    return stats.flush_searches(conn, counts, hits)


@reads
def get_stats(
    conn: Connection, now: datetime, day_from: date, day_to: date, unit: str, branch_code: str
) -> StatsReport:
    """Counts of the period by day, month or year, for one branch ("" for all); cells of 1
    to 4 are None. NotFound for an unknown branch."""
    branch_id = None
    if branch_code:
        branch_id = conn.execute(
            text("SELECT id FROM branch WHERE code = :c"), {"c": branch_code}
        ).scalar_one_or_none()
        if branch_id is None:
            raise NotFound("unknown_branch")
    if unit not in UNITS:
        raise ValueError(unit)
    return stats.report(conn, day_from, day_to, unit, branch_id, branch_code, library_today(now))
