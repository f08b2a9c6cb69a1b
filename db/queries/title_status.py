"""What the record page says about a title's circulation, beyond its copies: the due date
(返却予定日) of each copy out and the number of reservations on the title.

Anonymous by construction: the loan rows are read for their due dates only, never for
who has the copy, and reservations are only counted. A separate read from
db.queries.catalog.get_record, so the search path stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from db import models
from db.engine import reads

__all__ = ["TitleStatus", "get_title_status"]

_T = models.Loan.metadata.tables
_loan = _T["loan"]
_item = _T["item"]
_hold = _T["hold"]


@dataclass(frozen=True)
class TitleStatus:
    work_id: int
    reservations: int  # active reservations on the title, every state
    due: dict[str, date] = field(default_factory=dict)  # barcode of a copy out → due date

    def due_on(self, barcode: str) -> date | None:
        return self.due.get(barcode)


@reads
def get_title_status(conn: Connection, now: datetime, work_id: int) -> TitleStatus:
    due = {
        r.barcode: r.due_on
        for r in conn.execute(
            select(_item.c.barcode, _loan.c.due_on)
            .select_from(_loan.join(_item, _item.c.id == _loan.c.item_id))
            .where(_item.c.work_id == work_id)
        )
    }
    reservations = conn.execute(
        select(func.count()).select_from(_hold).where(_hold.c.work_id == work_id)
    ).scalar_one()
    return TitleStatus(work_id, int(reservations), due)
