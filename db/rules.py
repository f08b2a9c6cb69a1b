"""Business vocabulary: item statuses, material types, branches, search limits."""

from __future__ import annotations

from dataclasses import dataclass

# Item statuses. "available" is the only one a patron can take from the shelf.
AVAILABLE = "available"
ON_LOAN = "on_loan"
IN_TRANSIT = "in_transit"
ON_HOLD_SHELF = "on_hold_shelf"
IN_PROCESS = "in_process"
MISSING = "missing"
ITEM_STATUSES = (AVAILABLE, ON_LOAN, IN_TRANSIT, ON_HOLD_SHELF, IN_PROCESS, MISSING)

STATUS_LABELS = {
    AVAILABLE: ("在架", "On shelf"),
    ON_LOAN: ("貸出中", "On loan"),
    IN_TRANSIT: ("回送中", "In transit"),
    ON_HOLD_SHELF: ("予約棚", "On hold shelf"),
    IN_PROCESS: ("整理中", "Being processed"),
    MISSING: ("不明", "Missing"),
}


@dataclass(frozen=True)
class MaterialTypeRule:
    code: str
    name_ja: str
    name_en: str
    loan_days: int
    reservable: bool


MATERIAL_TYPES = (
    MaterialTypeRule("book", "図書", "Book", 14, True),
    MaterialTypeRule("children", "児童書", "Children's book", 14, True),
    MaterialTypeRule("bunko", "文庫", "Paperback (bunko)", 14, True),
    MaterialTypeRule("reference", "参考図書（館内のみ）", "Reference (in library only)", 0, False),
    MaterialTypeRule("av", "視聴覚資料", "Audio-visual", 7, True),
)


@dataclass(frozen=True)
class BranchSpec:
    code: str
    name_ja: str
    name_en: str


# Fujisawa's four branches; SHIORI_BRANCHES replaces them (see README).
DEFAULT_BRANCHES = (
    BranchSpec("sogo", "総合市民図書館", "Central Civic Library"),
    BranchSpec("minami", "南市民図書館", "Minami Civic Library"),
    BranchSpec("tsujido", "辻堂市民図書館", "Tsujido Civic Library"),
    BranchSpec("shonan-oba", "湘南大庭市民図書館", "Shonan-Oba Civic Library"),
)

# Search bounds: results are counted exactly up to COUNT_CAP and ranked among at most
# RANK_CAP candidates, so a one-character query over a million works stays fast.
PAGE_SIZE = 20
MAX_PAGE = 100  # RANK_CAP / PAGE_SIZE
COUNT_CAP = 5000
RANK_CAP = 2000
SORTS = ("relevance", "title", "year_desc", "year_asc")
NDC_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "K")
