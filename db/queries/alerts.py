"""New-arrival alerts (新着図書お知らせメール): a patron's saved conditions and the daily digest.

A patron keeps up to `MAX_CONDITIONS` conditions: a keyword or an author, matched by the
catalogue's own search (db.queries.catalog.works_matching: the search box, or its author
field, run over the new works, so romaji, 異体字 and kana folds find what the search finds),
an NDC class (a prefix: "9", "913", "K"), a material type or a branch (a copy of that type,
or at that branch). Conditions are personal data: every function here takes `patron_id`
first and filters by it; staff get counts only.

The digest (`queue_alert_digests`, run daily by `shiori alerts send`) mails each patron one
notice through the outbox naming the works that arrived (db.arrivals) since the condition
was saved — at most `LOOKBACK_DAYS` back — and that match any of their conditions, leaving
out every (condition, work) pair already mailed. `alert_sent` records the pairs in the same
transaction as the notice: a work that arrives after a run is mailed by the next one, and a
pair is mailed once. Two runs at once are safe: each patron's digest locks the patron's row
(PostgreSQL; SQLite's BEGIN IMMEDIATE makes a writer alone) and inserts its pairs with ON
CONFLICT DO NOTHING, so the second run finds them taken and mails nothing for them. Pairs
are pruned once their work can no longer be a candidate. The patron's notice setting for
`new_arrivals` (db.notice_prefs) decides whether they get it at all, and whether it names
titles or only links to the records.

Every notice carries one-click unsubscribe links (RFC 8058): the web tier signs them
(`unsubscribe_url`) and `unsubscribe_alert_conditions` removes what a link names.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import Connection

from db import clock, notice_prefs, outbox
from db.arrivals import ArrivalFilter, new_works
from db.catalog_write import split_values
from db.clock import aware_utc, library_today, naive_utc
from db.emails import is_email
from db.engine import reads, writes
from db.errors import NotFound, QueryError
from db.queries.catalog import SearchParams, works_matching
from db.search import parse_query

__all__ = [
    "ALERT_KINDS",
    "ALERT_LOOKBACK_DAYS",
    "MAX_ALERT_CONDITIONS",
    "AlertCondition",
    "AlertCounts",
    "AlertRefused",
    "DigestReport",
    "add_alert_condition",
    "alert_conditions_remaining",
    "check_alert_condition",
    "count_alert_conditions",
    "delete_alert_condition",
    "list_alert_conditions",
    "queue_alert_digests",
    "unsubscribe_alert_conditions",
]

log = logging.getLogger(__name__)

ALERT_KINDS = ("keyword", "author", "ndc", "material_type", "branch")
MAX_ALERT_CONDITIONS = 10
# How far back a digest looks for arrivals (and how long sent pairs are kept after it).
ALERT_LOOKBACK_DAYS = 14
MAIL_KIND = "new_arrivals"
# A digest names at most this many works (the rest wait for the next one: still unsent).
DIGEST_MAX_WORKS = 50
_CANDIDATE_CAP = 20000
_VALUE_MAX = 200


class AlertRefused(QueryError):
    """A condition that cannot be saved: `alert_limit` (limit) or `alert_condition_invalid`."""


@dataclass(frozen=True)
class AlertCondition:
    id: int
    kind: str  # one of ALERT_KINDS
    value: str  # a keyword or author as typed; an NDC prefix; a material type or branch code
    created_at: datetime


@dataclass(frozen=True)
class AlertCounts:
    """What staff may see: how many conditions, by how many patrons (never whose)."""

    conditions: int
    patrons: int


@dataclass(frozen=True)
class DigestReport:
    mailed: int  # patrons sent a digest
    works: int  # (condition, work) pairs mailed
    pruned: int  # old pairs forgotten
    failed: int = 0  # patrons whose digest failed (logged; retried by the next run)


_NDC_PREFIX = re.compile(r"K|K?[0-9]{1,3}(?:\.[0-9]{1,6})?")


def _clean_ndc(value: str) -> str:
    """An NDC class as typed (full-width digits, "k913", " 913.6 ") in the catalogue's form."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def check_alert_condition(
    kind: str, value: str, branches: Sequence[str], material_types: Sequence[str]
) -> str | None:
    """The value as stored, or None if it is not a usable condition of `kind`."""
    value = " ".join(value.split())[:_VALUE_MAX]
    if kind in ("keyword", "author"):
        return value if parse_query(value).terms else None
    if kind == "ndc":
        code = _clean_ndc(value)
        return code if _NDC_PREFIX.fullmatch(code) else None
    if kind == "branch":
        return value if value in branches else None
    if kind == "material_type":
        return value if value in material_types else None
    return None


