"""What the counter does to make someone a patron: activation codes for a patron's web
password (from the patron record), and, with the applications of db.applications, the
queue, correcting, confirming or rejecting an online application (利用者仮登録申請), and
registering a walk-in patron with the same form and rules.

Every function takes the `StaffActor` first, checks the policy (db/data/staff_policy.json)
itself as well as the web guard does, and writes its `staff_audit` row in the same
transaction (never the values). Masking happens here: a field group the role may not see
comes back as None. An application's audit rows name no application (patron_id is NULL,
the screen says "registration"): an application that is never confirmed must leave no trace
once deleted, and the audit table can never be cleaned. Confirming names the new patron.

Confirming is one transaction: the application row is locked (a row lock on PostgreSQL, the
write lock on SQLite), the patron is created with the next card number (db.card_numbers)
and the library's expiry (db.patrons.create_patron), a single-use activation code is
stored (db.activation_codes), and the application is deleted with its mail
(db.applications.delete_applications). Two counters confirming the same application at
once make one patron; the other gets NotFound. An email the applicant never confirmed
(a staff correction) is recorded only as pending: the patron confirms it while logged in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, literal, select, update
from sqlalchemy.engine import Connection, Row

from db import activation_codes, applications, card_numbers, codes, rules
from db.applications import ApplicationFields, ApplicationRefused, CleanApplication
from db.clock import aware_utc, library_today, naive_utc
from db.engine import writes
from db.errors import NotFound, QueryError, Refusal
from db.localized import Localized
from db.models import TABLES
from db.outbox import enqueue
from db.patrons import NewPatron, register_patron
from db.staff import ALLOWED, EDIT, REFUSED, VIEW, StaffActor, StaffRefused, write_audit
from db.staff_policy import policy

__all__ = [
    "ISSUE_CODE",
    "PATRON_CATEGORIES",
    "REJECT_REASONS",
    "ApplicationForStaff",
    "ApplicationInQueue",
    "CodeSlip",
    "DuplicateUnchecked",
    "Registered",
    "confirm_application",
    "correct_application",
    "find_application",
    "get_application_for_staff",
    "issue_patron_code",
    "list_applications",
    "register_walk_in",
    "reject_application",
]

# staff_audit actions (screens: patron_code, registration, registration_queue).
ISSUE_CODE = "issue_code"
REGISTER, REJECT = "register", "reject"
PATRON_CATEGORIES = rules.CATEGORIES  # in the order forms offer them
# Why an application is turned down (words: web.labels "reject_reason"; the mail says them).
REJECT_REASONS = ("no_identification", "outside_service_area", "already_registered", "other")

_RECEIPT_IN_TEXT = re.compile(r"(?<!\d)\d{5}-?\d{5}(?!\d)")
_patron = TABLES["patron"]
_branch = TABLES["branch"]
_app_table = applications.application_table
_app = _app_table.c

# What an application shows, by field group (db/data/staff_policy.json).
_NAME, _CONTACT, _BIRTH = "name", "contact", "birth_date"


class DuplicateUnchecked(QueryError):
    """A probable duplicate confirmed or registered without staff saying they checked."""

    code = "duplicate_unchecked"


@dataclass(frozen=True)
class CodeSlip:
    """What the printed slip carries: the card, the code (shown once) and its expiry."""

    patron_id: int
    card_number: str
    code: str
    expires_at: datetime  # aware UTC


@dataclass(frozen=True)
class Registered:
    """A new patron made at the counter: their card and the code slip."""

    slip: CodeSlip
    expires_on: date  # the card's expiry
    home_branch: Localized


@dataclass(frozen=True)
class ApplicationInQueue:
    """One counted application in the queue, oldest first. None = masked for this role."""

    id: int
    receipt_number: str
    counted_at: datetime  # aware UTC
    age_days: int
    expires_on: date
    name: str | None
    name_kana: str | None
    category: str
    home_branch: Localized
    probable_duplicate: bool


@dataclass(frozen=True)
class ApplicationForStaff:
    """An application to compare with the identification shown. None = masked."""

    id: int
    receipt_number: str
    counted_at: datetime
    expires_on: date
    name: str | None
    name_kana: str | None
    birth_date: date | None
    postal_code: str | None
    address: str | None
    phone: str | None
    email: str | None
    email_confirmed: bool
    category: str
    home_branch: str  # code
    home_branch_name: Localized
    lang: str
    probable_duplicate: bool
    visible: frozenset[str]


def _visible(actor: StaffActor) -> frozenset[str]:
    return policy().visible_fields(actor.role, actor.duties)


def _personal(groups: frozenset[str]) -> list[str]:
    known = policy().field_groups
    return sorted(g for g in (_NAME, _CONTACT, _BIRTH) if g in groups and g in known)


def _require(
    actor: StaffActor,
    action: str,
    screen: str,
    patron_id: int | None,
    groups: tuple[str, ...],
) -> None:
    """Refuse when the actor's role may not do `action`, the attempt committed first."""
    if not policy().may(actor.role, actor.duties, action):
        _record_refusal(actor, action, screen, patron_id, groups)
        raise StaffRefused()


