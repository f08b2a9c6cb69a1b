"""The home page (the most visited page) and the pages generated from the code tables and
rules: 利用案内 (how to use the library) and the privacy notice.

`get_home_page` reads, in one transaction, the library's identity and today's
announcements, every branch's hours today (one query for all branches: its regular week
and any closure on today, db.calendar's rule) and the few latest new arrivals. The answer
is kept per process (db.search_cache, as ranked searches are) for the day, so most views
cost no query; a code-table or calendar change clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from db import clock, codes, rules, search_cache
from db.arrivals import DEFAULT_WINDOW, ArrivalFilter, new_works
from db.calendar import WEEKLY
from db.catalog_write import split_values
from db.clock import library_today
from db.engine import cache_scope, reads
from db.localized import Localized

__all__ = [
    "HOME_ARRIVALS",
    "BranchToday",
    "GuideBranch",
    "GuideMaterial",
    "HomeArrival",
    "HomePage",
    "LibraryGuide",
    "get_home_page",
    "get_library_guide",
]

HOME_ARRIVALS = 5


@dataclass(frozen=True)
class BranchToday:
    code: str
    names: Localized
    closed: str | None  # why (a closure kind, or "weekly"); None: open today
    opens: str  # "" when closed or not stated
    closes: str


@dataclass(frozen=True)
class HomeArrival:
    id: int
    title: str
    authors: tuple[str, ...]
    arrived_on: date


@dataclass(frozen=True)
class HomePage:
    today: date
    identity: codes.LibraryIdentityView
    announcements: tuple[codes.AnnouncementView, ...]
    branches: tuple[BranchToday, ...]
    arrivals: tuple[HomeArrival, ...]


_BRANCHES_TODAY = text(
    "SELECT b.code, b.names, h.closed, h.opens, h.closes, "
    "(SELECT c.kind FROM branch_closure c WHERE c.branch_id = b.id AND c.starts_on <= :today "
    "AND c.ends_on >= :today ORDER BY c.starts_on, c.id LIMIT 1) AS closure "
    "FROM branch b LEFT JOIN branch_hours h ON h.branch_id = b.id AND h.weekday = :weekday "
    "ORDER BY b.sort_order, b.code"
)


def _branches_today(conn: Connection, today: date) -> tuple[BranchToday, ...]:
    result = []
    for r in conn.execute(_BRANCHES_TODAY, {"today": today, "weekday": today.weekday()}):
        reason = r.closure or (WEEKLY if r.closed else None)
        opens, closes = ("", "") if reason else (r.opens or "", r.closes or "")
        result.append(BranchToday(r.code, Localized.of(r.names), reason, opens, closes))
    return tuple(result)


def _arrivals(conn: Connection, today: date) -> tuple[HomeArrival, ...]:
    since = today - timedelta(days=DEFAULT_WINDOW - 1)
    found = new_works(conn, since, ArrivalFilter(), HOME_ARRIVALS, 0)
    if not found:
        return ()
    works = {
        r.id: r
        for r in conn.execute(
            text("SELECT id, title, authors FROM work WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": [work_id for work_id, _ in found]},
        )
    }
    return tuple(
        HomeArrival(w.id, w.title, split_values(w.authors), arrived)
        for work_id, arrived in found
        if (w := works.get(work_id)) is not None
    )


def get_home_page() -> HomePage:
    """What the home page shows today (kept per process: see the module docstring)."""
    key = ("home", cache_scope())
    cached = search_cache.get(key)
    if isinstance(cached, HomePage) and cached.today == library_today(clock.now()):
        return cached
    page = _read_home_page()
    search_cache.put(key, page)
    return page


@reads
def _read_home_page(conn: Connection, now: datetime) -> HomePage:
    today = library_today(now)
    return HomePage(
        today,
        codes.identity_view(conn),
        codes.current_announcements(conn, today),
        _branches_today(conn, today),
        _arrivals(conn, today),
    )


@dataclass(frozen=True)
class GuideBranch:
    code: str
    names: Localized
    address: str
    phone: str
    week: tuple[tuple[int, bool, str, str], ...]  # (weekday, closed, opens, closes), Monday first


@dataclass(frozen=True)
class GuideMaterial:
    names: Localized
    loan_days: int  # 0: in the library only
    reservable: bool


@dataclass(frozen=True)
class LibraryGuide:
    """What 利用案内 and the privacy notice say, from the code tables and db.rules."""

    identity: codes.LibraryIdentityView
    branches: tuple[GuideBranch, ...]
    materials: tuple[GuideMaterial, ...]
    categories: tuple[Localized, ...]
    loan_limit: int
    renewal_limit: int
    card_valid_years: int
    purge_after_years: int


@reads
def get_library_guide(conn: Connection, now: datetime) -> LibraryGuide:
    hours: dict[str, dict[int, tuple[bool, str, str]]] = {}
    for r in conn.execute(
        text(
            "SELECT b.code, h.weekday, h.closed, h.opens, h.closes FROM branch_hours h "
            "JOIN branch b ON b.id = h.branch_id"
        )
    ):
        hours.setdefault(r.code, {})[r.weekday] = (bool(r.closed), r.opens, r.closes)
    branches = tuple(
        GuideBranch(
            r.code,
            Localized.of(r.names),
            r.address,
            r.phone,
            tuple((d, *hours.get(r.code, {}).get(d, (False, "", ""))) for d in range(7)),
        )
        for r in conn.execute(
            text("SELECT code, names, address, phone FROM branch ORDER BY sort_order, code")
        )
    )
    materials = tuple(
        GuideMaterial(Localized.of(r.names), r.loan_days, bool(r.reservable))
        for r in conn.execute(
            text("SELECT names, loan_days, reservable FROM material_type ORDER BY code")
        )
    )
    categories = tuple(
        Localized.of(r.names)
        for r in conn.execute(text("SELECT names FROM patron_category ORDER BY sort_order, code"))
    )
    return LibraryGuide(
        codes.identity_view(conn),
        branches,
        materials,
        categories,
        rules.LOAN_LIMIT,
        rules.RENEWAL_LIMIT,
        rules.CARD_VALID_YEARS,
        rules.PURGE_AFTER_YEARS_WITHOUT_LOAN,
    )
