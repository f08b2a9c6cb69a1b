"""Staff accounts: personal accounts only (seed 001), managed by a manager; enrolment links
and the staff member's own password.

The first manager comes from the CLI; later accounts from a manager. A new account has no
password: its holder opens a one-time enrolment link (a random token; only its SHA-256 is
stored, with an expiry), sets a password, then enrols the second factor
(db.queries.second_factor). Reissuing the link resets the account the same way, so a lost
phone or a forgotten password is fixed alike.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Row

from db import clock, passwords, sessions, staff, staff_policy, throttle
from db.clock import aware_utc, library_today, naive_utc
from db.engine import reads, writes
from db.errors import NotFound, QueryError, Refusal, TooManyAttempts
from db.localized import Localized
from db.models import TABLES
from db.sessions import Timeouts, digest
from db.staff import STAFF_LOGIN_CODE, StaffActor, StaffFormRefused, StaffLogin

__all__ = [
    "EnrolLinkRefused",
    "StaffFormRefused",
    "StaffInput",
    "StaffView",
    "change_staff_password",
    "check_staff_enrol_link",
    "create_first_manager",
    "create_staff_account",
    "end_staff_account",
    "enrol_staff",
    "get_staff_account",
    "list_staff_accounts",
    "reissue_staff_enrol_link",
    "staff_policy_data",
    "update_staff_account",
]

_account = TABLES["staff_account"]

STAFF_ENROL = throttle.Limit("staff:enrol", 20, throttle.HOUR, throttle.MINUTE, throttle.HOUR)


class EnrolLinkRefused(QueryError):
    code = "enrol_link_refused"


@dataclass(frozen=True)
class StaffView:
    id: int
    staff_code: str
    name: str
    affiliation: str
    branch_code: str
    branch: Localized
    role: str
    duties: tuple[str, ...]
    registered_on: date
    ends_on: date | None
    ended: bool
    enrolled: bool  # password and second factor set up


@dataclass(frozen=True)
class StaffInput:
    staff_code: str
    name: str
    affiliation: str
    branch_code: str
    role: str
    duties: tuple[str, ...]
    ends_on: date | None


def staff_policy_data() -> staff_policy.Policy:
    """The role × action × field-group policy (db/data/staff_policy.json)."""
    return staff_policy.policy()


# Enrolment links and passwords ------------------------------------------------------------


def _issue_enrol(conn: Connection, staff_id: int, now: datetime) -> str:
    """A fresh one-time link token; the account's password, authenticator, recovery codes
    and sessions are reset, so a lost phone or a forgotten password is fixed the same way."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        _account.update()
        .where(_account.c.id == staff_id)
        .values(
            enrol_hash=digest(token),
            enrol_expires_at=aware_utc(now) + timedelta(hours=staff.setting("enrol_link_hours")),
            password_hash=None,
            password_set_at=None,
            totp_secret=None,
            totp_confirmed=False,
            totp_last_step=0,
        )
    )
    conn.execute(text("DELETE FROM staff_recovery_code WHERE staff_id = :s"), {"s": staff_id})
    sessions.end_all(conn, sessions.STAFF, staff_id)
    return token


def _enrol_row(conn: Connection, token: str, now: datetime) -> Row[Any]:
    if not token or len(token) > 100:
        raise EnrolLinkRefused()
    row = conn.execute(select(_account).where(_account.c.enrol_hash == digest(token))).first()
    if (
        row is None
        or row.enrol_expires_at is None
        or naive_utc(row.enrol_expires_at) <= naive_utc(now)
        or staff.ended(row, library_today(now))
    ):
        raise EnrolLinkRefused()
    return row


@writes
def _reserve(conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]]) -> None:
    throttle.reserve(conn, checks, now)


