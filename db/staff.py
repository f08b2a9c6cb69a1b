"""Staff accounts: enrolment, password, TOTP second factor, recovery codes and sessions.

Personal accounts only (seed 001). The first manager comes from the CLI; later accounts
from a manager. A new account has no password: its holder opens a one-time enrolment link
(a random token; only its SHA-256 is stored, with an expiry), sets a password, then enrols a
TOTP authenticator (RFC 6238, written here: HMAC-SHA1, 30 s, 6 digits) and receives
single-use recovery codes once. A session that has not passed the second factor is only
good for the second-factor page (the web tier checks `second_factor`). After the account's
end date it cannot log in, and its sessions end on their next request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Row

from db import engine, passwords, throttle
from db.circulation import library_today
from db.clock import aware_utc, naive_utc
from db.errors import NotFound, QueryError, TooManyAttempts
from db.models import TABLES
from db.sessions import Timeouts
from db.staff_policy import policy

_account = TABLES["staff_account"]
_session = TABLES["staff_session"]
_TOUCH_EVERY = timedelta(seconds=60)
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
ISSUER = "Shiori"

STAFF_LOGIN_CODE = throttle.Limit(
    "staff:code", 5, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)
STAFF_LOGIN_ADDRESS = throttle.Limit(
    "staff:address", 30, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)
STAFF_SECOND_FACTOR = throttle.Limit(
    "staff:2fa", 5, 15 * throttle.MINUTE, throttle.MINUTE, throttle.HOUR
)
STAFF_ENROL = throttle.Limit("staff:enrol", 20, throttle.HOUR, throttle.MINUTE, throttle.HOUR)


class StaffLoginFailed(QueryError):
    def __init__(self) -> None:
        super().__init__(
            "職員IDまたはパスワードが違うか、このアカウントは使えません。続けて間違えると、"
            "しばらくログインできなくなります。 / The staff ID or password is wrong, or this "
            "account cannot be used. After repeated failures you must wait."
        )


class SecondFactorFailed(QueryError):
    def __init__(self) -> None:
        super().__init__(
            "確認コードが違うか、使用済みです。認証アプリの6桁の数字か、回復コードを入力して"
            "ください。 / The code is wrong or already used. Type the 6 digits from your "
            "authenticator app, or a recovery code."
        )


class EnrolLinkRefused(QueryError):
    def __init__(self) -> None:
        super().__init__(
            "この登録リンクは使えません（期限切れ、使用済み、または終了したアカウント）。"
            "管理者に新しいリンクを依頼してください。 / This enrolment link cannot be used "
            "(expired, used, or the account has ended). Ask a manager for a new one."
        )


class StaffFormRefused(QueryError):
    """Input that cannot be saved; `errors` maps each field to its message (JA / EN)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("入力内容を確認してください。 / Please check the highlighted fields.")
        self.errors = errors


@dataclass(frozen=True)
class StaffActor:
    """The staff member behind a request, as the policy sees them."""

    staff_id: int
    staff_code: str
    name: str
    role: str
    duties: tuple[str, ...]
    branch_id: int


@dataclass(frozen=True)
class StaffSessionInfo:
    actor: StaffActor
    csrf_token: str
    second_factor: bool
    totp_enrolled: bool


@dataclass(frozen=True)
class StaffLogin:
    token: str
    csrf_token: str


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, for typing into an app by hand
    uri: str  # otpauth:// for the QR code


@dataclass(frozen=True)
class StaffView:
    id: int
    staff_code: str
    name: str
    affiliation: str
    branch_code: str
    branch_ja: str
    branch_en: str
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


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def _ended(row: Row[Any], today: date) -> bool:
    ends_on: date | None = row.ends_on
    return ends_on is not None and ends_on < today


def _duties(raw: str) -> tuple[str, ...]:
    return tuple(d for d in raw.split(",") if d)


def _settings(name: str) -> int:
    return policy().settings[name]


# TOTP (RFC 6238 over RFC 4226) ------------------------------------------------------------


def new_totp_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def totp_code(secret: str, step: int) -> str:
    key = base64.b32decode(secret)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 10**TOTP_DIGITS:0{TOTP_DIGITS}d}"


def totp_step(now: datetime) -> int:
    return int(aware_utc(now).timestamp()) // TOTP_STEP_SECONDS


