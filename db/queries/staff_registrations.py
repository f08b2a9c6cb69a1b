"""What the counter does to make someone a patron: activation codes for a patron's web
password (from the patron record), and — with the applications of db.queries.registration —
confirming, correcting or rejecting an online application, or registering a walk-in patron.

Every function takes the `StaffActor` first, checks the policy (db/data/staff_policy.json)
itself as well as the web guard does, and writes its `staff_audit` row in the same
transaction (never the values). Card numbers come from db.card_numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from db import activation_codes
from db.clock import aware_utc
from db.engine import writes
from db.errors import NotFound
from db.models import TABLES
from db.staff import ALLOWED, REFUSED, StaffActor, StaffRefused, write_audit
from db.staff_policy import policy

__all__ = [
    "ISSUE_CODE",
    "CodeSlip",
    "issue_patron_code",
]

# staff_audit action for a code handed over at the counter (screen "patron_code").
ISSUE_CODE = "issue_code"

_patron = TABLES["patron"]


@dataclass(frozen=True)
class CodeSlip:
    """What the printed slip carries: the card, the code (shown once) and its expiry."""

    patron_id: int
    card_number: str
    code: str
    expires_at: datetime  # aware UTC


def _require(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    action: str,
    screen: str,
    patron_id: int | None,
    groups: tuple[str, ...],
) -> None:
    if not policy().may(actor.role, actor.duties, action):
        write_audit(conn, actor, patron_id, groups, screen, action[:20], REFUSED, now)
        raise StaffRefused()


@writes
def issue_patron_code(
    conn: Connection, now: datetime, actor: StaffActor, patron_id: int
) -> CodeSlip:
    """A new single-use activation code for the patron (replacing any earlier one), for the
    counter to print and hand over. Audited (screen patron_code)."""
    card = conn.execute(
        select(_patron.c.card_number).where(_patron.c.id == patron_id)
    ).scalar_one_or_none()
    if card is None:
        raise NotFound("patron_not_found")
    _require(conn, now, actor, "patron.code", "patron_code", patron_id, ("card",))
    code, expires = activation_codes.issue(conn, patron_id, now)
    write_audit(conn, actor, patron_id, ["card"], "patron_code", ISSUE_CODE, ALLOWED, now)
    return CodeSlip(patron_id, card, code, aware_utc(expires))
