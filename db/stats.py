"""The library's statistics (業務統計, issue 16): what is counted where, and the reports.

Nothing here names a patron, an item or a session. What is counted, and where:
- `daily_count` (db.counts.bump, in the transaction of the event): loans, returns and
  renewals (db.circulation), reservations placed, filled, cancelled and expired
  (db.queries.holds, db.routing, db.queries.series_holds, retention), and web logins
  (`WEB_LOGIN`, db.queries.accounts) at the patron's home branch.
- `registration_count`: every new patron (db.patrons.create_patron, whatever created it)
  by home branch, patron category and age band on the day of registration.
- `search_count`: catalogue searches and those with no hits, library-wide. The search page
  must not write to the database (it is the busiest page): each process counts in memory
  (`note_search`) and adds what it counted since its last flush with an UPSERT that adds
  its delta (`flush_searches`), so any number of processes add up. The web tier flushes
  every `FLUSH_SECONDS` and at shutdown; a process killed outright loses at most that.
- `zero_hit_search` (day, query, visitor hash): a zero-hit query, normalised with
  db.search.normalise (so 夏目 and ナツメ are one query), with an HMAC-SHA256 of the
  visitor's address (the web tier's key: an IPv4 address, or an IPv6 /64) under the salt of
  the day. The salt is an HMAC of the day under the server's secret key
  (SHIORI_SECRET_KEY), computed in memory when needed and never stored: the database alone
  cannot test an address against the hashes. The same visitor counts once a day; another
  day's hash of the same visitor differs. Rows wait in memory and are written with the
  counts. `aggregate_zero_hits` (from `shiori retention run`) turns past days into
  `zero_hit_query` (day, query, number of distinct visitors) and deletes the raw rows, so
  no hash outlives its day's aggregation; aggregated rows go after `ZERO_HIT_KEEP_DAYS`.

Reports (`report`) suppress small cells: a count of 1 to 4 comes back as None ("<5"). A
total of cells of which some are suppressed comes back as `AtLeast` the sum of the cells
shown, so it cannot give the hidden ones away by subtraction. The registrations by category
and age band (the cells nearest to a person) are given only for whole months that have
ended, so that two periods a day apart cannot be subtracted. A zero-hit query counts for a
day only when at least `ZERO_HIT_MIN_SESSIONS` different visitors typed it that day (the
salt changes daily, so visitors cannot be told apart across days); a period lists the
queries of such days, with their visitors summed over those days.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Date, bindparam, text
from sqlalchemy.engine import Connection

from db import codes as code_tables
from db.search import normalise
from db.tenancy import current_library

WEB_LOGIN = "web_login"  # daily_count event
SEARCH = "search"  # search_count events
ZERO_HIT = "zero_hit"

FLUSH_SECONDS = 30
SUPPRESS_BELOW = 5  # cells of 1..4 are shown as "<5"
ZERO_HIT_MIN_SESSIONS = 5
ZERO_HIT_LIST = 30  # queries listed
ZERO_HIT_KEEP_DAYS = 800  # aggregated queries: enough for last year's yearly report
QUERY_MAX = 100  # characters of a normalised query kept

# Age on the day of registration: the bands a library reports.
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-6", 0, 6),
    ("7-12", 7, 12),
    ("13-15", 13, 15),
    ("16-18", 16, 18),
    ("19-29", 19, 29),
    ("30-39", 30, 39),
    ("40-49", 40, 49),
    ("50-59", 50, 59),
    ("60-69", 60, 69),
    ("70+", 70, 200),
)

# The measures of a report, in the order pages and files show them.
CIRCULATION = ("checkout", "return", "renew", "hold_placed", "hold_filled", WEB_LOGIN)
REGISTRATION = "registration"
MEASURES = (*CIRCULATION[:5], REGISTRATION, WEB_LOGIN, SEARCH, ZERO_HIT)
LIBRARY_WIDE = (SEARCH, ZERO_HIT)  # not per branch: the web site is the whole library's

UNITS = ("day", "month", "year")

Cell = int | None  # None: 1..4, suppressed


@dataclass(frozen=True)
class AtLeast:
    """A total of which some cells are suppressed: the sum of the cells shown, a lower
    bound (the exact total minus the shown cells would give the hidden ones away)."""

    n: int


Total = int | AtLeast


def age_band(birth: date, on: date) -> str:
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    for code, low, high in AGE_BANDS:
        if low <= age <= high:
            return code
    return AGE_BANDS[0][0]  # a birth date after the day: a data error, not a person's age


def bump_registration(
    conn: Connection, day: date, branch_id: int, category: str, birth: date
) -> None:
    conn.execute(
        text(
            "INSERT INTO registration_count (day, branch_id, category, age_band, count) "
            "VALUES (:day, :branch_id, :category, :band, 1) "
            "ON CONFLICT (day, branch_id, category, age_band) "
            "DO UPDATE SET count = registration_count.count + 1"
        ),
        {
            "day": day,
            "branch_id": branch_id,
            "category": category,
            "band": age_band(birth, day),
        },
    )


# ---------------------------------------------------------------------------------------
# Searches: counted in memory, flushed as deltas
# ---------------------------------------------------------------------------------------


ZeroHit = tuple[date, str, str]  # day, normalised query, salted hash of the visitor
Counts = dict[tuple[date, str], int]


class _Tally:
    """This process's search counts and zero-hit queries since its last flush."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: defaultdict[tuple[date, str], int] = defaultdict(int)
        self._zero_hits: set[ZeroHit] = set()

    def note(self, day: date, zero_hit: bool, hit: ZeroHit | None) -> None:
        with self._lock:
            self._counts[(day, SEARCH)] += 1
            if zero_hit:
                self._counts[(day, ZERO_HIT)] += 1
            # Bounded: a flood of made-up queries is counted but not all remembered.
            if hit is not None and len(self._zero_hits) < ZERO_HIT_BUFFER:
                self._zero_hits.add(hit)

    def take(self) -> tuple[Counts, frozenset[ZeroHit]]:
        with self._lock:
            counts, self._counts = dict(self._counts), defaultdict(int)
            hits, self._zero_hits = frozenset(self._zero_hits), set()
        return counts, hits

    def give_back(self, counts: Counts, hits: frozenset[ZeroHit]) -> None:
        """A flush that failed: what it took waits for the next one."""
        with self._lock:
            for key, n in counts.items():
                self._counts[key] += n
            self._zero_hits |= hits