@writes
def _record_refusal(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    action: str,
    screen: str,
    patron_id: int | None,
    groups: tuple[str, ...],
) -> None:
    if (
        patron_id is not None
        and conn.execute(select(_patron.c.id).where(_patron.c.id == patron_id)).first() is None
    ):
        raise NotFound("patron_not_found")
    write_audit(conn, actor, patron_id, groups, screen, action[:20], REFUSED, now)


def issue_patron_code(actor: StaffActor, patron_id: int) -> CodeSlip:
    """A new single-use activation code for the patron (replacing any earlier one), for the
    counter to print and hand over. Audited (screen patron_code)."""
    _require(actor, "patron.code", "patron_code", patron_id, ("card",))
    return _issue_patron_code(actor, patron_id)


@writes
def _issue_patron_code(
    conn: Connection, now: datetime, actor: StaffActor, patron_id: int
) -> CodeSlip:
    """A new single-use activation code for the patron (replacing any earlier one), for the
    counter to print and hand over. Audited (screen patron_code)."""
    card = conn.execute(
        select(_patron.c.card_number).where(_patron.c.id == patron_id)
    ).scalar_one_or_none()
    if card is None:
        raise NotFound("patron_not_found")
    code, expires = activation_codes.issue(conn, patron_id, now)
    write_audit(conn, actor, patron_id, ["card"], "patron_code", ISSUE_CODE, ALLOWED, now)
    return CodeSlip(patron_id, card, code, aware_utc(expires))


_REGISTER_GROUPS = (_NAME, _CONTACT, _BIRTH)


def list_applications(actor: StaffActor) -> tuple[ApplicationInQueue, ...]:
    """The queue (registration.view): counted, unexpired applications, oldest first."""
    _require(actor, "registration.view", "registration_queue", None, (_NAME,))
    return _list_applications(actor)


@writes
def _list_applications(
    conn: Connection, now: datetime, actor: StaffActor
) -> tuple[ApplicationInQueue, ...]:
    """Every application that counts (email confirmed, or given without one) and has not
    expired, oldest first. Showing names writes one audit row (screen registration_queue)."""
    today = library_today(now)
    visible = _visible(actor)
    rows = list(
        conn.execute(
            select(
                _app.id,
                _app.receipt_number,
                _app.counted_at,
                _app.expires_on,
                _app.name,
                _app.name_kana,
                _app.category,
                _app.probable_duplicate,
                _branch.c.names,
            )
            .join_from(_app_table, _branch, _branch.c.id == _app.home_branch_id)
            .where(_app.counted_at.is_not(None), _app.expires_on >= today)
            .order_by(_app.counted_at, _app.id)
            .limit(500)
        )
    )
    show_name = _NAME in visible
    if rows and show_name:
        write_audit(conn, actor, None, [_NAME], "registration_queue", VIEW, ALLOWED, now)
    return tuple(
        ApplicationInQueue(
            id=row.id,
            receipt_number=applications.format_receipt_number(row.receipt_number),
            counted_at=aware_utc(row.counted_at),
            age_days=(today - library_today(aware_utc(row.counted_at))).days,
            expires_on=row.expires_on,
            name=row.name if show_name else None,
            name_kana=row.name_kana if show_name else None,
            category=row.category,
            home_branch=Localized.of(row.names),
            probable_duplicate=bool(row.probable_duplicate),
        )
        for row in rows
    )


