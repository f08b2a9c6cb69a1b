"""My Library's first page (/my): what needs the patron's action first — reservations
ready for pickup (until when, where), loans due soon, overdue loans, reference answers they
have not been shown yet (db.reference) — then how many loans and reservations they have.

"Due soon" is the patron's due-date reminder setting (days before the due date) when they
chose one, else `DUE_SOON_DAYS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from db import circulation, models, reference
from db.circulation import LoanView
from db.clock import library_today
from db.engine import reads
from db.localized import Localized
from db.routing import IN_TRANSIT, READY

__all__ = ["DUE_SOON_DAYS", "AnsweredQuestion", "MySummary", "ReadyHold", "get_my_summary"]

DUE_SOON_DAYS = 3

_T = models.Hold.metadata.tables
_hold = _T["hold"]
_work = _T["work"]
_branch = _T["branch"]
_pref = _T["notice_preference"]


@dataclass(frozen=True)
class ReadyHold:
    work_id: int
    title: str
    pickup: Localized
    ready_until: date | None


@dataclass(frozen=True)
class AnsweredQuestion:
    """A reference question of the patron's with an answer they have not been shown."""

    id: int
    question: str


@dataclass(frozen=True)
class MySummary:
    ready: tuple[ReadyHold, ...]  # on the hold shelf, soonest deadline first
    overdue: tuple[LoanView, ...]
    due_soon: tuple[LoanView, ...]  # due within `due_soon_days`, not overdue
    due_soon_days: int
    loans: int
    reservations: int  # every active reservation, the ready ones included
    in_transit: int  # reservations whose copy is on its way to the pickup library
    answered: tuple[AnsweredQuestion, ...]  # reference answers not read yet, the latest first

    @property
    def needs_action(self) -> bool:
        return bool(self.ready or self.overdue or self.due_soon or self.answered)


@reads
def get_my_summary(conn: Connection, now: datetime, patron_id: int) -> MySummary:
    today = library_today(now)
    ready = tuple(
        ReadyHold(r.work_id, r.title, Localized.of(r.names), r.ready_until)
        for r in conn.execute(
            select(_hold.c.work_id, _hold.c.ready_until, _work.c.title, _branch.c.names)
            .select_from(
                _hold.join(_work, _work.c.id == _hold.c.work_id).join(
                    _branch, _branch.c.id == _hold.c.pickup_branch_id
                )
            )
            .where(_hold.c.patron_id == patron_id, _hold.c.state == READY)
            .order_by(_hold.c.ready_until, _hold.c.id)
        )
    )
    states: dict[str, int] = {
        r.state: int(r.n)
        for r in conn.execute(
            select(_hold.c.state, func.count().label("n"))
            .where(_hold.c.patron_id == patron_id)
            .group_by(_hold.c.state)
        )
    }
    chosen = conn.execute(
        select(_pref.c.due_reminder_days).where(_pref.c.patron_id == patron_id)
    ).scalar()
    days = int(chosen) if chosen else DUE_SOON_DAYS
    loans = circulation.list_loans(conn, patron_id, now)
    horizon = today + timedelta(days=days)
    return MySummary(
        ready=ready,
        overdue=tuple(v for v in loans if v.overdue),
        due_soon=tuple(v for v in loans if not v.overdue and v.due_on <= horizon),
        due_soon_days=days,
        loans=len(loans),
        reservations=sum(states.values()),
        in_transit=int(states.get(IN_TRANSIT, 0)),
        answered=tuple(
            AnsweredQuestion(i, q) for i, q in reference.unread_answers(conn, patron_id)
        ),
    )
