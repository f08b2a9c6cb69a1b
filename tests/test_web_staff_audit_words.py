"""The staff audit log in words: every action, screen and field code the db writes has its
words in web/labels.py in both languages, and /staff/audit shows no code raw."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from db import engine
from db.queries.audit import SCREENS
from tests import test_web_staff
from tests.test_web_staff import Console
from web import labels
from web.i18n import Catalogues
from web.staff import guard

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = {"allowed", "refused"}  # worded by the audit page's own macro


def _constants(tree: ast.Module) -> dict[str, str]:
    """A module's top-level string constants (`A = "a"`, `A, B = "a", "b"`)."""
    found: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = (
                zip(target.elts, node.value.elts, strict=False)
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                else [(target, node.value)]
            )
            for name, value in pairs:
                constant = isinstance(value, ast.Constant) and isinstance(value.value, str)
                if isinstance(name, ast.Name) and constant:
                    found[name.id] = value.value  # type: ignore[attr-defined]
    return found


def _callee(call: ast.Call) -> str:
    return str(getattr(call.func, "id", getattr(call.func, "attr", "")))


def _auditing(tree: ast.Module) -> set[str]:
    """write_audit, refuse, and the module's functions that call them (or each other)."""
    bodies = {
        f.name: {_callee(c) for c in ast.walk(f) if isinstance(c, ast.Call)}
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
    }
    found = {"write_audit", "refuse"}
    while grown := {name for name, callees in bodies.items() if callees & found} - found:
        found |= grown
    return found


def codes_the_db_writes() -> set[str]:
    """Every code constant handed, in a db module, to write_audit, refuse or a function of
    the module that calls them, or assigned to a variable named `action` or `screen` there;
    plus the screens and actions the web tier's refusals record."""
    staff = _constants(ast.parse((ROOT / "db" / "staff.py").read_text()))
    codes: set[str] = set()
    for path in sorted((ROOT / "db").rglob("*.py")):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        names = {getattr(c.func, "id", getattr(c.func, "attr", "")) for c in calls}
        if not names & {"write_audit", "refuse"}:
            continue
        mine = _constants(tree)
        auditing = _auditing(tree)
        chosen = [c for c in calls if _callee(c) in auditing]
        values: list[ast.AST] = [
            a for c in chosen for a in (*c.args, *(k.value for k in c.keywords))
        ]
        values += [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and any(getattr(t, "id", "") in ("action", "screen") for t in n.targets)
        ]
        for call in chosen:
            # Codes written as they are: the screen and action of write_audit (conn, actor,
            # patron, groups, …), and code-like strings handed to the module's wrappers.
            args = call.args[4:6] if _callee(call) == "write_audit" else call.args
            codes.update(
                a.value
                for a in args
                if isinstance(a, ast.Constant)
                and isinstance(a.value, str)
                and re.fullmatch(r"[a-z][a-z_.]*", a.value)
            )
        for value in values:
            for node in ast.walk(value):
                if isinstance(node, ast.Name) and node.id in mine:
                    codes.add(mine[node.id])
                elif isinstance(node, ast.Name) and node.id in staff:
                    codes.add(staff[node.id])
                elif (
                    isinstance(node, ast.Attribute)
                    and getattr(node.value, "id", "") == "staff"
                    and node.attr in staff
                ):
                    codes.add(staff[node.attr])
    for target, (screen, groups) in guard._ATTEMPTED.items():
        codes.update({target, screen, *groups})
    codes.update(SCREENS)
    return codes - OUTCOMES


def worded(lang: str, code: str) -> bool:
    tr = Catalogues(ROOT / "web" / "locale").translators[lang]
    return any(
        labels.label(tr, kind, code) != code
        for kind in ("audit_action", "audit_screen", "audit_field")
    )