# One tally per library (db.tenancy): a flush writes each in its own library's transaction.
_tallies: dict[int, _Tally] = {}
_tallies_lock = threading.Lock()
ZERO_HIT_BUFFER = 10_000  # distinct zero-hit queries a process keeps between flushes


def _tally() -> _Tally:
    library = current_library.get()
    with _tallies_lock:
        return _tallies.setdefault(library, _Tally())


def note_search(day: date, zero_hit: bool, hit: ZeroHit | None = None) -> None:
    """Count one search in this process, in the current library (no database work)."""
    _tally().note(day, zero_hit, hit)


def libraries_with_searches() -> tuple[int, ...]:
    with _tallies_lock:
        return tuple(sorted(_tallies))


def take_searches() -> tuple[Counts, frozenset[ZeroHit]]:
    """The current library's counts since its last flush."""
    return _tally().take()


def give_back_searches(counts: Counts, hits: frozenset[ZeroHit]) -> None:
    _tally().give_back(counts, hits)


def flush_searches(conn: Connection, counts: Counts, hits: frozenset[ZeroHit] = frozenset()) -> int:
    """Add these counts to `search_count` and the zero-hit queries to `zero_hit_search`: each
    process adds its own delta, so concurrent flushes from several processes add up (the
    UPSERT takes the row lock); a query a visitor typed again is one row."""
    for (day, event), n in sorted(counts.items()):
        conn.execute(
            text(
                "INSERT INTO search_count (day, event, count) VALUES (:day, :event, :n) "
                "ON CONFLICT (library_id, day, event) "
                "DO UPDATE SET count = search_count.count + :n"
            ),
            {"day": day, "event": event, "n": n},
        )
    for day, query, digest in sorted(hits):
        conn.execute(
            text(
                "INSERT INTO zero_hit_search (day, query, session_hash) VALUES (:day, :q, :h) "
                "ON CONFLICT DO NOTHING"
            ),
            {"day": day, "q": query, "h": digest},
        )
    return sum(counts.values())


# ---------------------------------------------------------------------------------------
# Zero-hit queries
# ---------------------------------------------------------------------------------------