def check_staff_enrol_link(token: str, address: str) -> str:
    """The staff ID an enrolment link belongs to; EnrolLinkRefused otherwise."""
    try:
        _reserve([(STAFF_ENROL, address)])
    except throttle.Throttled:
        raise EnrolLinkRefused() from None
    return str(_enrol_account(token).staff_code)


@reads
def _enrol_account(conn: Connection, now: datetime, token: str) -> Row[Any]:
    return _enrol_row(conn, token, now)


def enrol_staff(token: str, new_password: str, timeouts: Timeouts) -> StaffLogin:
    """Set the first password through the link (used up) and start a session that must
    still enrol the authenticator."""
    row = _enrol_account(token)
    staff.check_password(new_password, row.staff_code)
    return _enrol(token, row.id, passwords.hash_password(new_password), timeouts)


@writes
def _enrol(
    conn: Connection, now: datetime, token: str, staff_id: int, hashed: str, timeouts: Timeouts
) -> StaffLogin:
    used = conn.execute(
        _account.update()
        .where(_account.c.id == staff_id, _account.c.enrol_hash == digest(token))
        .values(
            enrol_hash=None,
            enrol_expires_at=None,
            password_hash=hashed,
            password_set_at=aware_utc(now),
        )
    ).rowcount
    if used != 1:
        raise EnrolLinkRefused()
    conn.execute(
        TABLES["staff_password_history"]
        .insert()
        .values(staff_id=staff_id, password_hash=hashed, set_at=aware_utc(now))
    )
    return staff.create_session(conn, staff_id, now, timeouts, second_factor=False)


@writes
def _reserve_change(
    conn: Connection, now: datetime, checks: list[tuple[throttle.Limit, str]], staff_id: int
) -> tuple[Row[Any], list[str]]:
    """The attempt counted; the account and its recent password hashes."""
    try:
        throttle.reserve(conn, checks, now)
    except throttle.Throttled:
        raise TooManyAttempts() from None
    row = conn.execute(select(_account).where(_account.c.id == staff_id)).one()
    history = [
        h.password_hash
        for h in conn.execute(
            text(
                "SELECT password_hash FROM staff_password_history WHERE staff_id = :s "
                "ORDER BY set_at DESC, id DESC"
            ),
            {"s": staff_id},
        ).fetchmany(staff.setting("password_history"))
    ]
    return row, history


def change_staff_password(staff_id: int, current: str, new_password: str, token: str) -> None:
    """The staff member's own change: current password, minimum interval, no reuse of the
    last `password_history` passwords; other sessions of the account end."""
    checks = [(STAFF_LOGIN_CODE, f"change:{staff_id}")]
    row, history = _reserve_change(checks, staff_id)
    now = clock.now()
    if not passwords.verify(row.password_hash, current):
        raise StaffFormRefused({"current_password": Refusal("wrong_current_password")})
    min_days = staff.setting("password_min_days_between_changes")
    if row.password_set_at is not None and aware_utc(row.password_set_at) + timedelta(
        days=min_days
    ) > aware_utc(now):
        raise StaffFormRefused(
            {"new_password": Refusal.of("password_change_too_soon", days=min_days)}
        )
    try:
        staff.check_password(new_password, row.staff_code)
    except passwords.PasswordRejected as rejected:
        raise StaffFormRefused({"new_password": rejected.refusal}) from None
    if any(passwords.verify(old, new_password) for old in history):
        raise StaffFormRefused({"new_password": Refusal("password_reused")})
    _store_changed_password(checks, staff_id, passwords.hash_password(new_password), token)


@writes
def _store_changed_password(
    conn: Connection,
    now: datetime,
    checks: list[tuple[throttle.Limit, str]],
    staff_id: int,
    hashed: str,
    token: str,
) -> None:
    throttle.succeeded(conn, checks)
    conn.execute(
        _account.update()
        .where(_account.c.id == staff_id)
        .values(password_hash=hashed, password_set_at=aware_utc(now))
    )
    conn.execute(
        TABLES["staff_password_history"]
        .insert()
        .values(staff_id=staff_id, password_hash=hashed, set_at=aware_utc(now))
    )
    sessions.end_all(conn, sessions.STAFF, staff_id, token)