def test_every_audit_code_the_db_writes_has_words_in_both_languages() -> None:
    codes = codes_the_db_writes()
    # The scan finds what it should (so it cannot pass by finding nothing).
    assert {"view", "account_end", "hold_place", "closure_add", "rule_edit"} <= codes
    assert {"mail_resend", "checkout_override", "patron_holds", "loan_rules", "search"} <= codes
    for lang in ("ja", "en"):
        missing = sorted(code for code in codes if not worded(lang, code))
        assert not missing, (lang, missing)


ROWS = [  # (screen, action, field groups) of every kind of row
    ("patron_lookup", "search", "name"),
    ("patron_record", "view", "name,contact,birth_date,loans"),
    ("patron_edit", "edit", "category,contact"),
    ("patron_holds", "hold_place", "holds"),
    ("patron_holds", "hold_cancel", "holds"),
    ("patron_holds", "hold_pickup", "holds"),
    ("patron_holds", "hold_suspend", "holds"),
    ("patron_holds", "hold_resume", "holds"),
    ("patron_holds", "patron.holds", "holds"),
    ("patron_record", "patron.view", "name,contact,birth_date,loans"),
    ("patron_edit", "patron.edit", "contact,category"),
    ("patron_lookup", "patron.lookup", "name"),
    ("counter", "checkout_override", "loans"),
    ("staff_accounts", "account_create", "role:staff"),
    ("staff_accounts", "account_edit", "name,affiliation,branch,role:temporary,duties,ends_on"),
    ("staff_accounts", "account_enrol_link", ""),
    ("staff_accounts", "account_end", ""),
    ("calendar", "calendar_week", "branch:sogo,closed_weekdays:0"),
    ("calendar", "closure_add", "branch:sogo,kind:new_year,2026-12-29..2027-01-03"),
    ("calendar", "closure_remove", "branch:sogo,kind:stocktaking,2027-02-01..2027-02-07"),
    ("loan_rules:general/book", "rule_edit", "loan_days,max_items,max_renewals,enforce"),
    ("mail_failures", "view", "contact"),
    ("mail_failures", "mail_resend", ""),
    ("mail_failures", "mail_dismiss", ""),
    ("branch/sogo", "code_edit", "code"),
]


def test_the_audit_page_shows_every_action_in_words(team: dict[str, Console]) -> None:
    at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    with engine.write() as conn:
        staff_id, branch_id = conn.execute(
            text("SELECT id, branch_id FROM staff_account WHERE staff_code = 'M001'")
        ).one()
        for screen, action, groups in ROWS:
            conn.execute(
                text(
                    "INSERT INTO staff_audit (at, staff_id, staff_code, branch_id, patron_id, "
                    "field_groups, screen, action, outcome) VALUES (:at, :s, 'M001', :b, NULL, "
                    ":g, :screen, :action, 'allowed')"
                ),
                {"at": at, "s": staff_id, "b": branch_id, "g": groups, "screen": screen,
                 "action": action},
            )  # fmt: skip
    for lang, words in (("en", "Loan rules (General, book)"), ("ja", "貸出条件（一般・book）")):
        page = team["manager"].speaking(lang).get("/staff/audit?staff_code=M001")
        body = page.text  # type: ignore[attr-defined]
        table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        assert words in table
        if lang == "en":  # the page's separator and branch names, not 「、」 and codes
            assert "、" not in table and "Branch: Central Civic Library" in table
            assert "Branch: sogo" not in table
            assert "Branch Central Civic Library" in table and "Branch sogo" not in table
    # In Japanese no code can hide inside the words: none is left raw.
    assert (
        "休館（年末年始）" in table
        and "権限：臨時職員" in table
        and "2026-12-29–2027-01-03" in table
    )
    codes = {code for row in ROWS for code in (row[0], row[1], *row[2].split(","))}
    raw = [
        code
        for code in codes - {""}
        if ".." not in code and re.search(rf"(?<![\w.:]){re.escape(code)}(?![\w.:/])", table)
    ]
    assert not raw, raw