def day_salt(secret_key: str, day: date) -> bytes:
    """The salt of `day`: derived from the server's secret key, so it is never stored and
    every process finds the same one."""
    message = f"shiori.zero-hit-day\x00{day.isoformat()}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


def query_key(query: str) -> str:
    """The stored form of a query: normalised as search matches it, bounded."""
    return normalise(query)[:QUERY_MAX]


def visitor_hash(salt: bytes, visitor: str) -> str:
    return hmac.new(salt, visitor.encode(), hashlib.sha256).hexdigest()


def aggregate_zero_hits(conn: Connection, today: date) -> int:
    """Turn the raw rows of days before `today` into distinct-visitor counts and delete
    them; drop aggregated rows past ZERO_HIT_KEEP_DAYS. Returns the raw rows
    deleted."""
    conn.execute(
        text(
            "INSERT INTO zero_hit_query (day, query, sessions) "
            "SELECT day, query, count(*) FROM zero_hit_search WHERE day < :today "
            "GROUP BY day, query "
            "ON CONFLICT (library_id, day, query) DO UPDATE "
            "SET sessions = zero_hit_query.sessions + excluded.sessions"
        ),
        {"today": today},
    )
    raw = conn.execute(text("DELETE FROM zero_hit_search WHERE day < :today"), {"today": today})
    conn.execute(
        text("DELETE FROM zero_hit_query WHERE day < :old"),
        {"old": today - timedelta(days=ZERO_HIT_KEEP_DAYS)},
    )
    return raw.rowcount or 0


# ---------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    measure: str
    values: tuple[Cell, ...]  # one per bucket
    total: Total


@dataclass(frozen=True)
class BranchRow:
    branch_code: str
    values: tuple[Cell, ...]  # one per measure of BRANCH_MEASURES


@dataclass(frozen=True)
class RegistrationRow:
    category: str
    values: tuple[Cell, ...]  # one per age band


@dataclass(frozen=True)
class ZeroHitRow:
    query: str
    sessions: int


@dataclass(frozen=True)
class StatsReport:
    day_from: date
    day_to: date
    unit: str
    branch_code: str  # "" for every branch
    buckets: tuple[str, ...]  # 2026-12-01, 2026-12 or 2026
    series: tuple[Series, ...]  # one per measure of MEASURES
    by_branch: tuple[BranchRow, ...]
    registrations: tuple[RegistrationRow, ...]  # category x age band; () unless whole months
    zero_hits: tuple[ZeroHitRow, ...]


BRANCH_MEASURES = tuple(m for m in MEASURES if m not in LIBRARY_WIDE)


def suppress(n: int) -> Cell:
    return None if 0 < n < SUPPRESS_BELOW else n


def total_of(cells: tuple[Cell, ...]) -> Total:
    """The total of these (suppressed) cells that gives no hidden cell away: exact when none
    is hidden, else the sum of those shown as a lower bound."""
    shown = sum(c for c in cells if c is not None)
    return AtLeast(shown) if None in cells else shown


def whole_months(day_from: date, day_to: date, today: date) -> bool:
    """Whether the period is whole calendar months that have ended."""
    return day_from.day == 1 and (day_to + timedelta(days=1)).day == 1 and day_to < today


