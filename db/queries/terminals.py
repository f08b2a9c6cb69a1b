"""Library kiosks (館内OPAC端末): terminals a manager registers, enrols and revokes.

A manager registers a terminal (name, branch, where it stands, its floor guide) and gets a
one-time enrolment link: a random token, of which only the SHA-256 is stored, with an
expiry. Opening the link on the kiosk's browser and confirming uses it up (`enrol_terminal`)
and hands the browser a fresh random key (only its SHA-256 is stored); the web tier keeps
the terminal's id and key in a signed cookie, and every request asks `get_terminal_by_key`
whether the row still exists with that key and is not revoked. A new enrolment replaces
the key (the old browser is no kiosk any more); revoking deletes it. Every manager action
is audited (screen "terminals", no patron; the terminal's name is not personal).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from db import staff
from db.clock import aware_utc, naive_utc
from db.engine import reads, writes
from db.errors import NotFound, QueryError, Refusal
from db.localized import Localized
from db.models import TABLES
from db.sessions import digest
from db.staff import StaffActor, StaffFormRefused

__all__ = [
    "TERMINAL_LINK_HOURS",
    "TerminalEnrolled",
    "TerminalInfo",
    "TerminalInput",
    "TerminalLinkRefused",
    "TerminalView",
    "check_terminal_link",
    "create_terminal",
    "enrol_terminal",
    "get_terminal",
    "get_terminal_by_key",
    "list_terminals",
    "reissue_terminal_link",
    "revoke_terminal",
    "update_terminal",
]

_terminal = TABLES["terminal"]
_branch = TABLES["branch"]

TERMINAL_LINK_HOURS = 24
NAME_MAX, LOCATION_MAX, GUIDE_MAX = 100, 200, 2000
_TOKEN_MAX = 100

# staff_audit rows (no patron; field_groups name the terminal's changed fields)
SCREEN = "terminals"
CREATE, EDIT, LINK, REVOKE = (
    "terminal_create",
    "terminal_edit",
    "terminal_enrol_link",
    "terminal_revoke",
)

# The audit log's words for the columns a change touched (web/labels.py audit_field).
_AUDIT_FIELDS = {
    "name": "terminal_name",
    "branch_id": "branch",
    "location": "location",
    "floor_guide": "floor_guide",
}

# "児童書: 1階" / "一般開架：2階" — a floor guide line naming a shelf location's floor.
_FLOOR_LINE = re.compile(r"^\s*(?P<location>[^:：]+?)\s*[:：]\s*(?P<floor>.+?)\s*$")


class TerminalLinkRefused(QueryError):
    """An enrolment link that is unknown, used or expired."""

    code = "terminal_link_refused"


@dataclass(frozen=True)
class TerminalInput:
    name: str
    branch_code: str
    location: str
    floor_guide: str


@dataclass(frozen=True)
class TerminalView:
    """A terminal on the manager's screen."""

    id: int
    name: str
    branch_code: str
    branch: Localized
    location: str
    floor_guide: str
    created_at: datetime
    enrolled_at: datetime | None
    revoked_at: datetime | None
    link_pending: bool  # an enrolment link was issued and is neither used nor expired

    @property
    def state(self) -> str:
        """enrolled, revoked or waiting (registered, not enrolled yet)."""
        if self.revoked_at is not None:
            return "revoked"
        return "enrolled" if self.enrolled_at is not None else "waiting"


@dataclass(frozen=True)
class TerminalInfo:
    """What a kiosk's pages need to know about their terminal."""

    id: int
    name: str
    branch_code: str
    branch: Localized
    location: str
    floor_guide: str

    def floor_of(self, shelf_location: str) -> str:
        """The floor the guide names for a shelf location ("" when it names none)."""
        wanted = shelf_location.strip()
        for line in self.floor_guide.splitlines():
            found = _FLOOR_LINE.match(line)
            if found and wanted and found["location"] == wanted:
                return found["floor"]
        return ""