def _totp_match(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step the code belongs to (one step of clock drift either way), never a used one."""
    cleaned = "".join(ch for ch in code if ch.isdigit())
    if len(cleaned) != TOTP_DIGITS:
        return None
    current = totp_step(now)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp_code(secret, step), cleaned):
            return step
    return None


def _recovery_digest(code: str) -> str:
    return _digest("".join(ch for ch in code.upper() if ch.isalnum()))


_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _new_recovery_code() -> str:
    return "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))


# Sessions ---------------------------------------------------------------------------------


def _create_session(
    conn: Connection, staff_id: int, now: datetime, timeouts: Timeouts, second_factor: bool
) -> StaffLogin:
    now = aware_utc(now)
    token = secrets.token_urlsafe(16)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        _session.insert().values(
            id=_digest(token),
            staff_id=staff_id,
            csrf_token=csrf,
            second_factor=second_factor,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timeouts.absolute,
            counter_state="",
        )
    )
    return StaffLogin(token, csrf)


def load_session(
    conn: Connection, token: str, now: datetime, timeouts: Timeouts
) -> StaffSessionInfo | None:
    """The live staff session of a cookie token; ended accounts and stale rows end here."""
    if not token or len(token) > 64:
        return None
    row = conn.execute(
        select(_session, _account.c.staff_code, _account.c.name, _account.c.role)
        .add_columns(
            _account.c.duties,
            _account.c.branch_id,
            _account.c.ends_on,
            _account.c.password_hash,
            _account.c.totp_confirmed,
        )
        .select_from(_session.join(_account, _account.c.id == _session.c.staff_id))
        .where(_session.c.id == _digest(token))
    ).first()
    if row is None:
        return None
    naive_now = naive_utc(now)
    stale = (
        naive_utc(row.expires_at) <= naive_now
        or naive_utc(row.last_seen_at) + timeouts.idle <= naive_now
    )
    if stale or _ended(row, library_today(now)) or row.password_hash is None:
        conn.execute(_session.delete().where(_session.c.id == row.id))
        return None
    if naive_now - naive_utc(row.last_seen_at) >= _TOUCH_EVERY:
        conn.execute(
            _session.update().where(_session.c.id == row.id).values(last_seen_at=aware_utc(now))
        )
    actor = StaffActor(
        row.staff_id, row.staff_code, row.name, row.role, _duties(row.duties), row.branch_id
    )
    return StaffSessionInfo(
        actor, row.csrf_token, bool(row.second_factor), bool(row.totp_confirmed)
    )


def end_session(conn: Connection, token: str) -> None:
    conn.execute(_session.delete().where(_session.c.id == _digest(token)))


def _rotate(
    conn: Connection, token: str, staff_id: int, now: datetime, timeouts: Timeouts
) -> StaffLogin:
    """A new session id once the second factor is passed; the old one is gone."""
    end_session(conn, token)
    return _create_session(conn, staff_id, now, timeouts, second_factor=True)


# Login and the second factor --------------------------------------------------------------


def log_in(
    staff_code: str, password: str, address: str, now: datetime, timeouts: Timeouts
) -> StaffLogin:
    code = staff_code.strip()[:20]
    checks = [(STAFF_LOGIN_CODE, code.casefold()), (STAFF_LOGIN_ADDRESS, address)]
    try:
        with engine.write() as conn:
            throttle.reserve(conn, checks, now)
            row = conn.execute(select(_account).where(_account.c.staff_code == code)).first()
    except throttle.Throttled:
        passwords.verify(None, password)
        raise StaffLoginFailed() from None
    stored = getattr(row, "password_hash", None)
    if not passwords.verify(stored, password) or row is None:
        raise StaffLoginFailed()
    if _ended(row, library_today(now)):
        raise StaffLoginFailed()
    with engine.write() as conn:
        throttle.succeeded(conn, checks)
        if stored and passwords.needs_rehash(stored):
            conn.execute(
                _account.update()
                .where(_account.c.id == row.id)
                .values(password_hash=passwords.hash_password(password))
            )
        return _create_session(conn, row.id, now, timeouts, second_factor=False)


def _session_account(conn: Connection, token: str) -> Row[Any]:
    row = conn.execute(
        select(_account)
        .select_from(_session.join(_account, _account.c.id == _session.c.staff_id))
        .where(_session.c.id == _digest(token))
    ).first()
    if row is None:
        raise NotFound("ログインし直してください。 / Please log in again.")
    return row


def begin_totp_enrolment(token: str) -> TotpEnrolment:
    """The pending secret of an account without a confirmed authenticator (made once)."""
    with engine.write() as conn:
        row = _session_account(conn, token)
        if row.totp_confirmed:
            raise QueryError("認証アプリは登録済みです。 / An authenticator is already enrolled.")
        secret = row.totp_secret
        if not secret:
            secret = new_totp_secret()
            conn.execute(
                _account.update().where(_account.c.id == row.id).values(totp_secret=secret)
            )
        label = quote(f"{ISSUER}:{row.staff_code}")
        uri = f"otpauth://totp/{label}?secret={secret}&issuer={ISSUER}&digits=6&period=30"
        return TotpEnrolment(secret, uri)


def confirm_totp(
    token: str, code: str, now: datetime, timeouts: Timeouts
) -> tuple[StaffLogin, tuple[str, ...]]:
    """Confirm the authenticator with a first code; returns the rotated session and the
    recovery codes (shown once: only their digests are kept)."""
    with engine.write() as conn:
        row = _session_account(conn, token)
        checks = [(STAFF_SECOND_FACTOR, str(row.id))]
        try:
            throttle.reserve(conn, checks, now)
        except throttle.Throttled:
            raise SecondFactorFailed() from None
    if row.totp_confirmed or not row.totp_secret:
        raise SecondFactorFailed()
    step = _totp_match(row.totp_secret, code, now, row.totp_last_step)
    if step is None:
        raise SecondFactorFailed()
    codes = tuple(_new_recovery_code() for _ in range(_settings("recovery_codes")))
    with engine.write() as conn:
        throttle.succeeded(conn, checks)
        conn.execute(
            _account.update()
            .where(_account.c.id == row.id)
            .values(totp_confirmed=True, totp_last_step=step)
        )
        conn.execute(text("DELETE FROM staff_recovery_code WHERE staff_id = :s"), {"s": row.id})
        for recovery in codes:
            conn.execute(
                TABLES["staff_recovery_code"]
                .insert()
                .values(staff_id=row.id, code_hash=_recovery_digest(recovery))
            )
        return _rotate(conn, token, row.id, now, timeouts), codes


def pass_second_factor(token: str, code: str, now: datetime, timeouts: Timeouts) -> StaffLogin:
    """A TOTP code (never one used before) or an unused recovery code."""
    with engine.write() as conn:
        row = _session_account(conn, token)
        checks = [(STAFF_SECOND_FACTOR, str(row.id))]
        try:
            throttle.reserve(conn, checks, now)
        except throttle.Throttled:
            raise SecondFactorFailed() from None
    if not row.totp_confirmed or not row.totp_secret:
        raise SecondFactorFailed()
    with engine.write() as conn:
        step = _totp_match(row.totp_secret, code, now, row.totp_last_step)
        if step is not None:
            used = conn.execute(
                _account.update()
                .where(_account.c.id == row.id, _account.c.totp_last_step < step)
                .values(totp_last_step=step)
            ).rowcount
        else:
            used = conn.execute(
                text("DELETE FROM staff_recovery_code WHERE staff_id = :s AND code_hash = :h"),
                {"s": row.id, "h": _recovery_digest(code)},
            ).rowcount
        if used != 1:
            raise SecondFactorFailed()
        throttle.succeeded(conn, checks)
        return _rotate(conn, token, row.id, now, timeouts)


# Enrolment links and passwords ------------------------------------------------------------


def _check_password(password: str, staff_code: str) -> None:
    minimum = _settings("password_min_chars")
    if len(password) < minimum:
        raise passwords.PasswordRejected(
            f"職員のパスワードは{minimum}文字以上にしてください。 / "
            f"Staff passwords need at least {minimum} characters."
        )
    passwords.check_policy(password, staff_code, date(1900, 1, 1))


def _issue_enrol(conn: Connection, staff_id: int, now: datetime) -> str:
    """A fresh one-time link token; the account's password, authenticator, recovery codes
    and sessions are reset, so a lost phone or a forgotten password is fixed the same way."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        _account.update()
        .where(_account.c.id == staff_id)
        .values(
            enrol_hash=_digest(token),
            enrol_expires_at=aware_utc(now) + timedelta(hours=_settings("enrol_link_hours")),
            password_hash=None,
            password_set_at=None,
            totp_secret=None,
            totp_confirmed=False,
            totp_last_step=0,
        )
    )
    conn.execute(text("DELETE FROM staff_recovery_code WHERE staff_id = :s"), {"s": staff_id})
    conn.execute(_session.delete().where(_session.c.staff_id == staff_id))
    return token


