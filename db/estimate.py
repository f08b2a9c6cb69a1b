"""The wait for a reservation as a date window ("12月10日〜12月17日ごろ").

One pure function, `estimate_window`, from the facts of the title right now: when each copy
that can serve reservations is expected to be free (the real due date of a copy on loan;
for a copy set aside for someone ahead, that patron's loan after the hold shelf), how many
active reservations are ahead (suspended, stepping-back and held-back ones are skipped by
the caller) with the loan period each of those readers will get (their loan rule, category ×
material type: db.series.window), and the hold-shelf and transit days. Nothing here is
stored: the window is derived each time the page is drawn.

The early end assumes everyone ahead collects the day the copy is ready and returns it on
its due date; the late end assumes everyone ahead collects on the last hold-shelf day and
the copy then travels to the pickup branch. Both return on the due date: early returns and
overdue loans are what "ごろ" means. Every date returned is a day a copy is expected; the
caller (db.series.window) moves each to the pickup branch's next open day (db.calendar).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

TRANSIT_DAYS = 2  # a copy between branches travels with the daily van: about two days


@dataclass(frozen=True)
class CopyFree:
    """When one copy is expected to be free for the next reservation: early and late."""

    early: date
    late: date


def estimate_window(
    today: date,
    copies: Sequence[CopyFree],
    ahead: int,
    loan_days: int,
    shelf_days: int,
    ahead_loan_days: Sequence[int] = (),
    transit_days: int = TRANSIT_DAYS,
) -> tuple[date, date] | None:
    """(first day, last day) the copy for this reservation is likely to be ready, or None
    when no copy can serve it. Each reservation ahead takes the copy that is free first,
    for its reader's loan period (`ahead_loan_days`, in queue order; `loan_days` for
    those not given)."""
    if not copies or loan_days <= 0:
        return None
    early = [max(c.early, today) for c in copies]
    late = [max(c.late, today) for c in copies]
    heapq.heapify(early)
    heapq.heapify(late)
    for n in range(max(ahead, 0)):
        days = ahead_loan_days[n] if n < len(ahead_loan_days) else loan_days
        heapq.heappush(early, heapq.heappop(early) + timedelta(days=days))
        turn = transit_days + shelf_days + days
        heapq.heappush(late, heapq.heappop(late) + timedelta(days=turn))
    first = early[0]
    last = max(late[0] + timedelta(days=transit_days), first)
    return first, last
