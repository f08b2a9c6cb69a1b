"""Notice settings (issue 16): per patron and kind of notice, mailed or not, titles or not.

Kinds (`KINDS`): `ready` (a reservation is ready for pickup), `due_soon` (the due-date
reminder; *when* it comes is notice_preference.due_reminder_days, `set_reminder_days`), `overdue`,
`reference_answer` and `new_arrivals` (the alerts digest). A kind a patron never chose has
no row and means the default: mailed (`email`), naming no title (`titles` False) — a mail
says "ご予約の資料が1点ご用意できました", not which one, unless the patron asked for titles.
Subjects never name a title whatever the setting (web/mail.py).

`email` False is 連絡不要: nothing is queued for that kind (the counter phones where the
library does that). Whether a patron has a usable address at all is not decided here.

Every function takes a `Connection` inside the caller's transaction; `mailed(kind, col)`
is a SQL condition for jobs that pick many patrons at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.engine import Connection

from db import models

READY = "ready"
DUE_SOON = "due_soon"
OVERDUE = "overdue"
REFERENCE_ANSWER = "reference_answer"
NEW_ARRIVALS = "new_arrivals"
KINDS = (READY, DUE_SOON, OVERDUE, REFERENCE_ANSWER, NEW_ARRIVALS)

REMINDER_DAYS = (1, 2, 3, 5, 7)  # the due-date reminder choices, in days

_setting = models.NoticeSetting.metadata.tables["notice_setting"]
_s = _setting.c
_preference = models.NoticeSetting.metadata.tables["notice_preference"]


@dataclass(frozen=True)
class NoticeSetting:
    kind: str
    email: bool = True  # False: 連絡不要
    titles: bool = False  # the mail may name the titles (never the subject)


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")


def settings_of(conn: Connection, patron_id: int) -> dict[str, NoticeSetting]:
    """Every kind's setting for the patron, defaults filled in, in `KINDS` order."""
    stored = {
        r.kind: NoticeSetting(r.kind, bool(r.email), bool(r.titles))
        for r in conn.execute(select(_s.kind, _s.email, _s.titles).where(_s.patron_id == patron_id))
    }
    return {kind: stored.get(kind, NoticeSetting(kind)) for kind in KINDS}


def setting_of(conn: Connection, patron_id: int, kind: str) -> NoticeSetting:
    _check(kind)
    row = conn.execute(
        select(_s.email, _s.titles).where(_s.patron_id == patron_id, _s.kind == kind)
    ).first()
    return NoticeSetting(kind) if row is None else NoticeSetting(kind, row.email, row.titles)


def set_setting(conn: Connection, patron_id: int, kind: str, *, email: bool, titles: bool) -> None:
    """Store the patron's choice for `kind` (the caller has checked the patron exists)."""
    _check(kind)
    values = {"email": email, "titles": titles}
    updated = conn.execute(
        _setting.update().where(_s.patron_id == patron_id, _s.kind == kind).values(**values)
    )
    if not updated.rowcount:
        conn.execute(_setting.insert().values(patron_id=patron_id, kind=kind, **values))


def set_reminder_days(conn: Connection, patron_id: int, days: int | None) -> None:
    """How many days before the due date the reminder comes (None: the library's default);
    the caller has checked the patron exists and `days` is one of `REMINDER_DAYS`."""
    values = {"due_reminder_days": days}
    updated = conn.execute(
        _preference.update().where(_preference.c.patron_id == patron_id).values(**values)
    )
    if not updated.rowcount:
        conn.execute(_preference.insert().values(patron_id=patron_id, **values))


def mailed(kind: str, patron_id: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL: the patron whose id is `patron_id` has not turned `kind` off."""
    _check(kind)
    return ~exists().where(_s.patron_id == patron_id, _s.kind == kind, _s.email.is_(False))


def titles_wanted(kind: str, patron_id: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL: the patron asked for titles in `kind` mail."""
    _check(kind)
    return exists().where(and_(_s.patron_id == patron_id, _s.kind == kind, _s.titles.is_(True)))