def _enrol_row(conn: Connection, token: str, now: datetime) -> Row[Any]:
    if not token or len(token) > 100:
        raise EnrolLinkRefused()
    row = conn.execute(select(_account).where(_account.c.enrol_hash == _digest(token))).first()
    if (
        row is None
        or row.enrol_expires_at is None
        or naive_utc(row.enrol_expires_at) <= naive_utc(now)
        or _ended(row, library_today(now))
    ):
        raise EnrolLinkRefused()
    return row


def check_enrol_link(token: str, address: str, now: datetime) -> str:
    """The staff ID an enrolment link belongs to; EnrolLinkRefused otherwise."""
    with engine.write() as conn:
        try:
            throttle.reserve(conn, [(STAFF_ENROL, address)], now)
        except throttle.Throttled:
            raise EnrolLinkRefused() from None
    with engine.read() as conn:
        return str(_enrol_row(conn, token, now).staff_code)


def enrol(token: str, new_password: str, now: datetime, timeouts: Timeouts) -> StaffLogin:
    """Set the first password through the link (used up) and start a session that must
    still enrol the authenticator."""
    with engine.read() as conn:
        row = _enrol_row(conn, token, now)
    _check_password(new_password, row.staff_code)
    hashed = passwords.hash_password(new_password)
    with engine.write() as conn:
        used = conn.execute(
            _account.update()
            .where(_account.c.id == row.id, _account.c.enrol_hash == _digest(token))
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
            .values(staff_id=row.id, password_hash=hashed, set_at=aware_utc(now))
        )
        return _create_session(conn, row.id, now, timeouts, second_factor=False)