def _codes(conn: Connection, table: str) -> list[str]:
    return [r.code for r in conn.execute(text(f"SELECT code FROM {table}"))]


_CONDITIONS = text(
    "SELECT id, kind, value, created_at FROM alert_condition WHERE patron_id = :p ORDER BY id"
).columns(created_at=DateTime())


def _conditions(conn: Connection, patron_id: int) -> tuple[AlertCondition, ...]:
    return tuple(
        AlertCondition(r.id, r.kind, r.value, aware_utc(r.created_at))
        for r in conn.execute(_CONDITIONS, {"p": patron_id})
    )


@reads
def list_alert_conditions(
    conn: Connection, now: datetime, patron_id: int
) -> tuple[AlertCondition, ...]:
    return _conditions(conn, patron_id)


def _lock_patron(conn: Connection, patron_id: int) -> None:
    """PostgreSQL: the patron's conditions change one transaction at a time (SQLite's BEGIN
    IMMEDIATE already makes a writer alone)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT id FROM patron WHERE id = :p FOR UPDATE"), {"p": patron_id})


@writes
def add_alert_condition(
    conn: Connection, now: datetime, patron_id: int, kind: str, value: str
) -> AlertCondition:
    _lock_patron(conn, patron_id)  # two tabs at once must not pass the limit
    stored = check_alert_condition(
        kind, value, _codes(conn, "branch"), _codes(conn, "material_type")
    )
    if stored is None:
        raise AlertRefused("alert_condition_invalid")
    existing = _conditions(conn, patron_id)
    same = next((c for c in existing if (c.kind, c.value) == (kind, stored)), None)
    if same is not None:
        return same
    if len(existing) >= MAX_ALERT_CONDITIONS:
        raise AlertRefused("alert_limit", limit=MAX_ALERT_CONDITIONS)
    new_id = conn.execute(
        text(
            "INSERT INTO alert_condition (patron_id, kind, value, created_at) "
            "VALUES (:p, :k, :v, :t) RETURNING id"
        ),
        {"p": patron_id, "k": kind, "v": stored, "t": naive_utc(now)},
    ).scalar_one()
    return AlertCondition(int(new_id), kind, stored, aware_utc(now))


@writes
def delete_alert_condition(
    conn: Connection, now: datetime, patron_id: int, condition_id: int
) -> None:
    """Another patron's condition, or one already gone: NotFound."""
    # A digest being queued holds this lock: the condition goes after its pairs are in.
    _lock_patron(conn, patron_id)
    gone = conn.execute(
        text("DELETE FROM alert_condition WHERE id = :id AND patron_id = :p"),
        {"id": condition_id, "p": patron_id},
    )
    if not gone.rowcount:
        raise NotFound("alert_not_found")