def find_application(actor: StaffActor, typed: str) -> int:
    """The application with the receipt number typed or scanned (see _find_application)."""
    _require(actor, "registration.view", "registration", None, (_NAME,))
    return _find_application(actor, typed)


@writes
def _find_application(conn: Connection, now: datetime, actor: StaffActor, typed: str) -> int:
    """The id of the counted application with this receipt number, as typed or scanned
    from its QR code (full-width digits and hyphens allowed). Refusal `receipt_number_format`
    for a number that cannot be one (caught by its check digit); NotFound otherwise."""
    number = applications.read_receipt_number(typed)
    if number is None and len(typed) <= 400:
        # A scanner may send more than the number (a link in the QR code): its last one.
        found_numbers = _RECEIPT_IN_TEXT.findall(unicodedata.normalize("NFKC", typed))
        number = applications.read_receipt_number(found_numbers[-1]) if found_numbers else None
    if number is None:
        raise QueryError("receipt_number_format")
    found = conn.execute(
        select(_app.id).where(
            _app.receipt_number == number,
            _app.counted_at.is_not(None),
            _app.expires_on >= library_today(now),
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("staff_application_not_found")
    return int(found)


def _application(
    conn: Connection, now: datetime, application_id: int, lock: bool = False
) -> Row[Any]:
    stmt = (
        select(_app_table, _branch.c.code.label("branch_code"), _branch.c.names)
        .join_from(_app_table, _branch, _branch.c.id == _app.home_branch_id)
        .where(
            _app.id == application_id,
            _app.counted_at.is_not(None),
            _app.expires_on >= library_today(now),
        )
    )
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=_app_table)
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound("staff_application_not_found")
    return row


def get_application_for_staff(actor: StaffActor, application_id: int) -> ApplicationForStaff:
    """An application as this role may see it, the look audited."""
    _require(actor, "registration.view", "registration", None, _REGISTER_GROUPS)
    return _get_application_for_staff(actor, application_id)


@writes
def _get_application_for_staff(
    conn: Connection, now: datetime, actor: StaffActor, application_id: int
) -> ApplicationForStaff:
    """An application as this role may see it, with the audit row of the look (screen
    registration; the groups shown; no application named, see the module docstring)."""
    row = _application(conn, now, application_id)
    visible = _visible(actor)
    write_audit(conn, actor, None, _personal(visible), "registration", VIEW, ALLOWED, now)
    name, contact, born = _NAME in visible, _CONTACT in visible, _BIRTH in visible
    return ApplicationForStaff(
        id=row.id,
        receipt_number=applications.format_receipt_number(row.receipt_number),
        counted_at=aware_utc(row.counted_at),
        expires_on=row.expires_on,
        name=row.name if name else None,
        name_kana=row.name_kana if name else None,
        birth_date=row.birth_date if born else None,
        postal_code=row.postal_code if contact else None,
        address=row.address if contact else None,
        phone=row.phone if contact else None,
        email=row.email if contact else None,
        email_confirmed=bool(row.email_confirmed),
        category=row.category,
        home_branch=row.branch_code,
        home_branch_name=Localized.of(row.names),
        lang=row.lang,
        probable_duplicate=bool(row.probable_duplicate),
        visible=visible,
    )


def _clean(
    conn: Connection, now: datetime, fields: ApplicationFields
) -> tuple[CleanApplication, int]:
    """The applicant side's checks and normaliser (db.applications), and the branch id."""
    clean, errors = applications.check_fields(
        fields, library_today(now), codes.category_codes(conn)
    )
    branch_id = conn.execute(
        select(_branch.c.id).where(_branch.c.code == fields.home_branch)
    ).scalar_one_or_none()
    if branch_id is None and "home_branch" not in errors:
        errors["home_branch"] = Refusal("choose_branch")
    if clean is not None and not codes.hold_category(conn, clean.category):
        errors["category"] = Refusal("choose_category")
    if clean is None or branch_id is None or errors:
        raise ApplicationRefused(errors)
    return clean, int(branch_id)


def correct_application(actor: StaffActor, application_id: int, fields: ApplicationFields) -> None:
    """Correct an application with the applicant side's rules (see _correct_application)."""
    _require(actor, "patron.register", "registration", None, _REGISTER_GROUPS)
    _correct_application(actor, application_id, fields)


@writes
def _correct_application(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    application_id: int,
    fields: ApplicationFields,
) -> None:
    """Correct an application (what the identification shows): every field again, with the
    applicant side's rules; ApplicationRefused with each wrong field, nothing saved. A
    changed email is no longer confirmed. The duplicate flag is computed again."""
    row = _application(conn, now, application_id, lock=True)
    clean, branch_id = _clean(conn, now, fields)
    applications.lock_person(conn, clean.birth_date, clean.phone_digits)
    duplicate = applications.is_probable_duplicate(
        conn, clean.name, clean.birth_date, clean.phone_digits, except_id=application_id
    )
    conn.execute(
        update(_app_table)
        .where(_app.id == application_id)
        .values(
            name=clean.name,
            name_kana=clean.name_kana,
            birth_date=clean.birth_date,
            postal_code=clean.postal_code,
            address=clean.address,
            phone=clean.phone,
            phone_digits=clean.phone_digits,
            email=clean.email,
            email_confirmed=bool(row.email_confirmed) and clean.email == row.email,
            category=clean.category,
            home_branch_id=branch_id,
            probable_duplicate=duplicate,
        )
    )
    write_audit(
        conn, actor, None, [*_REGISTER_GROUPS, "category"], "registration", EDIT, ALLOWED, now
    )


def _make_patron(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    clean: CleanApplication,
    lang: str,
    email_confirmed: bool,
    screen: str,
) -> Registered:
    """The patron, their card number and activation code, with the audit row."""
    number = card_numbers.next_card_number(conn)
    patron_id = register_patron(
        conn,
        NewPatron(
            card_number=number,
            name=clean.name,
            name_kana=clean.name_kana,
            birth_date=clean.birth_date,
            address=clean.address,
            phone=clean.phone,
            email=clean.email if email_confirmed else None,
            category=clean.category,
            home_branch=clean.home_branch,
            lang=lang if lang in ("ja", "en") else "ja",
        ),
        now,
    )
    if clean.email and not email_confirmed:
        # Used for no mail until the patron confirms it while logged in (as a staff edit).
        conn.execute(
            _patron.update()
            .where(_patron.c.id == patron_id)
            .values(
                email_pending=clean.email,
                # A plain DateTime bind: the model's type wants aware values, the column is naive.
                email_pending_at=literal(naive_utc(now), DateTime()),
            )
        )
    card = conn.execute(
        select(_patron.c.expires_on, _branch.c.names)
        .join_from(_patron, _branch, _branch.c.id == _patron.c.home_branch_id)
        .where(_patron.c.id == patron_id)
    ).one()
    code, code_expires = activation_codes.issue(conn, patron_id, now)
    write_audit(conn, actor, patron_id, [*_REGISTER_GROUPS, "card"], screen, REGISTER, ALLOWED, now)
    return Registered(
        CodeSlip(patron_id, number, code, aware_utc(code_expires)),
        card.expires_on,
        Localized.of(card.names),
    )


def confirm_application(
    actor: StaffActor, application_id: int, duplicate_checked: bool = False
) -> Registered:
    """Make the application a patron, deleting it (see the module docstring)."""
    _require(actor, "patron.register", "registration", None, _REGISTER_GROUPS)
    return _confirm_application(actor, application_id, duplicate_checked)


@writes
def _confirm_application(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    application_id: int,
    duplicate_checked: bool = False,
) -> Registered:
    """Make the application a patron (see the module docstring); the application is gone
    afterwards. A probable duplicate needs `duplicate_checked` (DuplicateUnchecked)."""
    row = _application(conn, now, application_id, lock=True)
    if row.probable_duplicate and not duplicate_checked:
        raise DuplicateUnchecked()
    clean = CleanApplication(
        name=row.name,
        name_kana=row.name_kana,
        birth_date=row.birth_date,
        postal_code=row.postal_code,
        address=row.address,
        phone=row.phone,
        phone_digits=row.phone_digits,
        email=row.email,
        category=row.category,
        home_branch=row.branch_code,
    )
    made = _make_patron(
        conn, now, actor, clean, row.lang, bool(row.email_confirmed), "registration"
    )
    if applications.delete_applications(conn, [application_id]) != 1:
        raise NotFound("staff_application_not_found")  # confirmed at another counter
    return made


def reject_application(actor: StaffActor, application_id: int, reason: str) -> bool:
    """Turn an application down and delete it; True when the reason was mailed."""
    _require(actor, "patron.register", "registration", None, _REGISTER_GROUPS)
    return _reject_application(actor, application_id, reason)


@writes
def _reject_application(
    conn: Connection, now: datetime, actor: StaffActor, application_id: int, reason: str
) -> bool:
    """Turn an application down and delete it with everything it held. The applicant hears
    why by mail if they confirmed their email (→ True: a mail was queued)."""
    if reason not in REJECT_REASONS:
        raise ApplicationRefused({"reason": Refusal("choose_reason")})
    row = _application(conn, now, application_id, lock=True)
    mailed = bool(row.email_confirmed and row.email)
    if mailed:
        enqueue(
            conn,
            kind="application_rejected",
            to_addr=row.email,
            now=now,
            lang=row.lang,
            params={
                "receipt_number": applications.format_receipt_number(row.receipt_number),
                "reason": reason,
                "branch": row.branch_code,
            },
        )
    applications.delete_applications(conn, [application_id])
    write_audit(conn, actor, None, [], "registration", REJECT, ALLOWED, now)
    return mailed


def register_walk_in(
    actor: StaffActor, fields: ApplicationFields, lang: str = "ja", duplicate_checked: bool = False
) -> Registered:
    """Register a patron at the counter with the application form's rules."""
    _require(actor, "patron.register", "registration_walk_in", None, _REGISTER_GROUPS)
    return _register_walk_in(actor, fields, lang, duplicate_checked)


@writes
def _register_walk_in(
    conn: Connection,
    now: datetime,
    actor: StaffActor,
    fields: ApplicationFields,
    lang: str = "ja",
    duplicate_checked: bool = False,
) -> Registered:
    """Register a patron at the counter with the application form's rules (no application
    is stored). An email typed here is pending until the patron confirms it. A probable
    duplicate of a patron or an application needs `duplicate_checked`."""
    clean, _ = _clean(conn, now, fields)
    applications.lock_person(conn, clean.birth_date, clean.phone_digits)
    duplicate = applications.is_probable_duplicate(
        conn, clean.name, clean.birth_date, clean.phone_digits
    )
    if duplicate and not duplicate_checked:
        raise DuplicateUnchecked()
    return _make_patron(conn, now, actor, clean, lang, False, "registration_walk_in")
