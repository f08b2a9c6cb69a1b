"""New arrivals (新着資料): works whose first copy arrived on or after a day.

A copy's arrival is its `item.acquired_on` (受入日, a library-local date; migration 0026).
A work is new from `since` when it has a copy acquired on or after `since` and no copy
acquired before it, nor one without a date (held since before dates were recorded). Both
steps are index lookups: the recent copies by `ix_item_acquired_work`, each candidate's
older copies by `ix_item_work_acquired`, so the cost follows the window, not the catalogue.

Shared by the /new page and feeds (db.queries.new_arrivals) and the alert digest
(db.queries.alerts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, text
from sqlalchemy.engine import Connection

from db import rules

# The windows /new offers (days back from today, today included).
ARRIVAL_WINDOWS = (7, 14, 30)
DEFAULT_WINDOW = 14
# The material type of children's books; a work is also for children with an NDC K class.
CHILDREN_TYPE = "children"


@dataclass(frozen=True)
class ArrivalFilter:
    """Which new works: copies at a branch, of a material type, works of an NDC main class
    (0-9), children's books. Values are checked against allow-lists by the caller."""

    branch_id: int | None = None
    material_type: str = ""
    ndc_class: str = ""
    children: bool = False


def _where(since: date, where: ArrivalFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["i.acquired_on >= :since"]
    params: dict[str, Any] = {"since": since}
    if where.branch_id is not None:
        clauses.append("i.branch_id = :branch_id")
        params["branch_id"] = where.branch_id
    if where.material_type:
        clauses.append("i.material_type = :mtype")
        params["mtype"] = where.material_type
    if where.ndc_class:
        clauses.append(
            "EXISTS (SELECT 1 FROM work_ndc n WHERE n.work_id = i.work_id AND n.cls = :cls)"
        )
        params["cls"] = where.ndc_class
    if where.children:
        clauses.append(
            "(i.material_type = :children OR EXISTS (SELECT 1 FROM work_ndc k "
            "WHERE k.work_id = i.work_id AND k.cls = 'K'))"
        )
        params["children"] = CHILDREN_TYPE
    clauses.append(
        "NOT EXISTS (SELECT 1 FROM item o WHERE o.work_id = i.work_id "
        "AND (o.acquired_on < :since OR o.acquired_on IS NULL))"
    )
    return " AND ".join(clauses), params


def count_new_works(conn: Connection, since: date, where: ArrivalFilter) -> int:
    sql, params = _where(since, where)
    return int(
        conn.execute(
            text(f"SELECT count(DISTINCT i.work_id) FROM item i WHERE {sql}"), params
        ).scalar_one()
    )


def new_works(
    conn: Connection, since: date, where: ArrivalFilter, limit: int, offset: int = 0
) -> list[tuple[int, date]]:
    """(work id, day its first matching copy arrived), newest first."""
    sql, params = _where(since, where)
    rows = conn.execute(
        text(
            f"SELECT i.work_id AS work_id, min(i.acquired_on) AS arrived FROM item i WHERE {sql} "
            "GROUP BY i.work_id ORDER BY arrived DESC, i.work_id DESC LIMIT :limit OFFSET :offset"
        ).columns(work_id=Integer(), arrived=Date()),
        {**params, "limit": limit, "offset": offset},
    )
    return [(r.work_id, r.arrived) for r in rows]


def max_page(total: int) -> int:
    return max(1, -(-total // rules.PAGE_SIZE))