@dataclass(frozen=True)
class TerminalEnrolled:
    """The browser's new credentials: the terminal's id and its key (cookie only)."""

    terminal_id: int
    key: str


def _validate(conn: Connection, data: TerminalInput) -> tuple[dict[str, Refusal], int]:
    errors: dict[str, Refusal] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = Refusal("terminal_name_required")
    elif len(name) > NAME_MAX:
        errors["name"] = Refusal.of("name_too_long", max=NAME_MAX)
    if len(data.location.strip()) > LOCATION_MAX:
        errors["location"] = Refusal.of("name_too_long", max=LOCATION_MAX)
    if len(data.floor_guide.strip()) > GUIDE_MAX:
        errors["floor_guide"] = Refusal.of("name_too_long", max=GUIDE_MAX)
    branch_id = conn.execute(
        select(_branch.c.id).where(_branch.c.code == data.branch_code)
    ).scalar_one_or_none()
    if branch_id is None:
        errors["branch"] = Refusal("choose_branch")
    return errors, int(branch_id or 0)


def _values(data: TerminalInput, branch_id: int) -> dict[str, Any]:
    # Line ends as typed in a browser (CRLF) become plain newlines.
    guide = "\n".join(line.rstrip() for line in data.floor_guide.strip().splitlines())
    return {
        "name": data.name.strip(),
        "branch_id": branch_id,
        "location": data.location.strip(),
        "floor_guide": guide,
    }


def _new_link(conn: Connection, terminal_id: int, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        _terminal.update()
        .where(_terminal.c.id == terminal_id)
        .values(
            enrol_hash=digest(token),
            enrol_expires_at=aware_utc(now) + timedelta(hours=TERMINAL_LINK_HOURS),
        )
    )
    return token


def _audit(
    conn: Connection, now: datetime, actor: StaffActor, action: str, changed: list[str]
) -> None:
    staff.write_audit(conn, actor, None, changed, SCREEN, action, staff.ALLOWED, now)


@writes
def create_terminal(
    conn: Connection, now: datetime, actor: StaffActor, data: TerminalInput
) -> tuple[int, str]:
    """A new terminal and its one-time enrolment link token: (terminal id, token)."""
    errors, branch_id = _validate(conn, data)
    if errors:
        raise StaffFormRefused(errors)
    terminal_id = int(
        conn.execute(
            _terminal.insert()
            .values(created_at=aware_utc(now), **_values(data, branch_id))
            .returning(_terminal.c.id)
        ).scalar_one()
    )
    _audit(conn, now, actor, CREATE, [f"terminal:{terminal_id}", f"branch:{data.branch_code}"])
    return terminal_id, _new_link(conn, terminal_id, now)


@writes
def update_terminal(
    conn: Connection, now: datetime, actor: StaffActor, terminal_id: int, data: TerminalInput
) -> None:
    row = _row(conn, terminal_id, lock=True)
    errors, branch_id = _validate(conn, data)
    if errors:
        raise StaffFormRefused(errors)
    values = _values(data, branch_id)
    changed = [_AUDIT_FIELDS[n] for n, value in values.items() if getattr(row, n) != value]
    if not changed:
        return
    conn.execute(_terminal.update().where(_terminal.c.id == terminal_id).values(**values))
    _audit(conn, now, actor, EDIT, [f"terminal:{terminal_id}", *changed])


@writes
def reissue_terminal_link(
    conn: Connection, now: datetime, actor: StaffActor, terminal_id: int
) -> str:
    """A new one-time link (the previous unused one stops working); the browser that uses
    it becomes the terminal, and the one enrolled before stops being it then."""
    _row(conn, terminal_id, lock=True)
    _audit(conn, now, actor, LINK, [f"terminal:{terminal_id}"])
    return _new_link(conn, terminal_id, now)