def change_password(
    staff_id: int, current: str, new_password: str, token: str, now: datetime
) -> None:
    """The staff member's own change: current password, minimum interval, no reuse of the
    last `password_history` passwords; other sessions of the account end."""
    checks = [(STAFF_LOGIN_CODE, f"change:{staff_id}")]
    with engine.write() as conn:
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
            ).fetchmany(_settings("password_history"))
        ]
    if not passwords.verify(row.password_hash, current):
        raise StaffFormRefused(
            {"current_password": "現在のパスワードが違います。 / The current password is wrong."}
        )
    min_days = _settings("password_min_days_between_changes")
    if row.password_set_at is not None and aware_utc(row.password_set_at) + timedelta(
        days=min_days
    ) > aware_utc(now):
        raise StaffFormRefused(
            {
                "new_password": f"パスワードは{min_days}日に1回まで変更できます。 / "
                f"The password can be changed once every {min_days} day(s)."
            }
        )
    try:
        _check_password(new_password, row.staff_code)
    except passwords.PasswordRejected as rejected:
        raise StaffFormRefused({"new_password": str(rejected)}) from None
    if any(passwords.verify(old, new_password) for old in history):
        raise StaffFormRefused(
            {
                "new_password": "最近使ったパスワードは使えません。 / "
                "You cannot reuse one of your recent passwords."
            }
        )
    hashed = passwords.hash_password(new_password)
    with engine.write() as conn:
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
        conn.execute(
            text("DELETE FROM staff_session WHERE staff_id = :s AND id <> :keep"),
            {"s": staff_id, "keep": _digest(token)},
        )


# Managing accounts ------------------------------------------------------------------------

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,19}")


def _validate(conn: Connection, data: StaffInput, today: date) -> tuple[dict[str, str], int]:
    errors: dict[str, str] = {}
    if not _CODE.fullmatch(data.staff_code):
        errors["staff_code"] = (
            "職員IDは英数字3〜20文字で入力してください。 / "
            "The staff ID must be 3–20 letters or digits."
        )
    if not data.name.strip() or len(data.name) > 100:
        errors["name"] = (
            "氏名を100文字以内で入力してください。 / Enter a name (up to 100 characters)."
        )
    if len(data.affiliation) > 100:
        errors["affiliation"] = "所属は100文字以内です。 / Up to 100 characters."
    if data.role not in policy().roles:
        errors["role"] = "役割を選んでください。 / Choose a role."
    unknown = [d for d in data.duties if d not in policy().duties]
    if unknown:
        errors["duties"] = "担当業務が正しくありません。 / Unknown duty."
    elif data.duties and data.role in policy().roles and not policy().roles[data.role].takes_duties:
        errors["duties"] = (
            "担当業務を割り当てられるのは臨時職員だけです。 / "
            "Only temporary staff take assigned duties."
        )
    if data.ends_on is not None and data.ends_on < today:
        errors["ends_on"] = (
            "終了日は今日以降の日付にしてください（すぐ終了するには「終了」ボタン）。 / "
            "The end date must be today or later (use End now to end at once)."
        )
    branch_id = conn.execute(
        text("SELECT id FROM branch WHERE code = :c"), {"c": data.branch_code}
    ).scalar_one_or_none()
    if branch_id is None:
        errors["branch"] = "所属館を選んでください。 / Choose a branch."
    return errors, int(branch_id or 0)


