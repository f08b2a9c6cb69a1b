"""Facets beside the search results: how many of the matching works have a copy on the
shelf at each branch, a copy of each material type, an NDC main class, and a decade of
publication.

The counts are over the whole result set, so they are only computed when it is small
(`FACET_MAX` works, and never when it was cut at RANK_CAP): counting a larger set would cost
a second full scan of the matches on every page, and the counts of the first RANK_CAP works
alone would be wrong. The patron narrows a large set with the advanced fields first.

The facets of a search are kept in the ranking cache (db.search_cache) with its time to
live, so paging does not count again; the on-shelf counts may then lag the shelves by that
time, like the cached ranking itself.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from db import rules, search_cache
from db.engine import cache_scope, replica_reads
from db.queries.catalog import SearchParams, _candidates_sql, _Plan, list_branches

__all__ = ["FACET_MAX", "FacetCount", "SearchFacets", "get_search_facets"]

FACET_MAX = rules.FACET_MAX


@dataclass(frozen=True)
class FacetCount:
    key: str  # a branch code, a material type code, an NDC class, or a decade ("1990")
    count: int  # matching works


@dataclass(frozen=True)
class SearchFacets:
    branches: tuple[FacetCount, ...]  # with a copy on the shelf there now
    material_types: tuple[FacetCount, ...]
    ndc_classes: tuple[FacetCount, ...]
    decades: tuple[FacetCount, ...]  # newest first

    @property
    def is_empty(self) -> bool:
        return not (self.branches or self.material_types or self.ndc_classes or self.decades)


# One pass per facet over the candidate ids (the CTE is computed once on both engines).
# CROSS JOIN keeps SQLite's loop on the few candidates (it would otherwise scan a whole index
# of copies or classes and probe the candidates); PostgreSQL plans it as an inner join.
_FACETS_SQL = """
WITH cand AS ({cand})
SELECT 'branch' AS kind, b.code AS key, count(DISTINCT it.work_id) AS n
  FROM cand CROSS JOIN item it JOIN branch b ON b.id = it.branch_id
  WHERE it.work_id = cand.id AND it.status = :facet_available GROUP BY b.code
UNION ALL
SELECT 'material_type', it.material_type, count(DISTINCT it.work_id)
  FROM cand CROSS JOIN item it WHERE it.work_id = cand.id GROUP BY it.material_type
UNION ALL
SELECT 'ndc_class', n.cls, count(DISTINCT n.work_id)
  FROM cand CROSS JOIN work_ndc n WHERE n.work_id = cand.id GROUP BY n.cls
UNION ALL
SELECT 'decade', CAST((w.pub_year / 10) * 10 AS TEXT), count(*)
  FROM cand CROSS JOIN work w WHERE w.id = cand.id AND w.pub_year IS NOT NULL
  GROUP BY (w.pub_year / 10) * 10
"""


def get_search_facets(params: SearchParams, matched: Collection[int] | None = None) -> SearchFacets:
    """The facet counts of a search whose whole result set was ranked (see the module
    docstring); the page and sort order do not change them. `matched`: the search's text
    matches as its ranking listed them (SearchResult.facet_works), counted without matching
    again. A cached answer costs no transaction."""
    params = replace(params, page=1, sort="title")
    key = ("facets", cache_scope(), params)
    cached = search_cache.get(key)
    if isinstance(cached, SearchFacets):
        return cached
    facets = _count_facets(params, None if matched is None else sorted(matched))
    # In the branches' order, from the code table every search page reads anyway (one
    # query fewer per count).
    order = {b.code: n for n, b in enumerate(list_branches())}
    facets = replace(
        facets, branches=tuple(sorted(facets.branches, key=lambda f: order.get(f.key, 1 << 30)))
    )
    search_cache.put(key, facets)
    return facets


@replica_reads
def _count_facets(
    conn: Connection, now: datetime, params: SearchParams, matched: list[int] | None
) -> SearchFacets:
    if matched is not None:  # the text matches, known: a seek by id for each
        if not matched:
            return SearchFacets((), (), (), ())
        cand = "SELECT w.id FROM work w WHERE w.id IN :matched"
        sql = text(_FACETS_SQL.format(cand=cand)).bindparams(bindparam("matched", expanding=True))
        binds: dict[str, Any] = {"matched": matched}
    else:
        plan = _Plan(conn, params)
        if plan.is_empty:
            return SearchFacets((), (), (), ())
        sql = text(_FACETS_SQL.format(cand=_candidates_sql(plan, "title")))
        binds = {**plan.binds, "cap": rules.RANK_CAP}
    binds["facet_available"] = rules.AVAILABLE
    found: dict[str, list[FacetCount]] = {
        "branch": [],
        "material_type": [],
        "ndc_class": [],
        "decade": [],
    }
    for row in conn.execute(sql, binds):
        if row.key is not None and row.n:
            found[row.kind].append(FacetCount(str(row.key), int(row.n)))
    classes = {c: n for n, c in enumerate(rules.NDC_CLASSES)}
    facets = SearchFacets(
        branches=tuple(found["branch"]),  # ordered by get_search_facets
        material_types=tuple(sorted(found["material_type"], key=lambda f: (-f.count, f.key))),
        ndc_classes=tuple(
            sorted(
                (f for f in found["ndc_class"] if f.key in classes),
                key=lambda f: classes[f.key],
            )
        ),
        decades=tuple(sorted(found["decade"], key=lambda f: -int(f.key))),
    )
    return facets
