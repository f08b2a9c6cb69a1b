"""Loan rules per patron category × material type (table `loan_rule`, migration 0020).

A rule says, for patrons of one category (table patron_category) borrowing one material type:
the loan period in days (0: not lent), how many items of that type they may have out, how
many times a loan may be renewed, and whether the counter refuses ("block") or only warns
("warn") a checkout for a patron with overdue items or at a limit. Every patron also stays
within the library's total `rules.LOAN_LIMIT`, whatever the types.

Rows are kept by managers (db.queries.loan_rules). A material type or category without a
row — a new type before `ensure_rules` ran — gets the defaults: the type's `loan_days`, the
global limits, "block". `ensure_rules` (called by ensure_reference_data) adds the missing
rows with those defaults, so the screen always lists every pair.

Every function takes a `Connection` inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select
from sqlalchemy.engine import Connection

from db import models, rules

_T = models.TABLES
loan_rule = _T["loan_rule"]
_mtype = _T["material_type"]
_category = _T["patron_category"]

BLOCK = "block"
WARN = "warn"
ENFORCE = (BLOCK, WARN)

# What a manager may set (the screen says so next to each field).
MAX_LOAN_DAYS = 365
MAX_ITEMS = rules.LOAN_LIMIT  # a type never allows more than the library-wide total
MAX_RENEWALS = 20


@dataclass(frozen=True)
class LoanRule:
    category: str
    material_type: str
    loan_days: int
    max_items: int
    max_renewals: int
    enforce: str

    @property
    def warns(self) -> bool:
        return self.enforce == WARN


def joined(category: Any, material_type: Any) -> Any:
    """The rule row for a category and material type column, to outer-join."""
    return and_(loan_rule.c.category == category, loan_rule.c.material_type == material_type)


def loan_days_col() -> ColumnElement[int]:
    """The loan period of an outer-joined rule, else the material type's (joined as
    `material_type`)."""
    return func.coalesce(loan_rule.c.loan_days, _mtype.c.loan_days)


def max_renewals_col() -> ColumnElement[int]:
    return func.coalesce(loan_rule.c.max_renewals, literal(rules.RENEWAL_LIMIT))


def rule_for(conn: Connection, category: str, material_type: str) -> LoanRule:
    """The rule for this category and type (the defaults where no row exists)."""
    row = conn.execute(
        select(
            loan_days_col().label("loan_days"),
            func.coalesce(loan_rule.c.max_items, literal(rules.LOAN_LIMIT)).label("max_items"),
            max_renewals_col().label("max_renewals"),
            func.coalesce(loan_rule.c.enforce, literal(BLOCK)).label("enforce"),
        )
        .select_from(_mtype.outerjoin(loan_rule, joined(literal(category), _mtype.c.code)))
        .where(_mtype.c.code == material_type)
    ).one()
    return LoanRule(
        category,
        material_type,
        int(row.loan_days),
        int(row.max_items),
        int(row.max_renewals),
        str(row.enforce),
    )


def ensure_rules(conn: Connection) -> int:
    """Add a rule with the defaults for every category × material type that has none."""
    have = {
        (r.category, r.material_type)
        for r in conn.execute(select(loan_rule.c.category, loan_rule.c.material_type))
    }
    added = 0
    categories = conn.execute(select(_category.c.code)).scalars().all()
    for code, loan_days in conn.execute(select(_mtype.c.code, _mtype.c.loan_days)).all():
        for category in categories:
            if (category, code) in have:
                continue
            conn.execute(
                loan_rule.insert().values(
                    category=category,
                    material_type=code,
                    loan_days=loan_days,
                    max_items=rules.LOAN_LIMIT,
                    max_renewals=rules.RENEWAL_LIMIT,
                    enforce=BLOCK,
                )
            )
            added += 1
    return added