@writes
def unsubscribe_alert_conditions(
    conn: Connection, now: datetime, patron_id: int, condition_ids: Sequence[int]
) -> int:
    """What a signed unsubscribe link names: those of the patron's conditions that are
    still there are removed (again: nothing). → conditions removed."""
    if not condition_ids:
        return 0
    _lock_patron(conn, patron_id)  # as delete_alert_condition
    gone = conn.execute(
        text("DELETE FROM alert_condition WHERE patron_id = :p AND id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"p": patron_id, "ids": list(condition_ids)},
    )
    return int(gone.rowcount or 0)


@reads
def alert_conditions_remaining(
    conn: Connection, now: datetime, patron_id: int, condition_ids: Sequence[int]
) -> int:
    """How many of the conditions a signed unsubscribe link names are still there."""
    if not condition_ids:
        return 0
    found = conn.execute(
        text("SELECT count(*) FROM alert_condition WHERE patron_id = :p AND id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"p": patron_id, "ids": list(condition_ids)},
    )
    return int(found.scalar_one())


@reads
def count_alert_conditions(conn: Connection, now: datetime) -> AlertCounts:
    row = conn.execute(
        text("SELECT count(*) AS n, count(DISTINCT patron_id) AS p FROM alert_condition")
    ).one()
    return AlertCounts(int(row.n), int(row.p))


# --- the digest -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    id: int
    arrived_on: date
    title: str
    authors: tuple[str, ...]
    ndc: tuple[str, ...]
    branches: frozenset[str]
    material_types: frozenset[str]


# Conditions the search matches: what it searches with them.
_SEARCHED = {
    "keyword": lambda value: SearchParams(q=value),
    "author": lambda value: SearchParams(author=value),
}


def _matching(
    conn: Connection, condition: AlertCondition, works: Sequence[_Candidate]
) -> list[_Candidate]:
    searched = _SEARCHED.get(condition.kind)
    if searched is None:
        return [w for w in works if _matches(condition.kind, condition.value, w)]
    found = works_matching(conn, searched(condition.value), [w.id for w in works])
    return [w for w in works if w.id in found]


def _matches(kind: str, value: str, work: _Candidate) -> bool:
    if kind == "ndc":
        return any(code.startswith(value) for code in work.ndc)
    if kind == "branch":
        return value in work.branches
    if kind == "material_type":
        return value in work.material_types
    return False


@reads
def _candidates(conn: Connection, now: datetime, since: date) -> list[_Candidate]:
    found = dict(new_works(conn, since, ArrivalFilter(), _CANDIDATE_CAP))
    if not found:
        return []
    ids: Any = bindparam("ids", expanding=True)
    works = conn.execute(
        text("SELECT id, title, authors FROM work WHERE id IN :ids").bindparams(ids),
        {"ids": list(found)},
    ).all()
    ndc: dict[int, list[str]] = {}
    for r in conn.execute(
        text("SELECT work_id, ndc FROM work_ndc WHERE work_id IN :ids").bindparams(ids),
        {"ids": list(found)},
    ):
        ndc.setdefault(r.work_id, []).append(r.ndc)
    branches: dict[int, set[str]] = {}
    types: dict[int, set[str]] = {}
    for r in conn.execute(
        text(
            "SELECT i.work_id, b.code, i.material_type FROM item i "
            "JOIN branch b ON b.id = i.branch_id WHERE i.work_id IN :ids"
        ).bindparams(ids),
        {"ids": list(found)},
    ):
        branches.setdefault(r.work_id, set()).add(r.code)
        types.setdefault(r.work_id, set()).add(r.material_type)
    out = []
    for w in works:
        out.append(
            _Candidate(
                id=w.id,
                arrived_on=found[w.id],
                title=w.title,
                authors=split_values(w.authors),
                ndc=tuple(ndc.get(w.id, ())),
                branches=frozenset(branches.get(w.id, ())),
                material_types=frozenset(types.get(w.id, ())),
            )
        )
    out.sort(key=lambda c: (c.arrived_on, c.id), reverse=True)
    return out


@reads
def _patrons_with_conditions(conn: Connection, now: datetime) -> list[int]:
    return [
        r.patron_id
        for r in conn.execute(
            text(
                "SELECT DISTINCT c.patron_id FROM alert_condition c "
                "JOIN patron p ON p.id = c.patron_id WHERE p.email IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM notice_setting s WHERE s.patron_id = p.id "
                "AND s.kind = :kind AND NOT s.email) ORDER BY c.patron_id"
            ),
            {"kind": notice_prefs.NEW_ARRIVALS},
        )
    ]


@writes
def _prune(conn: Connection, now: datetime) -> int:
    # A work mailed at T arrived on or before T's day, so it leaves the look-back window
    # within LOOKBACK_DAYS of T; a day more covers the difference of time zones.
    horizon = naive_utc(now) - timedelta(days=ALERT_LOOKBACK_DAYS + 1)
    gone = conn.execute(text("DELETE FROM alert_sent WHERE sent_at < :h"), {"h": horizon})
    return int(gone.rowcount or 0)


UnsubscribeUrl = Callable[[int, Sequence[int]], str]
RecordUrl = Callable[[int], str]


@writes
def _digest(
    conn: Connection,
    now: datetime,
    patron_id: int,
    candidates: Sequence[_Candidate],
    unsubscribe_url: UnsubscribeUrl,
    record_url: RecordUrl,
) -> int:
    """One patron's digest: → (condition, work) pairs mailed (0: no mail)."""
    # PostgreSQL: a second run at once waits here, then finds the pairs taken; a condition
    # removed meanwhile waits too (its pairs reference it).
    _lock_patron(conn, patron_id)
    patron = conn.execute(
        text("SELECT id, email, lang FROM patron WHERE id = :p"), {"p": patron_id}
    ).one_or_none()
    if patron is None or not patron.email or not is_email(patron.email):
        return 0
    setting = notice_prefs.setting_of(conn, patron_id, notice_prefs.NEW_ARRIVALS)
    if not setting.email:  # 連絡不要 for new arrivals (My data → notice settings)
        return 0
    conditions = _conditions(conn, patron_id)
    pairs: list[tuple[AlertCondition, _Candidate]] = []
    for condition in conditions:
        since = library_today(condition.created_at)
        arrived = [w for w in candidates if w.arrived_on >= since]
        pairs.extend((condition, work) for work in _matching(conn, condition, arrived))
    if not pairs:
        return 0
    taken = conn.execute(
        text("SELECT condition_id, work_id FROM alert_sent WHERE condition_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": [c.id for c in conditions]},
    ).all()
    already = {(r.condition_id, r.work_id) for r in taken}
    mailed: list[tuple[AlertCondition, _Candidate]] = []
    works: dict[int, _Candidate] = {}
    for condition, work in pairs:
        if (condition.id, work.id) in already:
            continue
        if work.id not in works and len(works) >= DIGEST_MAX_WORKS:
            continue  # waits for the next digest, still unsent
        inserted = conn.execute(
            text(
                "INSERT INTO alert_sent (condition_id, work_id, sent_at) VALUES (:c, :w, :t) "
                "ON CONFLICT DO NOTHING RETURNING work_id"
            ),
            {"c": condition.id, "w": work.id, "t": naive_utc(now)},
        ).first()
        if inserted is not None:
            mailed.append((condition, work))
            works[work.id] = work
    if not mailed:
        return 0
    used = [c for c in conditions if any(m.id == c.id for m, _ in mailed)]
    params: dict[str, Any] = {
        # Titles only if the patron asked for them (notice settings): the links alone else.
        "titles": setting.titles,
        "works": [
            {
                "title": w.title if setting.titles else "",
                "authors": list(w.authors) if setting.titles else [],
                "arrived": w.arrived_on.isoformat(),
                "url": record_url(w.id),
            }
            for w in sorted(works.values(), key=lambda c: (c.arrived_on, c.id), reverse=True)
        ],
        "conditions": [
            {"kind": c.kind, "value": c.value, "unsubscribe": unsubscribe_url(patron_id, [c.id])}
            for c in used
        ],
        # The one-click link of the headers (db.queries.mail): every condition of this mail.
        "list_unsubscribe": unsubscribe_url(patron_id, [c.id for c in used]),
    }
    outbox.enqueue(
        conn,
        kind=MAIL_KIND,
        to_addr=patron.email,
        now=now,
        patron_id=patron_id,
        lang=patron.lang,
        params=params,
    )
    return len(mailed)


def queue_alert_digests(unsubscribe_url: UnsubscribeUrl, record_url: RecordUrl) -> DigestReport:
    """Queue today's digests (one transaction per patron). `unsubscribe_url(patron_id,
    condition_ids)` and `record_url(work_id)` are the web tier's absolute links."""
    pruned = _prune()
    since = library_today(clock.now()) - timedelta(days=ALERT_LOOKBACK_DAYS - 1)
    candidates = _candidates(since)
    mailed = pairs = failed = 0
    if candidates:
        for patron_id in _patrons_with_conditions():
            try:
                count = _digest(patron_id, candidates, unsubscribe_url, record_url)
            except Exception as exc:  # one patron's failure must not cost the others theirs
                # The error's text may quote the patron's values: its class only.
                log.error("alert digest for patron %s failed: %s", patron_id, type(exc).__name__)
                failed += 1
                continue
            mailed += bool(count)
            pairs += count
    return DigestReport(mailed, pairs, pruned, failed)