# Managing accounts ------------------------------------------------------------------------

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,19}")


def _validate(conn: Connection, data: StaffInput, today: date) -> tuple[dict[str, Refusal], int]:
    errors: dict[str, Refusal] = {}
    if not _CODE.fullmatch(data.staff_code):
        errors["staff_code"] = Refusal("staff_code_format")
    if not data.name.strip() or len(data.name) > 100:
        errors["name"] = Refusal("staff_name_format")
    if len(data.affiliation) > 100:
        errors["affiliation"] = Refusal("affiliation_too_long")
    if data.role not in staff_policy.policy().roles:
        errors["role"] = Refusal("choose_role")
    unknown = [d for d in data.duties if d not in staff_policy.policy().duties]
    if unknown:
        errors["duties"] = Refusal("unknown_duty")
    elif (
        data.duties
        and data.role in staff_policy.policy().roles
        and not staff_policy.policy().roles[data.role].takes_duties
    ):
        errors["duties"] = Refusal("duties_for_temporary_only")
    if data.ends_on is not None and data.ends_on < today:
        errors["ends_on"] = Refusal("ends_on_past")
    branch_id = conn.execute(
        text("SELECT id FROM branch WHERE code = :c"), {"c": data.branch_code}
    ).scalar_one_or_none()
    if branch_id is None:
        errors["branch"] = Refusal("choose_branch")
    return errors, int(branch_id or 0)


def _create(conn: Connection, data: StaffInput, now: datetime) -> tuple[int, str]:
    """A new account (no password yet) and its one-time enrolment token."""
    today = library_today(now)
    errors, branch_id = _validate(conn, data, today)
    if not errors:
        taken = conn.execute(
            select(_account.c.id).where(_account.c.staff_code == data.staff_code)
        ).first()
        if taken is not None:
            errors["staff_code"] = Refusal("staff_code_taken")
    if errors:
        raise StaffFormRefused(errors)
    staff_id = int(
        conn.execute(
            _account.insert()
            .values(
                staff_code=data.staff_code,
                name=data.name.strip(),
                affiliation=data.affiliation.strip(),
                branch_id=branch_id,
                role=data.role,
                duties=",".join(data.duties),
                registered_on=today,
                ends_on=data.ends_on,
                totp_confirmed=False,
                totp_last_step=0,
            )
            .returning(_account.c.id)
        ).scalar_one()
    )
    return staff_id, _issue_enrol(conn, staff_id, now)


@writes
def create_first_manager(conn: Connection, now: datetime, data: StaffInput) -> str:
    """A manager account (CLI only); returns the one-time enrolment token."""
    return _create(conn, data, now)[1]


def _audit_account(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    action: str,
    target_code: str,
    changed: list[str] | tuple[str, ...] = (),
) -> None:
    """A manager's action on a staff account, in the audit log (changed fields, no values
    but the new role)."""
    staff.write_audit(
        conn, actor, None, changed, staff.ACCOUNTS, action, staff.ALLOWED, now, target_code
    )


@writes
def create_staff_account(
    conn: Connection, now: datetime, actor: StaffActor, data: StaffInput
) -> tuple[int, str]:
    """(new staff id, one-time enrolment token)."""
    made = _create(conn, data, now)
    _audit_account(conn, now, actor, staff.ACCOUNT_CREATE, data.staff_code, [f"role:{data.role}"])
    return made


