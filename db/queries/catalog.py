"""Catalog reads: search with Japanese matching and bounded ranking, record detail, and
the code tables (branches, material types)."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from db import rules, search, search_cache
from db.catalog_write import split_values
from db.engine import reads, replica_reads
from db.errors import NotFound
from db.localized import Localized
from db.rules import ITEM_STATUSES, MAX_PAGE, NDC_CLASSES, PAGE_SIZE, RANK_CAP, SORTS

__all__ = [
    "ITEM_STATUSES",
    "MAX_PAGE",
    "NDC_CLASSES",
    "PAGE_SIZE",
    "RANK_CAP",
    "SORTS",
    "Branch",
    "Copy",
    "MaterialType",
    "Record",
    "SearchHit",
    "SearchParams",
    "SearchResult",
    "get_record",
    "list_branches",
    "list_material_types",
    "search_works",
]

_ADVANCED_FIELDS = {
    "title": ("title", "A"),
    "author": ("author", "B"),
    "publisher": ("publisher", "C"),
    "subject": ("subject", "D"),
}


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    title: str = ""
    author: str = ""
    publisher: str = ""
    subject: str = ""
    isbn: str = ""
    ndc: str = ""
    branch: str = ""  # branch code: only works with a copy on the shelf there
    material_type: str = ""
    ndc_class: str = ""
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1


@dataclass(frozen=True)
class SearchHit:
    id: int
    title: str
    subtitle: str
    authors: tuple[str, ...]
    publisher: str
    pub_year: int | None
    ndc: str
    copies: int
    available: int
    reservable: int  # copies that can serve a reservation (lendable, reservable, not missing)
    material_types: tuple[str, ...] = ()  # codes of the copies' material types, most first


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[SearchHit, ...]
    total: int
    total_is_lower_bound: bool  # more than `total` matched; counting stopped there
    page: int
    page_count: int
    ranked_within: int | None  # set when only the first N matches were ranked
    start: int = 1  # 1-based position of the first hit on this page
    notices: tuple[str, ...] = field(default=())  # message keys, e.g. "query_truncated"
    # The text (or filter) matches when there are at most FACET_MAX of them, read by the
    # ranking query itself, so that db.queries.facets counts over them without matching
    # again (None: more of them, or not known).
    facet_works: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Copy:
    barcode: str
    branch_code: str
    branch_name: Localized
    call_number: str
    shelf_location: str
    shelf_name: Localized  # the shelf_location table's names (its code where none was given)
    material_type: str
    material_name: Localized
    status: str
    reservable: bool  # its material type can be reserved
    serves_holds: bool  # and lent, and the copy is not missing (db.pulling)


@dataclass(frozen=True)
class Record:
    id: int
    source: str
    source_id: str
    title: str
    title_yomi: str
    title_romaji: str
    subtitle: str
    responsibility: str
    authors: tuple[str, ...]
    authors_yomi: tuple[str, ...]
    publisher: str
    pub_place: str
    pub_year: int | None
    edition: str
    extent: str
    series: str
    ndc: tuple[str, ...]
    subjects: tuple[str, ...]
    isbn: tuple[str, ...]
    language: str
    notes: str
    source_url: str
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class Branch:
    code: str
    name: Localized


@dataclass(frozen=True)
class MaterialType:
    code: str
    name: Localized


_NDC_CHARS = frozenset("0123456789K.")


class _Plan:
    """The SQL pieces of one search, for the engine in use."""

    def __init__(self, conn: Connection, params: SearchParams) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.binds: dict[str, Any] = {}
        self.filters: list[str] = []
        self.notices: list[str] = []
        self.any_terms: list[str] = []  # match in any field
        self.field_terms: list[tuple[str, str]] = []  # (field, term)
        parsed = search.parse_query(params.q)
        if parsed.truncated:
            self.notices.append("query_truncated")
        self.any_terms.extend(parsed.terms)
        self.joined = parsed.joined
        isbns = [parsed.isbn13] if parsed.isbn13 else []
        for name in _ADVANCED_FIELDS:
            p = search.parse_query(getattr(params, name), ndl=False)
            if p.truncated:
                self.notices.append("query_truncated")
            self.field_terms.extend((name, t) for t in p.terms)
            if p.isbn13:  # an ISBN typed in a text field is still an ISBN
                isbns.append(p.isbn13)
        if params.isbn.strip():
            isbn = search.isbn13_of(params.isbn)
            if isbn is None:
                self.notices.append("isbn_invalid")
                isbn = "invalid"  # matches nothing: a wrong ISBN must not widen the search
            isbns.append(isbn)
        if parsed.ndl_ids:  # an NDL bibliographic number typed in the box
            names = [f":ndl{n}" for n in range(len(parsed.ndl_ids))]
            self.binds.update({name[1:]: v for name, v in zip(names, parsed.ndl_ids, strict=True)})
            self.filters.append(f"w.source = 'ndl' AND w.source_id IN ({', '.join(names)})")
        for n, isbn in enumerate(isbns):
            self.binds[f"isbn{n}"] = isbn
            self.filters.append(
                f"EXISTS (SELECT 1 FROM work_isbn i WHERE i.work_id = w.id AND i.isbn13 = :isbn{n})"
            )
        self._add_filters(params)

    def _add_filters(self, params: SearchParams) -> None:
        # Full-width as typed with the IME on (９１３．６ → 913.6); ASCII digits, "." and the
        # children's K only, so another script's digit (isdigit) is not passed on as one.
        typed = unicodedata.normalize("NFKC", params.ndc).upper()
        ndc = "".join(ch for ch in typed if ch in _NDC_CHARS)[:20]
        if ndc:
            self.binds["ndc_prefix"] = ndc + "%"
            self.filters.append(
                "EXISTS (SELECT 1 FROM work_ndc n "
                "WHERE n.work_id = w.id AND n.ndc LIKE :ndc_prefix)"
            )
        if params.ndc_class in rules.NDC_CLASSES:
            self.binds["ndc_class"] = params.ndc_class
            self.filters.append(
                "EXISTS (SELECT 1 FROM work_ndc n WHERE n.work_id = w.id AND n.cls = :ndc_class)"
            )
        if params.branch:
            self.binds["branch"] = params.branch
            self.binds["available"] = rules.AVAILABLE
            self.filters.append(
                "EXISTS (SELECT 1 FROM item it JOIN branch b ON b.id = it.branch_id "
                "WHERE b.code = :branch AND it.status = :available AND it.work_id = w.id)"
            )
        if params.material_type:
            self.binds["mtype"] = params.material_type
            self.filters.append(
                "EXISTS (SELECT 1 FROM item it WHERE it.material_type = :mtype "
                "AND it.work_id = w.id)"
            )
        if params.year_from is not None:
            self.binds["year_from"] = params.year_from
            self.filters.append("w.pub_year >= :year_from")
        if params.year_to is not None:
            self.binds["year_to"] = params.year_to
            self.filters.append("w.pub_year <= :year_to")

    @property
    def has_text(self) -> bool:
        return bool(self.any_terms or self.field_terms)

    @property
    def is_empty(self) -> bool:
        return not self.has_text and not self.filters

    def match(self, title_only: bool = False) -> str:
        """The full-text condition: FTS5 MATCH expression or PostgreSQL tsquery."""
        parts = []
        for term in self.any_terms:
            if self.pg:
                parts.append(search.tsquery_term(term, "A" if title_only else ""))
            else:
                parts.append(search.fts5_term(term, ["title"] if title_only else []))
        for name, term in self.field_terms:
            column, weight = _ADVANCED_FIELDS[name]
            if self.pg:
                parts.append(search.tsquery_term(term, weight))
            else:
                parts.append(search.fts5_term(term, [column]))
        return (" & " if self.pg else " AND ").join(parts)

    def text_source(self, title_only: bool = False) -> tuple[str, str]:
        """FROM clause and WHERE condition that restrict works to the text match."""
        key = "match_title" if title_only else "match"
        self.binds[key] = self.match(title_only)
        if self.pg:
            return (
                "work_search s JOIN work w ON w.id = s.work_id",
                f"s.tsv @@ CAST(:{key} AS tsquery)",
            )
        return "work_fts f JOIN work w ON w.id = f.rowid", f"work_fts MATCH :{key}"

    def fts5_ids(self) -> str:
        """SQLite: the first RANK_CAP text matches (FTS5 yields them in row id order, the
        same ones the join to `work` yields), straight from the index (no filters)."""
        self.binds["match"] = self.match()
        return "SELECT f.rowid AS id FROM work_fts f WHERE work_fts MATCH :match LIMIT :cap"

    def match_one_work(self) -> str:
        """The text match as a per-row check on `w` (cheap: a seek by id)."""
        self.binds["match"] = self.match()
        if self.pg:
            return (
                "EXISTS (SELECT 1 FROM work_search s WHERE s.work_id = w.id "
                "AND s.tsv @@ CAST(:match AS tsquery))"
            )
        return "EXISTS (SELECT 1 FROM work_fts WHERE work_fts MATCH :match AND rowid = w.id)"

    def where(self, *conditions: str) -> str:
        all_conditions = [c for c in conditions if c] + self.filters
        return " AND ".join(all_conditions) if all_conditions else "1=1"


# Work ids per query when a search is checked against given works (bind parameter limits).
_ID_BATCH = 5000


def works_matching(conn: Connection, params: SearchParams, work_ids: Collection[int]) -> set[int]:
    """Those of `work_ids` that the search `params` finds: the same text matching (romaji,
    異体字 and kana folds, ISBN and NDL numbers) and filters, without ranking. For searches
    saved by patrons (db.queries.alerts)."""
    plan = _Plan(conn, params)
    if plan.is_empty or not work_ids:
        return set()
    source, cond = plan.text_source() if plan.has_text else ("work w", "")
    sql = text(f"SELECT w.id FROM {source} WHERE {plan.where(cond, 'w.id IN :ids')}")
    sql = sql.bindparams(bindparam("ids", expanding=True))
    ids = sorted(work_ids)
    found: set[int] = set()
    for start in range(0, len(ids), _ID_BATCH):
        batch = ids[start : start + _ID_BATCH]
        found.update(r.id for r in conn.execute(sql, {**plan.binds, "ids": batch}))
    return found


def _candidates_sql(plan: _Plan, sort: str) -> str:
    """The candidate works: at most RANK_CAP text (or filter) matches, plus the exact and
    prefix matches of the title or its reading straight from the B-tree, so those rank
    first however many other works match."""
    parts = _candidate_parts(plan, sort)
    return " UNION ".join(f"SELECT id FROM ({p}) AS part{i}" for i, p in enumerate(parts))


def _candidate_parts(plan: _Plan, sort: str) -> list[str]:
    """The text (or filter) matches first, then the exact and prefix title matches."""
    if plan.has_text and not plan.filters and not plan.pg:
        # The index's row ids are work ids: without filters the text matches need no row
        # of `work` (the ranking reads each candidate's row once, later). PostgreSQL keeps
        # the join: without an order its first RANK_CAP matches follow the plan.
        parts = [plan.fts5_ids()]
    elif plan.has_text:
        source, cond = plan.text_source()
        parts = [f"SELECT w.id FROM {source} WHERE {plan.where(cond)} LIMIT :cap"]
    else:
        parts = [f"SELECT w.id FROM work w WHERE {plan.where()} LIMIT :cap"]
    if sort == "relevance" and plan.any_terms:
        cmp = ' COLLATE "C"' if plan.pg else ""
        plan.binds["joined"], plan.binds["joined_hi"] = plan.joined, plan.joined + "\U0010ffff"
        # A title starting with the whole query contains every term, unless there are
        # several terms or advanced fields: then the text match is checked per row.
        single = len(plan.any_terms) == 1 and not plan.field_terms
        check = "" if single else plan.match_one_work()
        for column in ("title_norm", "yomi_norm"):
            parts.append(
                f"SELECT w.id FROM work w WHERE w.{column}{cmp} >= :joined "
                f"AND w.{column}{cmp} < :joined_hi AND {plan.where(check)} LIMIT 200"
            )
    return parts


def _order_sql(plan: _Plan, sort: str) -> str:
    if sort == "title":
        return "w.sort_key, w.id"
    if sort == "year_desc":
        return "w.pub_year DESC NULLS LAST, w.sort_key, w.id"
    if sort == "year_asc":
        return "w.pub_year ASC NULLS LAST, w.sort_key, w.id"
    find = "strpos" if plan.pg else "instr"
    terms = plan.any_terms + [t for name, t in plan.field_terms if name == "title"]
    in_title = []
    for n, term in enumerate(terms):
        plan.binds[f"t{n}"] = term
        in_title.append(
            f"CASE WHEN {find}(w.title_norm, :t{n}) > 0 OR {find}(w.yomi_norm, :t{n}) > 0 "
            "THEN 1 ELSE 0 END"
        )
    keys = []
    if plan.any_terms:
        plan.binds["jlen"] = len(plan.joined)
        keys.append(
            "CASE WHEN w.title_norm = :joined OR w.yomi_norm = :joined THEN 0 "
            "WHEN substr(w.title_norm, 1, :jlen) = :joined "
            "OR substr(w.yomi_norm, 1, :jlen) = :joined THEN 1 ELSE 2 END"
        )
    if terms:  # whole words of the title or its reading before parts of words
        whole = []
        for n, term in enumerate(terms):
            plan.binds[f"tw{n}"] = search.query_words(term)
            whole.append(f"CASE WHEN {find}(w.title_words, :tw{n}) > 0 THEN 1 ELSE 0 END")
        keys.append("(" + " + ".join(whole) + ") DESC")
    if in_title:
        keys.append("(" + " + ".join(in_title) + ") DESC")
    # Then shorter titles (closer to what was typed), then the reading.
    return ", ".join([*keys, "length(w.title)", "w.sort_key", "w.id"])


def _ranked_page(
    conn: Connection, plan: _Plan, sort: str, page: int
) -> tuple[list[int], int, int, tuple[int, ...] | None]:
    """(ids on the page, number of candidates ranked, page actually shown, the text matches
    if there are at most FACET_MAX of them). The facets count over the text matches (not the
    prefix title matches added for ranking): the same query lists them when they are few, so
    the facets need no second full-text match (it cost as much as the ranking itself)."""
    first, *others = _candidate_parts(plan, sort)
    union = "".join(f" UNION SELECT id FROM ({p}) AS part{i}" for i, p in enumerate(others, 1))
    order = _order_sql(plan, sort)
    listed = "string_agg(CAST(id AS TEXT), ',')" if plan.pg else "group_concat(id)"
    # `matched` and `cand` are used twice, so both engines compute them once (materialised
    # CTEs). The count is a scalar over `cand`, not a window over the join: a window keeps
    # every candidate's sort keys before the top-20 sort (a third of the 1-character search).
    sql = text(
        f"WITH matched AS ({first}), cand AS (SELECT id FROM matched{union}) "
        "SELECT w.id, (SELECT count(*) FROM cand) AS n, "
        f"(SELECT CASE WHEN count(*) <= :facet_max THEN coalesce({listed}, '') END "
        "FROM matched) AS few "
        f"FROM cand JOIN work w ON w.id = cand.id ORDER BY {order} LIMIT :size OFFSET :skip"
    )
    binds = {
        **plan.binds,
        "cap": rules.RANK_CAP,
        "size": rules.PAGE_SIZE,
        "facet_max": rules.FACET_MAX,
    }
    rows = conn.execute(sql, {**binds, "skip": (page - 1) * rules.PAGE_SIZE}).all()
    if rows or page == 1:
        return [r.id for r in rows], (rows[0].n if rows else 0), page, _few(rows)
    # Past the last page: show the last one.
    cand = _candidates_sql(plan, sort)
    n = conn.execute(text(f"WITH cand AS ({cand}) SELECT count(*) FROM cand"), binds).scalar_one()
    last = max(1, math.ceil(n / rules.PAGE_SIZE))
    rows = conn.execute(sql, {**binds, "skip": (last - 1) * rules.PAGE_SIZE}).all()
    return [r.id for r in rows], n, last, _few(rows)


def _few(rows: Sequence[Any]) -> tuple[int, ...] | None:
    if not rows or rows[0].few is None:
        return None
    return tuple(int(i) for i in rows[0].few.split(",") if i)


# Copies that can serve a reservation: what db.queries.holds accepts (db.pulling.serves_holds
# and not missing).
_SERVES_HOLDS = "m.reservable AND m.loan_days > 0 AND i.status <> :missing"


def _hits(conn: Connection, ids: list[int]) -> tuple[SearchHit, ...]:
    """The page's works with their copy counts and material types: one grouped pass over the
    page's copies (three counting subqueries per hit cost a quarter of the search page's
    throughput), a row per work and material type, added up here."""
    if not ids:
        return ()
    works: dict[int, Any] = {}
    counts: dict[int, list[int]] = {}
    types: dict[int, list[tuple[int, str]]] = {}
    for r in conn.execute(
        text(
            "SELECT w.id, w.title, w.subtitle, w.authors, w.publisher, w.pub_year, w.ndc, "
            "c.material_type, c.copies, c.available, c.reservable FROM work w LEFT JOIN ("
            "SELECT i.work_id, i.material_type, count(*) AS copies, "
            "sum(CASE WHEN i.status = :available THEN 1 ELSE 0 END) AS available, "
            f"sum(CASE WHEN {_SERVES_HOLDS} THEN 1 ELSE 0 END) AS reservable "
            "FROM item i JOIN material_type m ON m.code = i.material_type "
            "WHERE i.work_id IN :ids GROUP BY i.work_id, i.material_type) c "
            "ON c.work_id = w.id WHERE w.id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": ids, "available": rules.AVAILABLE, "missing": rules.MISSING},
    ):
        works[r.id] = r
        total = counts.setdefault(r.id, [0, 0, 0])
        for n, value in enumerate((r.copies, r.available, r.reservable)):
            total[n] += int(value or 0)
        if r.material_type is not None:
            types.setdefault(r.id, []).append((-int(r.copies or 0), r.material_type))
    return tuple(
        SearchHit(
            id=w.id,
            title=w.title,
            subtitle=w.subtitle,
            authors=split_values(w.authors),
            publisher=w.publisher,
            pub_year=w.pub_year,
            ndc=w.ndc,
            copies=counts[i][0],
            available=counts[i][1],
            reservable=counts[i][2],
            material_types=tuple(code for _, code in sorted(types.get(i, []))),
        )
        for i in ids
        if (w := works.get(i)) is not None
    )


@replica_reads
def search_works(conn: Connection, now: datetime, params: SearchParams) -> SearchResult:
    sort = params.sort if params.sort in rules.SORTS else "relevance"
    plan = _Plan(conn, params)
    if plan.is_empty:
        return SearchResult(
            hits=(),
            total=0,
            total_is_lower_bound=False,
            page=1,
            page_count=0,
            ranked_within=None,
            notices=tuple(plan.notices),
        )
    key = (conn.engine.url, params) if not params.branch else None
    cached = search_cache.get(key) if key else None
    if cached is None:
        ids, ranked, page, few = _ranked_page(conn, plan, sort, max(1, params.page))
        # Exact below the cap. At the cap there are more matches than were ranked: say
        # "N or more" rather than spend a second scan counting them.
        total, lower_bound = ranked, ranked >= rules.RANK_CAP
        if key:
            search_cache.put(key, (ids, ranked, page, total, lower_bound, few))
    else:
        ids, ranked, page, total, lower_bound, few = cached
    page_count = math.ceil(min(total, ranked) / rules.PAGE_SIZE)
    start = (page - 1) * rules.PAGE_SIZE
    ranked_within = ranked if lower_bound else None
    return SearchResult(
        hits=_hits(conn, ids),
        total=total,
        total_is_lower_bound=lower_bound,
        page=page,
        page_count=page_count,
        ranked_within=ranked_within,
        notices=tuple(dict.fromkeys(plan.notices)),
        start=start + 1,
        facet_works=few,
    )


# The primary: its copy statuses are what patrons and staff just wrote (reserved → pulled,
# lent → on loan), shown beside get_title_status, which reads the primary too.
@reads
def get_record(conn: Connection, now: datetime, work_id: int) -> Record:
    w = conn.execute(text("SELECT * FROM work WHERE id = :id"), {"id": work_id}).first()
    if w is None:
        raise NotFound("work_not_found")
    copies = tuple(
        Copy(
            barcode=r.barcode,
            branch_code=r.code,
            branch_name=Localized.of(r.branch_names),
            call_number=r.call_number,
            shelf_location=r.shelf_location,
            shelf_name=Localized.of(r.shelf_names)
            if Localized.of(r.shelf_names).texts
            else Localized.of({"ja": r.shelf_location}),
            material_type=r.material_type,
            material_name=Localized.of(r.material_names),
            status=r.status,
            reservable=bool(r.reservable),
            serves_holds=bool(r.reservable) and r.loan_days > 0 and r.status != rules.MISSING,
        )
        for r in conn.execute(
            text(
                "SELECT it.barcode, b.code, b.names AS branch_names, it.call_number, "
                "it.shelf_location, it.material_type, m.names AS material_names, it.status, "
                "m.reservable, m.loan_days, s.names AS shelf_names FROM item it "
                "JOIN branch b ON b.id = it.branch_id "
                "JOIN material_type m ON m.code = it.material_type "
                "LEFT JOIN shelf_location s ON s.branch_id = it.branch_id "
                "AND s.code = it.shelf_location "
                "WHERE it.work_id = :id ORDER BY b.sort_order, it.barcode"
            ),
            {"id": work_id},
        )
    )
    return Record(
        id=w.id,
        source=w.source,
        source_id=w.source_id,
        title=w.title,
        title_yomi=w.title_yomi,
        title_romaji=w.title_romaji,
        subtitle=w.subtitle,
        responsibility=w.responsibility,
        authors=split_values(w.authors),
        authors_yomi=split_values(w.authors_yomi),
        publisher=w.publisher,
        pub_place=w.pub_place,
        pub_year=w.pub_year,
        edition=w.edition,
        extent=w.extent,
        series=w.series,
        ndc=split_values(w.ndc),
        subjects=split_values(w.subjects),
        isbn=split_values(w.isbn),
        language=w.language,
        notes=w.notes,
        source_url=w.source_url,
        copies=copies,
    )


def list_branches() -> tuple[Branch, ...]:
    return search_cache.code_table("branch", _branches)


def list_material_types() -> tuple[MaterialType, ...]:
    return search_cache.code_table("material_type", _material_types)


# Code tables from the primary: a console change clears the cache, and a lagging replica
# would put the old rows back into it until the next change.
@reads
def _branches(conn: Connection, now: datetime) -> tuple[Branch, ...]:
    return tuple(
        Branch(r.code, Localized.of(r.names))
        for r in conn.execute(text("SELECT code, names FROM branch ORDER BY sort_order"))
    )


@reads
def _material_types(conn: Connection, now: datetime) -> tuple[MaterialType, ...]:
    return tuple(
        MaterialType(r.code, Localized.of(r.names))
        for r in conn.execute(text("SELECT code, names FROM material_type ORDER BY code"))
    )
