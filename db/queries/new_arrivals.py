"""New arrivals (/new and its Atom feeds): works whose first copy arrived in the last
7, 14 or 30 days (db.arrivals), by branch, material type, NDC class or for children."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from db import rules
from db.arrivals import ARRIVAL_WINDOWS, DEFAULT_WINDOW, ArrivalFilter, count_new_works, new_works
from db.catalog_write import split_values
from db.clock import library_today
from db.engine import replica_reads

__all__ = [
    "ARRIVAL_WINDOWS",
    "NewArrivals",
    "NewArrivalsQuery",
    "NewWork",
    "list_new_arrivals",
]


@dataclass(frozen=True)
class NewArrivalsQuery:
    days: int = DEFAULT_WINDOW  # one of ARRIVAL_WINDOWS
    branch: str = ""  # a branch code
    material_type: str = ""  # a material type code
    ndc_class: str = ""  # "0" … "9"
    children: bool = False
    page: int = 1


@dataclass(frozen=True)
class NewWork:
    """A new work as a result row (the fields of a catalogue search hit) and its arrival."""

    id: int
    title: str
    subtitle: str
    authors: tuple[str, ...]
    publisher: str
    pub_year: int | None
    ndc: str
    copies: int
    available: int
    reservable: int
    arrived_on: date
    material_types: tuple[str, ...] = ()  # codes of the copies' material types, most first


@dataclass(frozen=True)
class NewArrivals:
    works: tuple[NewWork, ...]
    total: int
    page: int
    page_count: int
    start: int  # 1-based position of the first work on this page
    since: date  # the first day of the window (library-local)
    today: date


def _filter(conn: Connection, query: NewArrivalsQuery) -> ArrivalFilter | None:
    """None: a branch that does not exist (nothing is new there)."""
    branch_id = None
    if query.branch:
        branch_id = conn.execute(
            text("SELECT id FROM branch WHERE code = :code"), {"code": query.branch}
        ).scalar_one_or_none()
        if branch_id is None:
            return None
    ndc_class = query.ndc_class if query.ndc_class in tuple("0123456789") else ""
    return ArrivalFilter(branch_id, query.material_type, ndc_class, query.children)


@replica_reads
def list_new_arrivals(conn: Connection, now: datetime, query: NewArrivalsQuery) -> NewArrivals:
    today = library_today(now)
    days = query.days if query.days in ARRIVAL_WINDOWS else DEFAULT_WINDOW
    since = today - timedelta(days=days - 1)
    where = _filter(conn, query)
    total = 0 if where is None else count_new_works(conn, since, where)
    page_count = -(-total // rules.PAGE_SIZE)
    page = max(1, min(query.page, page_count, rules.MAX_PAGE))
    offset = (page - 1) * rules.PAGE_SIZE
    found = [] if where is None else new_works(conn, since, where, rules.PAGE_SIZE, offset)
    return NewArrivals(
        works=_rows(conn, found),
        total=total,
        page=page,
        page_count=min(page_count, rules.MAX_PAGE),
        start=offset + 1,
        since=since,
        today=today,
    )


def _rows(conn: Connection, found: list[tuple[int, date]]) -> tuple[NewWork, ...]:
    if not found:
        return ()
    works = {
        r.id: r
        for r in conn.execute(
            text(
                "SELECT w.id, w.title, w.subtitle, w.authors, w.publisher, w.pub_year, w.ndc, "
                "(SELECT count(*) FROM item i WHERE i.work_id = w.id) AS copies, "
                "(SELECT count(*) FROM item i WHERE i.work_id = w.id AND i.status = :available) "
                "AS available, "
                "(SELECT count(*) FROM item i JOIN material_type m ON m.code = i.material_type "
                "WHERE i.work_id = w.id AND m.reservable AND m.loan_days > 0 "
                "AND i.status <> :missing) AS reservable "
                "FROM work w WHERE w.id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {
                "ids": [work_id for work_id, _ in found],
                "available": rules.AVAILABLE,
                "missing": rules.MISSING,
            },
        )
    }
    kinds: dict[int, list[tuple[int, str]]] = {}
    for r in conn.execute(
        text(
            "SELECT work_id, material_type, count(*) AS n FROM item WHERE work_id IN :ids "
            "GROUP BY work_id, material_type"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": [work_id for work_id, _ in found]},
    ):
        kinds.setdefault(r.work_id, []).append((-int(r.n), r.material_type))
    return tuple(
        NewWork(
            id=w.id,
            title=w.title,
            subtitle=w.subtitle,
            authors=split_values(w.authors),
            publisher=w.publisher,
            pub_year=w.pub_year,
            ndc=w.ndc,
            copies=w.copies,
            available=w.available,
            reservable=w.reservable,
            arrived_on=arrived,
            material_types=tuple(code for _, code in sorted(kinds.get(work_id, []))),
        )
        for work_id, arrived in found
        if (w := works.get(work_id)) is not None
    )
