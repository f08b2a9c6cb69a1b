"""Demo data: the copies the seeded statuses say are out get real borrowers.

`db.seed` rolls each copy's status (a quarter on loan, some in transit or on the hold shelf)
without the loans and reservations those statuses stand for, and every circulation rule
(estimates, pull lists, the record page's due dates) reads those rows. After the README's
demo patrons have their loans (db.circulation.give_demo_loans, which picks only copies on the
shelf, so its picks do not change) and the demo calendar exists (so these due dates fall on
open days), `lend_to_demo_borrowers` makes the demo consistent: each
copy marked out with no loan or reservation behind it is lent to one of a pool of fictional
borrowers (cards 29xxxxxxxx, at most BORROWER_LOANS each), lent 0–17 days ago for its
material type's period, so some are overdue and due dates spread over the coming weeks.

Demo only (never run in production: web.cli). Reproducible: the choices come from a
`random.Random` seeded with the copy's id.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from db import rules
from db.circulation import due_date_for
from db.clock import library_today
from db.models import TABLES
from db.patrons import NewPatron, register_patron

_item, _loan, _hold = TABLES["item"], TABLES["loan"], TABLES["hold"]
_mtype, _patron, _branch = TABLES["material_type"], TABLES["patron"], TABLES["branch"]

BORROWER_CARD_PREFIX = "29"
BORROWER_LOANS = 15  # below every loan limit, so a borrower's page stays plausible
_OUT = (rules.ON_LOAN, rules.IN_TRANSIT, rules.ON_HOLD_SHELF)

# Fictional names (none is a demo patron's family name, so staff searches stay readable).
_FAMILY = (
    ("佐々木", "ササキ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
)
_GIVEN = (
    ("一郎", "イチロウ"),
    ("陽子", "ヨウコ"),
    ("健", "ケン"),
    ("由美", "ユミ"),
    ("翔太", "ショウタ"),
    ("美穂", "ミホ"),
    ("大輔", "ダイスケ"),
    ("恵", "メグミ"),
)


def _borrower(number: int, branch: str) -> NewPatron:
    family, given = _FAMILY[number % len(_FAMILY)], _GIVEN[number // len(_FAMILY) % len(_GIVEN)]
    return NewPatron(
        card_number=f"{BORROWER_CARD_PREFIX}{number:08d}",
        name=f"{family[0]} {given[0]}",
        name_kana=f"{family[1]} {given[1]}",
        birth_date=date(1950 + number % 60, 1 + number % 12, 1 + number % 28),
        address="神奈川県藤沢市（デモ）",
        phone=f"0466-00-{number % 10000:04d}",
        email=None,
        category="general",
        home_branch=branch,
    )


def lend_to_demo_borrowers(conn: Connection, now: datetime) -> int:
    """Lend every copy marked out without a loan or reservation to a fictional borrower.
    Returns the loans made (0 when there is nothing to settle: idempotent)."""
    stray = conn.execute(
        select(_item.c.id, _item.c.branch_id, _mtype.c.loan_days)
        .select_from(_item.join(_mtype, _mtype.c.code == _item.c.material_type))
        .where(
            _item.c.status.in_(_OUT),
            ~select(_loan.c.id).where(_loan.c.item_id == _item.c.id).exists(),
            ~select(_hold.c.id).where(_hold.c.item_id == _item.c.id).exists(),
        )
        .order_by(_item.c.id)
    ).all()
    if not stray:
        return 0
    branches = [r.code for r in conn.execute(select(_branch.c.code).order_by(_branch.c.id))]
    taken = conn.execute(
        select(_patron.c.id).where(_patron.c.card_number.like(f"{BORROWER_CARD_PREFIX}%"))
    ).all()
    number, patron_id, lent = len(taken), 0, BORROWER_LOANS
    today = library_today(now)
    made = 0
    for copy in stray:
        if lent == BORROWER_LOANS:
            patron_id = register_patron(
                conn, _borrower(number, branches[number % len(branches)]), now, None
            )
            number, lent = number + 1, 0
        rng = random.Random(copy.id)  # noqa: S311 - demo data, not secrets
        days = max(int(copy.loan_days), 1)
        start = today - timedelta(days=rng.randint(0, days + 3))
        conn.execute(
            _loan.insert().values(
                patron_id=patron_id,
                item_id=copy.id,
                checked_out_at=now - timedelta(days=(today - start).days),
                due_on=due_date_for(conn, copy.branch_id, start, days),
                renewals=0,
            )
        )
        conn.execute(_item.update().where(_item.c.id == copy.id).values(status=rules.ON_LOAN))
        conn.execute(_patron.update().where(_patron.c.id == patron_id).values(last_loan_on=start))
        lent, made = lent + 1, made + 1
    return made