@writes
def revoke_terminal(conn: Connection, now: datetime, actor: StaffActor, terminal_id: int) -> None:
    """The terminal's browser is an ordinary browser again from its next request; a
    pending enrolment link stops working too."""
    _row(conn, terminal_id, lock=True)
    conn.execute(
        _terminal.update()
        .where(_terminal.c.id == terminal_id)
        .values(key_hash=None, enrol_hash=None, enrol_expires_at=None, revoked_at=aware_utc(now))
    )
    _audit(conn, now, actor, REVOKE, [f"terminal:{terminal_id}"])


def _link_row(conn: Connection, token: str, now: datetime) -> Row[Any]:
    if not token or len(token) > _TOKEN_MAX:
        raise TerminalLinkRefused()
    row = conn.execute(select(_terminal).where(_terminal.c.enrol_hash == digest(token))).first()
    if (
        row is None
        or row.enrol_expires_at is None
        or naive_utc(row.enrol_expires_at) <= naive_utc(now)
    ):
        raise TerminalLinkRefused()
    return row


@reads
def check_terminal_link(conn: Connection, now: datetime, token: str) -> TerminalView:
    """The terminal an enrolment link would enrol; TerminalLinkRefused otherwise."""
    return _view(conn, _link_row(conn, token, now), now)


@writes
def enrol_terminal(conn: Connection, now: datetime, token: str) -> TerminalEnrolled:
    """Use up the link: the terminal gets a new key (returned once) and is not revoked."""
    row = _link_row(conn, token, now)
    key = secrets.token_urlsafe(32)
    used = conn.execute(
        _terminal.update()
        .where(_terminal.c.id == row.id, _terminal.c.enrol_hash == digest(token))
        .values(
            enrol_hash=None,
            enrol_expires_at=None,
            key_hash=digest(key),
            enrolled_at=aware_utc(now),
            revoked_at=None,
        )
    ).rowcount
    if used != 1:  # another request used it first
        raise TerminalLinkRefused()
    return TerminalEnrolled(int(row.id), key)


@reads
def get_terminal_by_key(
    conn: Connection, now: datetime, terminal_id: int, key: str
) -> TerminalInfo | None:
    """The enrolled, unrevoked terminal whose key this is; None otherwise."""
    if not key or len(key) > _TOKEN_MAX:
        return None
    row = conn.execute(
        select(_terminal, _branch.c.code.label("branch_code"), _branch.c.names)
        .join(_branch, _branch.c.id == _terminal.c.branch_id)
        .where(_terminal.c.id == terminal_id)
    ).first()
    if row is None or row.key_hash is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, digest(key)):
        return None
    return TerminalInfo(
        row.id, row.name, row.branch_code, Localized.of(row.names), row.location, row.floor_guide
    )


def _row(conn: Connection, terminal_id: int, lock: bool = False) -> Row[Any]:
    stmt = select(_terminal).where(_terminal.c.id == terminal_id)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound("terminal_not_found")
    return row


def _view(conn: Connection, row: Row[Any], now: datetime) -> TerminalView:
    branch = conn.execute(
        select(_branch.c.code, _branch.c.names).where(_branch.c.id == row.branch_id)
    ).one()
    pending = row.enrol_expires_at is not None and naive_utc(row.enrol_expires_at) > naive_utc(now)
    return TerminalView(
        id=row.id,
        name=row.name,
        branch_code=branch.code,
        branch=Localized.of(branch.names),
        location=row.location,
        floor_guide=row.floor_guide,
        created_at=row.created_at,
        enrolled_at=row.enrolled_at,
        revoked_at=row.revoked_at,
        link_pending=pending,
    )


@reads
def list_terminals(conn: Connection, now: datetime) -> tuple[TerminalView, ...]:
    rows = conn.execute(select(_terminal).order_by(_terminal.c.id)).all()
    return tuple(_view(conn, row, now) for row in rows)


@reads
def get_terminal(conn: Connection, now: datetime, terminal_id: int) -> TerminalView:
    return _view(conn, _row(conn, terminal_id), now)