def bucket_of(day: date, unit: str) -> str:
    if unit == "year":
        return f"{day.year:04d}"
    if unit == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def buckets(day_from: date, day_to: date, unit: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    day = day_from
    while day <= day_to:
        seen.setdefault(bucket_of(day, unit), None)
        day += timedelta(days=1)
    return tuple(seen)


def _branch_filter(branch_id: int | None, column: str) -> str:
    return f" AND {column} = :branch_id" if branch_id is not None else ""


def report(
    conn: Connection,
    day_from: date,
    day_to: date,
    unit: str,
    branch_id: int | None,
    branch_code: str,
    today: date,
) -> StatsReport:
    """The counts of the days from `day_from` to `day_to` by `unit`, for one branch or all
    (searches are library-wide), small cells suppressed; registrations by category and age
    band only for whole months that ended before `today` (else none)."""
    keys = buckets(day_from, day_to, unit)
    raw: dict[str, defaultdict[str, int]] = {m: defaultdict(int) for m in MEASURES}
    per_branch: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    span = {"f": day_from, "t": day_to, "branch_id": branch_id}
    for r in conn.execute(
        text(
            "SELECT c.day, b.code, c.event, sum(c.count) AS n FROM daily_count c "
            "JOIN branch b ON b.id = c.branch_id "
            "WHERE c.day >= :f AND c.day <= :t AND c.event IN :events"
            + _branch_filter(branch_id, "c.branch_id")
            + " GROUP BY c.day, b.code, c.event"
        )
        .bindparams(bindparam("events", expanding=True))
        .columns(day=Date),
        {**span, "events": list(CIRCULATION)},
    ):
        raw[r.event][bucket_of(r.day, unit)] += int(r.n)
        per_branch[r.code][r.event] += int(r.n)
    regs: defaultdict[tuple[str, str], int] = defaultdict(int)
    for r in conn.execute(
        text(
            "SELECT c.day, b.code, c.category, c.age_band, sum(c.count) AS n "
            "FROM registration_count c JOIN branch b ON b.id = c.branch_id "
            "WHERE c.day >= :f AND c.day <= :t"
            + _branch_filter(branch_id, "c.branch_id")
            + " GROUP BY c.day, b.code, c.category, c.age_band"
        ).columns(day=Date),
        span,
    ):
        raw[REGISTRATION][bucket_of(r.day, unit)] += int(r.n)
        per_branch[r.code][REGISTRATION] += int(r.n)
        regs[(r.category, r.age_band)] += int(r.n)
    for r in conn.execute(
        text(
            "SELECT day, event, count AS n FROM search_count WHERE day >= :f AND day <= :t"
        ).columns(day=Date),
        span,
    ):
        raw[r.event][bucket_of(r.day, unit)] += int(r.n)

    cells = {m: tuple(suppress(raw[m].get(k, 0)) for k in keys) for m in MEASURES}
    series = tuple(Series(m, cells[m], total_of(cells[m])) for m in MEASURES)
    codes = [
        str(c)
        for c in conn.execute(
            text(
                "SELECT code FROM branch"
                + (" WHERE id = :branch_id" if branch_id is not None else "")
                + " ORDER BY sort_order, code"
            ),
            span,
        ).scalars()
    ]
    by_branch = tuple(
        BranchRow(code, tuple(suppress(per_branch[code][m]) for m in BRANCH_MEASURES))
        for code in codes
    )
    # A category deleted since keeps its rows in the report: its history is not dropped.
    current = code_tables.category_codes(conn)
    gone = sorted({cat for cat, _ in regs} - set(current))
    registrations = tuple(
        RegistrationRow(cat, tuple(suppress(regs[(cat, band)]) for band, _, _ in AGE_BANDS))
        for cat in (*current, *gone)
        if whole_months(day_from, day_to, today)
    )
    return StatsReport(
        day_from=day_from,
        day_to=day_to,
        unit=unit,
        branch_code=branch_code,
        buckets=keys,
        series=series,
        by_branch=by_branch,
        registrations=registrations,
        zero_hits=zero_hit_queries(conn, day_from, day_to),
    )


def zero_hit_queries(conn: Connection, day_from: date, day_to: date) -> tuple[ZeroHitRow, ...]:
    """The most frequent zero-hit queries of the period. A query counts for a day only when
    at least ZERO_HIT_MIN_SESSIONS different visitors typed it that day: the salt changes
    daily, so one visitor typing it on five days must not add up to five. Its visitors are
    summed over such days. Days not yet aggregated are counted from the raw rows."""
    rows = conn.execute(
        text(
            "SELECT query, sum(n) AS sessions FROM ("
            " SELECT day, query, sum(n) AS n FROM ("
            "  SELECT day, query, sessions AS n FROM zero_hit_query"
            "  WHERE day >= :f AND day <= :t"
            "  UNION ALL"
            "  SELECT day, query, count(*) AS n FROM zero_hit_search"
            "  WHERE day >= :f AND day <= :t GROUP BY day, query"
            " ) AS both_kinds GROUP BY day, query HAVING sum(n) >= :least"
            ") AS busy_days GROUP BY query "
            "ORDER BY sessions DESC, query LIMIT :limit"
        ),
        {
            "f": day_from,
            "t": day_to,
            "least": ZERO_HIT_MIN_SESSIONS,
            "limit": ZERO_HIT_LIST,
        },
    )
    return tuple(ZeroHitRow(str(r.query), int(r.sessions)) for r in rows)
