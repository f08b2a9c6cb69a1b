"""The managers' screen of loan rules (db.loan_rules): every patron category × material
type with its loan period, item limit, renewals and counter behaviour; saving checks every
field and writes one audit row per rule changed (what changed, never a patron)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from db import codes, loan_rules, rules, staff
from db.engine import reads, writes
from db.errors import Refusal
from db.localized import Localized
from db.models import TABLES
from db.staff import StaffActor, StaffFormRefused

__all__ = [
    "LOAN_RULE_ENFORCE",
    "TOTAL_LOAN_LIMIT",
    "LoanRuleInput",
    "LoanRuleView",
    "list_loan_rules",
    "loan_rule_field",
    "save_loan_rules",
]

_rule = loan_rules.loan_rule
_mtype = TABLES["material_type"]

LOAN_RULE_ENFORCE = loan_rules.ENFORCE
TOTAL_LOAN_LIMIT = rules.LOAN_LIMIT  # items per patron, all types together
RULES_SCREEN = "loan_rules"
RULE_EDIT = "rule_edit"  # staff_audit action

# field → (smallest, largest) a manager may set
_BOUNDS = {
    "loan_days": (0, loan_rules.MAX_LOAN_DAYS),
    "max_items": (0, loan_rules.MAX_ITEMS),
    "max_renewals": (0, loan_rules.MAX_RENEWALS),
}


@dataclass(frozen=True)
class LoanRuleView:
    category: str
    material_type: str
    material: Localized
    loan_days: int
    max_items: int
    max_renewals: int
    enforce: str
    lendable: bool = True  # False: the material type is for use in the library only


@dataclass(frozen=True)
class LoanRuleInput:
    """One rule as typed: None for a number that could not be read (web/forms.whole_number)."""

    category: str
    material_type: str
    loan_days: int | None
    max_items: int | None
    max_renewals: int | None
    enforce: str


def loan_rule_field(category: str, material_type: str, name: str) -> str:
    """The form field (and error key) of one value of one rule."""
    return f"{category}.{material_type}.{name}"


def _views(conn: Connection) -> tuple[LoanRuleView, ...]:
    rows = conn.execute(
        select(_rule, _mtype.c.names, _mtype.c.loan_days.label("type_days")).select_from(
            _rule.join(_mtype, _mtype.c.code == _rule.c.material_type)
        )
    ).all()
    order = {c: n for n, c in enumerate(codes.category_codes(conn))}
    types = {mt.code: n for n, mt in enumerate(rules.MATERIAL_TYPES)}
    return tuple(
        LoanRuleView(
            r.category,
            r.material_type,
            Localized.of(r.names),
            r.loan_days,
            r.max_items,
            r.max_renewals,
            r.enforce,
            r.type_days > 0,
        )
        for r in sorted(
            rows,
            key=lambda r: (
                order.get(r.category, len(order)),
                r.category,
                types.get(r.material_type, len(types)),
                r.material_type,
            ),
        )
    )


@reads
def list_loan_rules(conn: Connection, now: datetime) -> tuple[LoanRuleView, ...]:
    """Every rule, by category (in db.rules order) then material type."""
    return _views(conn)


@writes
def save_loan_rules(
    conn: Connection, now: datetime, actor: StaffActor, changes: tuple[LoanRuleInput, ...]
) -> int:
    """Save the rules as typed; every field is checked first and nothing is saved if one is
    wrong (StaffFormRefused, by `loan_rule_field`). → rules changed (each audited)."""
    current = {(v.category, v.material_type): v for v in _views(conn)}
    errors: dict[str, Refusal] = {}
    for change in changes:
        key = (change.category, change.material_type)
        if key not in current:
            continue  # not a rule of this library (a stale or forged form): nothing to save
        for name, (low, high) in _BOUNDS.items():
            value = getattr(change, name)
            if value is None or not low <= value <= high:
                field = loan_rule_field(*key, name)
                errors[field] = Refusal.of("rule_number", min=low, max=high)
        if change.enforce not in loan_rules.ENFORCE:
            errors[loan_rule_field(*key, "enforce")] = Refusal("choose_option")
    if errors:
        raise StaffFormRefused(errors)
    changed = 0
    for change in changes:
        key = (change.category, change.material_type)
        if key not in current:
            continue
        before = current[key]
        values = {
            "loan_days": change.loan_days,
            "max_items": change.max_items,
            "max_renewals": change.max_renewals,
            "enforce": change.enforce,
        }
        fields = [name for name, value in values.items() if getattr(before, name) != value]
        if not fields:
            continue
        conn.execute(
            _rule.update()
            .where(_rule.c.category == key[0], _rule.c.material_type == key[1])
            .values(**values)
        )
        staff.write_audit(
            conn,
            actor,
            None,
            fields,
            f"{RULES_SCREEN}:{key[0]}/{key[1]}",
            RULE_EDIT,
            staff.ALLOWED,
            now,
        )
        changed += 1
    return changed