def create_staff(conn: Connection, data: StaffInput, now: datetime) -> tuple[int, str]:
    """A new account (no password yet) and its one-time enrolment token."""
    today = library_today(now)
    errors, branch_id = _validate(conn, data, today)
    if not errors:
        taken = conn.execute(
            select(_account.c.id).where(_account.c.staff_code == data.staff_code)
        ).first()
        if taken is not None:
            errors["staff_code"] = "この職員IDは使われています。 / This staff ID is taken."
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


def update_staff(
    conn: Connection, actor_id: int, staff_id: int, data: StaffInput, now: datetime
) -> None:
    row = conn.execute(select(_account).where(_account.c.id == staff_id).with_for_update()).first()
    if row is None:
        raise NotFound("職員が見つかりません。 / No such staff account.")
    today = library_today(now)
    data = StaffInput(
        row.staff_code,
        *(
            getattr(data, f)
            for f in ("name", "affiliation", "branch_code", "role", "duties", "ends_on")
        ),
    )
    errors, branch_id = _validate(conn, data, today)
    if staff_id == actor_id and data.role != row.role:
        errors["role"] = "自分の役割は変更できません。 / You cannot change your own role."
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
        conn.execute(_session.delete().where(_session.c.staff_id == staff_id))


def end_staff(conn: Connection, actor_id: int, staff_id: int, now: datetime) -> None:
    """End an account at once: its end date becomes yesterday and its sessions end."""
    if staff_id == actor_id:
        raise QueryError("自分のアカウントは終了できません。 / You cannot end your own account.")
    yesterday = library_today(now) - timedelta(days=1)
    done = conn.execute(
        _account.update().where(_account.c.id == staff_id).values(ends_on=yesterday)
    ).rowcount
    if done != 1:
        raise NotFound("職員が見つかりません。 / No such staff account.")
    conn.execute(_session.delete().where(_session.c.staff_id == staff_id))


def reissue_enrol_link(conn: Connection, actor_id: int, staff_id: int, now: datetime) -> str:
    if staff_id == actor_id:
        raise QueryError(
            "自分の登録リンクは発行できません。別の管理者に依頼してください。 / "
            "Ask another manager to reset your own account."
        )
    row = conn.execute(select(_account).where(_account.c.id == staff_id)).first()
    if row is None:
        raise NotFound("職員が見つかりません。 / No such staff account.")
    if _ended(row, library_today(now)):
        raise QueryError("終了したアカウントです。 / This account has ended.")
    return _issue_enrol(conn, staff_id, now)


def _view(row: Row[Any], today: date) -> StaffView:
    return StaffView(
        row.id,
        row.staff_code,
        row.name,
        row.affiliation,
        row.code,
        row.name_ja,
        row.name_en,
        row.role,
        _duties(row.duties),
        row.registered_on,
        row.ends_on,
        _ended(row, today),
        row.password_hash is not None and bool(row.totp_confirmed),
    )


def _staff_select() -> Any:
    branch = TABLES["branch"]
    return select(_account, branch.c.code, branch.c.name_ja, branch.c.name_en).select_from(
        _account.join(branch, branch.c.id == _account.c.branch_id)
    )


def list_staff(conn: Connection, now: datetime) -> tuple[StaffView, ...]:
    today = library_today(now)
    rows = conn.execute(_staff_select().order_by(_account.c.staff_code))
    return tuple(_view(row, today) for row in rows)


def get_staff(conn: Connection, staff_id: int, now: datetime) -> StaffView:
    row = conn.execute(_staff_select().where(_account.c.id == staff_id)).first()
    if row is None:
        raise NotFound("職員が見つかりません。 / No such staff account.")
    return _view(row, library_today(now))


def session_key(token: str) -> str:
    """The stored key of a session token (for the counter's scan list)."""
    return _digest(token)