@writes
def update_staff_account(
    conn: Connection, now: datetime, actor: StaffActor, staff_id: int, data: StaffInput
) -> None:
    row = conn.execute(select(_account).where(_account.c.id == staff_id).with_for_update()).first()
    if row is None:
        raise NotFound("staff_not_found")
    today = library_today(now)
    data = StaffInput(
        row.staff_code,
        *(
            getattr(data, f)
            for f in ("name", "affiliation", "branch_code", "role", "duties", "ends_on")
        ),
    )
    errors, branch_id = _validate(conn, data, today)
    if staff_id == actor.staff_id and data.role != row.role:
        errors["role"] = Refusal("own_role")
    if errors:
        raise StaffFormRefused(errors)
    conn.execute(
        _account.update()
        .where(_account.c.id == staff_id)
        .values(
            name=data.name.strip(),
            affiliation=data.affiliation.strip(),
            branch_id=branch_id,
            role=data.role,
            duties=",".join(data.duties),
            ends_on=data.ends_on,
        )
    )
    if data.role != row.role:  # new rights take a new login
        sessions.end_all(conn, sessions.STAFF, staff_id)
    before = (row.name, row.affiliation, row.branch_id, row.role, row.duties, row.ends_on)
    after = (
        data.name.strip(),
        data.affiliation.strip(),
        branch_id,
        data.role,
        ",".join(data.duties),
        data.ends_on,
    )
    names = ("name", "affiliation", "branch", f"role:{data.role}", "duties", "ends_on")
    changed = [n for n, old, new in zip(names, before, after, strict=True) if old != new]
    if changed:
        _audit_account(conn, now, actor, staff.ACCOUNT_EDIT, row.staff_code, changed)


@writes
def end_staff_account(conn: Connection, now: datetime, actor: StaffActor, staff_id: int) -> None:
    """End an account at once: its end date becomes yesterday and its sessions end."""
    if staff_id == actor.staff_id:
        raise QueryError("own_account_end")
    yesterday = library_today(now) - timedelta(days=1)
    code = conn.execute(
        _account.update()
        .where(_account.c.id == staff_id)
        .values(ends_on=yesterday)
        .returning(_account.c.staff_code)
    ).scalar_one_or_none()
    if code is None:
        raise NotFound("staff_not_found")
    sessions.end_all(conn, sessions.STAFF, staff_id)
    _audit_account(conn, now, actor, staff.ACCOUNT_END, code)


@writes
def reissue_staff_enrol_link(
    conn: Connection, now: datetime, actor: StaffActor, staff_id: int
) -> str:
    if staff_id == actor.staff_id:
        raise QueryError("own_enrol_link")
    row = conn.execute(select(_account).where(_account.c.id == staff_id)).first()
    if row is None:
        raise NotFound("staff_not_found")
    if staff.ended(row, library_today(now)):
        raise QueryError("account_ended")
    _audit_account(conn, now, actor, staff.ACCOUNT_ENROL_LINK, row.staff_code)
    return _issue_enrol(conn, staff_id, now)


def _view(row: Row[Any], today: date) -> StaffView:
    return StaffView(
        row.id,
        row.staff_code,
        row.name,
        row.affiliation,
        row.code,
        Localized.of(row.names),
        row.role,
        staff.duties(row.duties),
        row.registered_on,
        row.ends_on,
        staff.ended(row, today),
        row.password_hash is not None and bool(row.totp_confirmed),
    )


def _staff_select() -> Any:
    branch = TABLES["branch"]
    return select(_account, branch.c.code, branch.c.names).select_from(
        _account.join(branch, branch.c.id == _account.c.branch_id)
    )


@reads
def list_staff_accounts(conn: Connection, now: datetime) -> tuple[StaffView, ...]:
    today = library_today(now)
    rows = conn.execute(_staff_select().order_by(_account.c.staff_code))
    return tuple(_view(row, today) for row in rows)


@reads
def get_staff_account(conn: Connection, now: datetime, staff_id: int) -> StaffView:
    row = conn.execute(_staff_select().where(_account.c.id == staff_id)).first()
    if row is None:
        raise NotFound("staff_not_found")
    return _view(row, library_today(now))
