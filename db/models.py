"""SQLModel tables. Only `db` sees these; `db.queries` hands plain dataclasses to `web`.

Every table a library owns has `library_id` (db.tenancy lists them, and which are shared);
business keys are unique per library."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from db.tenancy import library_column


def _names_column() -> Column[Any]:
    """A name per language, {"ja": …, "en": …} (see db.localized.Localized)."""
    return Column(JSON, nullable=False, server_default=text("'{}'"))


# Ids of rows about a person are never handed out again (migration 0013): SQLite's
# AUTOINCREMENT; PostgreSQL's sequences never go back anyway.
_NEVER_REUSED = {"sqlite_autoincrement": True}


class Library(SQLModel, table=True):
    """A library (a tenant, db.tenancy): id 1 ("default") is the only one on SQLite."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)


class LibraryHost(SQLModel, table=True):
    """A host name (lower case, no port) the library is served at."""

    __tablename__ = "library_host"
    host: str = Field(primary_key=True, max_length=253)
    library_id: int = Field(foreign_key="library.id", ondelete="CASCADE", index=True)


class Branch(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("library_id", "code", name="uq_branch_library_code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20)
    names: dict[str, str] = Field(sa_column=_names_column())  # db.localized
    sort_order: int = 0
    # Kept by managers in the console (migration 0029, db.codes); hours are branch_hours.
    address: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    phone: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": ""})
    library_id: int | None = Field(default=None, sa_column=library_column())


class MaterialType(SQLModel, table=True):
    __tablename__ = "material_type"
    code: str = Field(primary_key=True, max_length=20)
    names: dict[str, str] = Field(sa_column=_names_column())  # db.localized
    loan_days: int = 14  # 0: not for loan (reference only)
    reservable: bool = True
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class Work(SQLModel, table=True):
    """A bibliographic record. Multi-valued fields are joined with " | "."""

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_work_source"),
        Index("ix_work_title_norm", "title_norm"),
        Index("ix_work_yomi_norm", "yomi_norm"),
        Index("ix_work_sort_key", "sort_key"),
        Index("ix_work_pub_year", "pub_year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)  # aozora, ndl, loc, marc, synth
    source_id: str = Field(max_length=64)
    title: str = Field(sa_column=Column(Text, nullable=False))
    title_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    title_romaji: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subtitle: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    responsibility: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    authors: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    authors_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    publisher: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    publisher_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    pub_place: str = Field(default="", max_length=200)
    pub_year: int | None = None
    edition: str = Field(default="", max_length=200)
    extent: str = Field(default="", max_length=200)
    series: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    ndc: str = Field(default="", max_length=100)  # as given, e.g. "913" or "K913 | 756"
    subjects: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subjects_yomi: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    isbn: str = Field(default="", max_length=100)  # display form(s)
    language: str = Field(default="", max_length=10)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_url: str = Field(default="", max_length=500)
    # Derived by db.search for ranking and sorting; rebuilt by `shiori catalog reindex`.
    title_norm: str = Field(default="", max_length=1000)
    yomi_norm: str = Field(default="", max_length=1000)
    sort_key: str = Field(default="", max_length=1000)
    # The words of the title and its reading, " " between and around (db.search.title_words).
    title_words: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime


class WorkIsbn(SQLModel, table=True):
    __tablename__ = "work_isbn"
    __table_args__ = (Index("ix_work_isbn_work", "work_id"),)
    isbn13: str = Field(primary_key=True, max_length=13)
    work_id: int = Field(primary_key=True, foreign_key="work.id", ondelete="CASCADE")


class WorkNdc(SQLModel, table=True):
    """One row per NDC class of a work; "K" marks children's material (K913)."""

    __tablename__ = "work_ndc"
    __table_args__ = (
        Index("ix_work_ndc_cls_work", "cls", "work_id"),
        Index("ix_work_ndc_work", "work_id"),
    )
    ndc: str = Field(primary_key=True, max_length=20)
    work_id: int = Field(primary_key=True, foreign_key="work.id", ondelete="CASCADE")
    cls: str = Field(max_length=1)  # main class 0-9, or K for children's


class Item(SQLModel, table=True):
    """A copy on a shelf of a branch."""

    __table_args__ = (
        Index("ix_item_work", "work_id", "library_id"),
        Index("ix_item_branch_status_work", "branch_id", "status", "work_id"),
        Index("ix_item_type_work", "material_type", "work_id"),
        # New arrivals (migration 0026, db.queries.new_arrivals): the copies acquired in a
        # window, and whether a work had an older copy.
        Index("ix_item_acquired_work", "acquired_on", "work_id"),
        Index("ix_item_work_acquired", "work_id", "acquired_on"),
        UniqueConstraint("library_id", "barcode", name="uq_item_library_barcode"),
        ForeignKeyConstraint(
            ["library_id", "material_type"], ["material_type.library_id", "material_type.code"]
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    barcode: str = Field(max_length=32)
    work_id: int = Field(foreign_key="work.id", ondelete="CASCADE")
    branch_id: int = Field(foreign_key="branch.id")
    material_type: str = Field(max_length=20)
    call_number: str = Field(default="", max_length=100)
    shelf_location: str = Field(default="", max_length=100)
    status: str = Field(max_length=20)  # see db.rules.ITEM_STATUSES
    # 受入日: the library-local day the copy arrived (migration 0026). NULL: held since
    # before acquisition dates were recorded, so never "new".
    acquired_on: date | None = None
    # In transit home but still lying on this branch's hold shelf: freed off it without a
    # counter scan (migration 0035, db.routing). NULL otherwise.
    left_on_shelf_branch_id: int | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class Patron(SQLModel, table=True):
    """A registered library user. Personal values never leave db except to their owner or to
    staff through audited functions."""

    __table_args__ = (
        UniqueConstraint("library_id", "card_number", name="uq_patron_library_card_number"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    card_number: str = Field(max_length=20)
    name: str = Field(max_length=100)
    name_kana: str = Field(max_length=100)
    birth_date: date
    address: str = Field(sa_column=Column(Text, nullable=False))
    phone: str = Field(max_length=30)
    phone_digits: str = Field(max_length=20)  # digits only, for comparison
    email: str | None = Field(default=None, max_length=254)
    # An address staff recorded, unused for any mail until the patron confirms it (logged in).
    email_pending: str | None = Field(default=None, max_length=254)
    email_pending_at: datetime | None = None
    email_changed_at: datetime | None = None  # when `email` last changed
    category: str = Field(max_length=20)
    home_branch_id: int = Field(foreign_key="branch.id")
    lang: str = Field(default="ja", max_length=2)
    registered_on: date
    expires_on: date
    last_used_at: datetime | None = None
    last_loan_on: date | None = None
    password_hash: str | None = Field(default=None, max_length=200)
    password_set_at: datetime | None = None
    password_set_via: str | None = Field(default=None, max_length=20)
    # The purge date (3-year rule) the patron was last reminded of (migration 0024): one
    # reminder per date; borrowing moves the date and a later one may be reminded of again.
    purge_reminded_for: date | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class WebSession(SQLModel, table=True):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_patron", "patron_id"),)
    id: str = Field(primary_key=True, max_length=64)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE")
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    kiosk: bool = False
    device: str = Field(default="", max_length=100)
    library_id: int | None = Field(default=None, sa_column=library_column())


class Throttle(SQLModel, table=True):
    """Failed attempts per hashed key (card, address, everyone) — shared by all workers."""

    key: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    window_start: datetime
    blocked_until: datetime | None = None
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class ActivationCode(SQLModel, table=True):
    __tablename__ = "activation_code"
    __table_args__ = (_NEVER_REUSED,)
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE", index=True)
    code_hash: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


class PasswordResetLink(SQLModel, table=True):
    """An emailed reset link: only the digest of its random token, never the patron in it."""

    __tablename__ = "password_reset_link"
    __table_args__ = (_NEVER_REUSED,)
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    expires_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


class MailOutbox(SQLModel, table=True):
    """Mail written in the same transaction as the change that causes it."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_due", "sent_at", "failed_at", "next_attempt_at"),
        Index("ix_mail_outbox_patron", "patron_id"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    to_addr: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str = Field(default="", max_length=500)
    # Set just before the end of SMTP DATA (migration 0004): with no sent_at, "in doubt".
    send_started_at: datetime | None = None
    # A notice (migration 0009): the patron's language and the parameters (JSON) the web
    # composes the text from at delivery; NULL params = a finished subject and body.
    lang: str = Field(default="", max_length=10)
    params: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Whose mail it is (migration 0013), so a purge withdraws it. No foreign key: a row the
    # sender may be settling (in doubt) must outlive the patron, emptied.
    patron_id: int | None = None
    # The sending run holding the row's short, renewed claim (migration 0015), and how often
    # the message was left in doubt (re-sent with the same Message-ID a bounded number of times).
    claimed_by: str | None = Field(default=None, max_length=40)
    doubts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # When staff re-queued it: its retry period counts from then (else from created_at).
    retry_from: datetime | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class Loan(SQLModel, table=True):
    """Exists only while the item is out: return deletes the row (no reading history)."""

    __table_args__ = (Index("ix_loan_patron", "patron_id"), _NEVER_REUSED)
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="RESTRICT")
    item_id: int = Field(foreign_key="item.id", unique=True)
    checked_out_at: datetime
    due_on: date
    renewals: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column())


class DailyCount(SQLModel, table=True):
    """Anonymous statistics (業務統計): counts per day, branch and material type only."""

    __tablename__ = "daily_count"
    day: date = Field(primary_key=True)
    branch_id: int = Field(primary_key=True, foreign_key="branch.id")
    material_type: str = Field(primary_key=True, max_length=20)
    event: str = Field(primary_key=True, max_length=20)
    count: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column())


class Booklist(SQLModel, table=True):
    """My Booklist: ciphertext only. The browser encrypts; the server never sees the list.

    One row per patron. `wrapped_key` is the random data key wrapped (AES-KW) by a key
    derived in the browser from the password (PBKDF2 `kdf_*`); NULL after a password reset
    until the patron restores it with the recovery key (`recovery_*`).
    """

    __tablename__ = "booklist"
    patron_id: int = Field(primary_key=True, foreign_key="patron.id", ondelete="CASCADE")
    key_id: str = Field(max_length=32)
    kdf_salt: str | None = Field(default=None, max_length=64)
    kdf_iterations: int
    wrapped_key: str | None = Field(default=None, max_length=128)
    recovery_salt: str | None = Field(default=None, max_length=64)
    recovery_wrapped_key: str | None = Field(default=None, max_length=128)
    version: int
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int
    created_at: datetime
    updated_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


# Core Table objects for SQL built without the ORM (typed columns: dates come back as dates).
TABLES = SQLModel.metadata.tables


# Staff console (issue 4) ----------------------------------------------------------------


class StaffAccount(SQLModel, table=True):
    """A personal staff account (seed 001: name, affiliation, ID, role, registered and end
    dates, password). No password and no second factor until its holder enrols."""

    __tablename__ = "staff_account"
    __table_args__ = (
        UniqueConstraint("library_id", "staff_code", name="uq_staff_account_library_code"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    staff_code: str = Field(max_length=20)  # the staff ID used to log in
    name: str = Field(max_length=100)
    affiliation: str = Field(max_length=100)
    branch_id: int = Field(foreign_key="branch.id")
    role: str = Field(max_length=20)
    duties: str = Field(default="", max_length=200)  # comma-separated duty codes
    registered_on: date
    ends_on: date | None = None  # from the day after, no login and no session
    password_hash: str | None = Field(default=None, max_length=200)
    password_set_at: datetime | None = None
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_confirmed: bool = False
    totp_last_step: int = 0
    enrol_hash: str | None = Field(default=None, max_length=64)
    enrol_expires_at: datetime | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class StaffPasswordHistory(SQLModel, table=True):
    __tablename__ = "staff_password_history"
    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_account.id", ondelete="CASCADE", index=True)
    password_hash: str = Field(max_length=200)
    set_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


class StaffRecoveryCode(SQLModel, table=True):
    __tablename__ = "staff_recovery_code"
    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_account.id", ondelete="CASCADE", index=True)
    code_hash: str = Field(max_length=64)
    library_id: int | None = Field(default=None, sa_column=library_column())


class StaffSession(SQLModel, table=True):
    """A staff browser; like web_session, only the SHA-256 of the cookie token is stored."""

    __tablename__ = "staff_session"
    id: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(foreign_key="staff_account.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    second_factor: bool = False
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    counter_state: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    library_id: int | None = Field(default=None, sa_column=library_column())


class StaffAudit(SQLModel, table=True):
    """Append-only (database triggers refuse UPDATE and DELETE): who looked at whose
    personal data, which field groups, from which screen — never the values."""

    __tablename__ = "staff_audit"
    __table_args__ = (
        Index("ix_staff_audit_patron", "patron_id", "at"),
        Index("ix_staff_audit_staff", "staff_id", "at"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    staff_id: int  # no foreign key: the row outlives any change to the account
    staff_code: str = Field(max_length=20)
    branch_id: int
    patron_id: int | None = None
    field_groups: str = Field(max_length=200)
    screen: str = Field(max_length=40)
    action: str = Field(max_length=20)  # view, edit, search; account_* (db.staff)
    outcome: str = Field(max_length=20)  # allowed, refused
    # A manager's action on a staff account: the account acted on (patron_id is then NULL).
    target_staff_code: str | None = Field(default=None, max_length=20)
    # A code-table change (migration 0029, db.codes): JSON {"field": [before, after], …}.
    # Code-table values only, never a patron's.
    changes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- holds (issue 5) ------------------------------------------------------------------


class Hold(SQLModel, table=True):
    """A reservation (予約) of a title: exists only while it is active.

    Cancelled, expired and collected reservations are deleted (only anonymous daily counts
    remain). The queue position is derived (ORDER BY placed_at, id), never stored. `item_id`
    is set once a copy is assigned: state `in_transit` (on its way to the pickup branch) or
    `ready` (on the hold shelf until `ready_until`, a library-local date).
    """

    __table_args__ = (
        UniqueConstraint("patron_id", "work_id", name="uq_hold_patron_work"),
        UniqueConstraint("item_id", name="uq_hold_item"),
        Index("ix_hold_work_queue", "work_id", "placed_at", "id"),
        Index("ix_hold_patron", "patron_id"),
        Index("ix_hold_state_ready_until", "state", "ready_until"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE")
    work_id: int = Field(foreign_key="work.id", ondelete="CASCADE")
    pickup_branch_id: int = Field(foreign_key="branch.id")
    placed_at: datetime
    state: str = Field(max_length=20)  # waiting, pulling (db.pulling), in_transit, ready
    item_id: int | None = Field(default=None, foreign_key="item.id")
    ready_until: date | None = None
    suspended_until: date | None = None  # skipped for assignment while today < this
    # The outbox row of the ready-for-pickup notice (migration 0013): withdrawn, or emptied
    # if in doubt, in the transaction that ends the reservation.
    notice_mail_id: int | None = None
    # Series reservations, step back and the estimate memo (migration 0019, db.series).
    request_id: int | None = Field(default=None, foreign_key="hold_request.id", index=True)
    sequence: int | None = None  # 1-based volume order within its request
    step_back_passes: int = 0  # copies this reservation lets go to the next in line
    step_back_until: date | None = None  # skipped while today < this (letting others first)
    # The last estimate the patron acknowledged (a window and how many were ahead), so the
    # page can say that it changed and why. Deleted with the reservation.
    est_from: date | None = None
    est_to: date | None = None
    est_ahead: int | None = None
    est_on: date | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class HoldUndoUsed(SQLModel, table=True):
    """An undo note (db.hold_undo) that put its cancelled reservation back: a note works once.

    The reservation's id names its one cancellation (the row is deleted by it and its id is
    never handed out again); no patron, no title. Rows older than the undo window are of no
    use and go with the retention job.
    """

    __tablename__ = "hold_undo_used"
    hold_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    cancelled_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


class HoldRequest(SQLModel, table=True):
    """A series reservation (シリーズ予約): several holds placed as one request (db.series).

    Exists only while one of its holds does. `mode` is `in_order` (a volume waits until the
    earlier ones are collected) or `together` (copies are set aside until all are in).
    """

    __tablename__ = "hold_request"
    __table_args__ = (Index("ix_hold_request_patron", "patron_id"), _NEVER_REUSED)
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE")
    mode: str = Field(max_length=20)
    created_at: datetime
    paused_on: date | None = None  # in order: an earlier volume expired uncollected
    released_on: date | None = None  # together: the set waited too long, delivered as it comes
    library_id: int | None = Field(default=None, sa_column=library_column())


class NoticePreference(SQLModel, table=True):
    """When the due-date reminder comes; no row means the default (none). Whether each kind
    of notice is mailed at all is `notice_setting` (migration 0024 moved `hold_ready` there)."""

    __tablename__ = "notice_preference"
    patron_id: int = Field(primary_key=True, foreign_key="patron.id", ondelete="CASCADE")
    due_reminder_days: int | None = None  # None: no due-date reminder
    library_id: int | None = Field(default=None, sa_column=library_column())


class LoanReminder(SQLModel, table=True):
    """A due-date reminder was queued for this loan; goes with the loan (cascade)."""

    __tablename__ = "loan_reminder"
    loan_id: int = Field(primary_key=True, foreign_key="loan.id", ondelete="CASCADE")
    # The outbox row of the reminder (one mail may remind of several loans). A return
    # withdraws it while unsent: no queued mail may link a patron to a returned item.
    mail_id: int | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class OverdueNotice(SQLModel, table=True):
    """An overdue notice was queued for this loan (migration 0024); goes with the loan."""

    __tablename__ = "overdue_notice"
    loan_id: int = Field(primary_key=True, foreign_key="loan.id", ondelete="CASCADE")
    # The outbox row (one mail may name several loans): a return withdraws it while unsent.
    mail_id: int | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- the library calendar (issue 12, migration 0018) ------------------------------------


class BranchHours(SQLModel, table=True):
    """A branch's regular week: one row per weekday (0 = Monday), closed or its hours
    ("HH:MM", "" when not stated). A weekday without a row is open (db.calendar)."""

    __tablename__ = "branch_hours"
    branch_id: int = Field(primary_key=True, foreign_key="branch.id", ondelete="CASCADE")
    weekday: int = Field(primary_key=True)
    closed: bool = False
    opens: str = Field(default="", max_length=5)
    closes: str = Field(default="", max_length=5)
    library_id: int | None = Field(default=None, sa_column=library_column())


class BranchClosure(SQLModel, table=True):
    """A dated closure of a branch, one day or a range (inclusive): 年末年始, 特別整理期間 …"""

    __tablename__ = "branch_closure"
    __table_args__ = (Index("ix_branch_closure_branch_ends", "branch_id", "ends_on", "starts_on"),)
    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branch.id", ondelete="CASCADE")
    starts_on: date
    ends_on: date
    kind: str = Field(max_length=20)  # db.calendar.CLOSURE_KINDS
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- catalogue imports (issue 11) ---------------------------------------------------------


class ImportRun(SQLModel, table=True):
    """A catalogue import in progress: written before its first batch, counted with every
    batch, deleted after its last. One left behind is an import that was killed."""

    __tablename__ = "import_run"
    id: int | None = Field(default=None, primary_key=True)
    file_path: str = Field(max_length=1000, index=True)
    started_at: datetime
    records_done: int
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- loan rules (issue 12) ------------------------------------------------------------


class LoanRule(SQLModel, table=True):
    """Loan rules per patron category × material type (migration 0020), kept by managers:
    loan period, items of this type a patron may have out, renewals, and whether the
    counter refuses ("block") or warns ("warn") a patron with overdue items or at a limit."""

    __tablename__ = "loan_rule"
    __table_args__ = (
        ForeignKeyConstraint(
            ["library_id", "material_type"],
            ["material_type.library_id", "material_type.code"],
            ondelete="CASCADE",
        ),
    )
    category: str = Field(primary_key=True, max_length=20)  # db.rules.CATEGORIES
    material_type: str = Field(primary_key=True, max_length=20)
    loan_days: int  # 0: not lent to this category
    max_items: int
    max_renewals: int
    enforce: str = Field(default="block", max_length=10)  # block, warn
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


# --- reference service (issue 14, migration 0022) ---------------------------------------


class ReferenceQuestion(SQLModel, table=True):
    """A reference question (レファレンス) and its state (db.reference: the state machine).

    The personal link (patron, category) lives only here: a closed question is deleted with
    its thread `reference_retention_days` after closing (db.reference), and a patron may
    delete a closed one at any time. What outlives it is anonymous: a published
    `reference_case` and `reference_count`."""

    __tablename__ = "reference_question"
    __table_args__ = (
        Index("ix_reference_question_patron", "patron_id", "created_at"),
        Index("ix_reference_question_status", "status", "created_at"),
        Index("ix_reference_question_closed", "closed_at"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    # NULL: asked at the desk or by phone for nobody registered (staff side).
    patron_id: int | None = Field(default=None, foreign_key="patron.id", ondelete="CASCADE")
    category: str | None = Field(default=None, max_length=20)  # db.rules.CATEGORIES
    status: str = Field(max_length=20)  # received, investigating, answered, closed
    question: str = Field(sa_column=Column(Text, nullable=False))
    checked: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    useful_by: date | None = None  # the answer is of use until this library-local date
    notify_email: bool = False  # mail "your answer is ready" (else only My Library)
    # The patron has not been shown the latest answer yet (/my lists it): a flag, no time.
    answer_unread: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime
    updated_at: datetime
    answered_at: datetime | None = None
    closed_at: datetime | None = None  # retention counts from here
    assigned_staff_id: int | None = Field(
        default=None, foreign_key="staff_account.id", ondelete="SET NULL"
    )
    # The outbox row of the "answer is ready" notice: withdrawn when the question goes.
    notice_mail_id: int | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class ReferenceMessage(SQLModel, table=True):
    """One message of a question's thread: a patron's follow-up, a staff answer, or a staff
    note (`internal`: never shown to the patron)."""

    __tablename__ = "reference_message"
    __table_args__ = (
        Index("ix_reference_message_question", "question_id", "created_at"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="reference_question.id", ondelete="CASCADE")
    author: str = Field(max_length=10)  # patron, staff
    staff_id: int | None = Field(default=None, foreign_key="staff_account.id", ondelete="SET NULL")
    internal: bool = False
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


class ReferenceSource(SQLModel, table=True):
    """A source cited by an answer: a record of our catalogue (`work`), a bibliographic
    citation (`text`) or a web page (`url`, http/https only). `text` always holds the
    citation, so a catalogue record deleted later is still cited."""

    __tablename__ = "reference_source"
    __table_args__ = (Index("ix_reference_source_message", "message_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="reference_message.id", ondelete="CASCADE")
    position: int = 0
    kind: str = Field(max_length=10)  # work, text, url
    work_id: int | None = Field(default=None, foreign_key="work.id", ondelete="SET NULL")
    text: str = Field(sa_column=Column(Text, nullable=False))
    library_id: int | None = Field(default=None, sa_column=library_column())


class ReferenceCase(SQLModel, table=True):
    """An anonymised case for the public collection (/reference) and the CRD export.

    Staff rewrite question and answer without anything identifying (`draft`); a second staff
    member approves (`approved`); it is public once `published`. It names no patron and
    outlives its question (`question_id` becomes NULL)."""

    __tablename__ = "reference_case"
    __table_args__ = (Index("ix_reference_case_status", "status", "published_at"),)
    id: int | None = Field(default=None, primary_key=True)
    question_id: int | None = Field(
        default=None, foreign_key="reference_question.id", ondelete="SET NULL"
    )
    status: str = Field(max_length=20)  # draft, approved, published
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    answer_process: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    pre_research: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    bibliography: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    keywords: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # " | "
    ndc: str = Field(default="", max_length=100)
    solved: bool = True
    # db.search's normalised question, answer and keywords, for the public search.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    written_by: int | None = Field(default=None, foreign_key="staff_account.id")
    approved_by: int | None = Field(default=None, foreign_key="staff_account.id")
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None = None
    published_at: datetime | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


class ReferenceCount(SQLModel, table=True):
    """Anonymous reference statistics: questions asked and answered per day and category."""

    __tablename__ = "reference_count"
    day: date = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=20)
    event: str = Field(primary_key=True, max_length=20)  # asked, answered
    count: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


# --- pre-registration (issue 13) ------------------------------------------------------


class Application(SQLModel, table=True):
    """A library-card application from the web (利用者仮登録申請, migration 0021), kept until
    staff confirm it at the counter (it becomes a patron and is deleted) or until it
    expires (db.queries.retention). It counts — enters the staff queue — once `counted_at`
    is set: at once without an email, after the emailed link is opened with one."""

    __tablename__ = "application"
    __table_args__ = (
        Index("ix_application_counted", "counted_at"),
        UniqueConstraint("library_id", "receipt_number", name="uq_application_library_receipt"),
        _NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    receipt_number: str = Field(max_length=10)  # 仮登録番号 (db.applications)
    name: str = Field(max_length=100)
    name_kana: str = Field(max_length=100)  # katakana (db.japanese_input.katakana)
    birth_date: date
    postal_code: str = Field(max_length=7)  # seven ASCII digits
    address: str = Field(sa_column=Column(Text, nullable=False))
    phone: str = Field(max_length=30)  # as typed (NFKC)
    phone_digits: str = Field(max_length=20, index=True)  # digits only, for comparison
    email: str | None = Field(default=None, max_length=254)
    email_confirmed: bool = False
    # The emailed confirmation link: only the SHA-256 of its random token (single use).
    email_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    email_token_expires_at: datetime | None = None
    category: str = Field(max_length=20)  # db.rules.CATEGORIES
    home_branch_id: int = Field(foreign_key="branch.id")
    lang: str = Field(default="ja", max_length=2)
    consent_version: str = Field(max_length=20)  # the privacy notice the applicant agreed to
    probable_duplicate: bool = False  # same name + birth date + phone as a patron or application
    created_at: datetime
    counted_at: datetime | None = None  # entered the staff queue
    expires_on: date  # the last day to come to the counter; deleted after it
    # Queued mail about it (no foreign key, as hold.notice_mail_id): withdrawn with it.
    confirm_mail_id: int | None = None
    receipt_mail_id: int | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- my data, notice settings (issue 16, migration 0024) -----------------------------------


class NoticeSetting(SQLModel, table=True):
    """A patron's choice for one kind of notice (db.notice_prefs.KINDS): mailed or not (連絡不要),
    and whether the mail may name titles. No row means the default: mailed, no titles."""

    __tablename__ = "notice_setting"
    patron_id: int = Field(primary_key=True, foreign_key="patron.id", ondelete="CASCADE")
    kind: str = Field(primary_key=True, max_length=20)
    email: bool = True
    titles: bool = False
    library_id: int | None = Field(default=None, sa_column=library_column())


class EmailConfirmation(SQLModel, table=True):
    """An address the patron typed, unused until the single-use link mailed to it is opened:
    only the SHA-256 of the link's random token is kept. One live link per patron."""

    __tablename__ = "email_confirmation"
    patron_id: int = Field(primary_key=True, foreign_key="patron.id", ondelete="CASCADE")
    address: str = Field(max_length=254)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    expires_at: datetime
    mail_id: int | None = None  # the link's outbox row: withdrawn when the link goes
    library_id: int | None = Field(default=None, sa_column=library_column())


class AddressChange(SQLModel, table=True):
    """A new address the patron asked for online: staff confirm it at the counter with ID
    (or reject it); deleted either way. One open request per patron."""

    __tablename__ = "address_change"
    __table_args__ = (_NEVER_REUSED,)
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE", unique=True)
    postal_code: str = Field(max_length=7)  # seven ASCII digits
    address: str = Field(sa_column=Column(Text, nullable=False))
    requested_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- new-arrival alerts (issue 17, migration 0026) --------------------------------------


class AlertCondition(SQLModel, table=True):
    """A patron's saved new-arrival condition (新着図書お知らせ), db.queries.alerts.

    Personal data: only its patron sees it; staff see counts; it goes with the patron
    (cascade, account deletion, retention purge)."""

    __tablename__ = "alert_condition"
    __table_args__ = (Index("ix_alert_condition_patron", "patron_id", "id"), _NEVER_REUSED)
    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(foreign_key="patron.id", ondelete="CASCADE")
    kind: str = Field(max_length=20)  # keyword, author, ndc, material_type, branch
    value: str = Field(max_length=200)  # as the patron typed or chose it
    created_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


class AlertSent(SQLModel, table=True):
    """A work already mailed for a condition: never the same work twice. The primary key is
    what makes two digest runs at once safe (the second inserts nothing, mails nothing).
    Rows older than the digest's look-back are pruned: by then the work is no candidate."""

    __tablename__ = "alert_sent"
    __table_args__ = (Index("ix_alert_sent_at", "sent_at"),)
    condition_id: int = Field(
        primary_key=True, foreign_key="alert_condition.id", ondelete="CASCADE"
    )
    work_id: int = Field(primary_key=True, foreign_key="work.id", ondelete="CASCADE")
    sent_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- library kiosks (issue 15, migration 0023) --------------------------------------------


class Terminal(SQLModel, table=True):
    """A library kiosk (館内OPAC端末) a manager registered. Its browser holds a signed cookie
    naming the row and a random key; only the SHA-256 of the key (and of a pending one-time
    enrolment link's token) is stored. Revoked: the key is gone and the browser is an
    ordinary one again (db.queries.terminals)."""

    __tablename__ = "terminal"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    branch_id: int = Field(foreign_key="branch.id")
    location: str = Field(default="", max_length=200)  # where it stands ("2階 児童室の入口")
    # Shown on its start page; a line "location: floor" also names the floor of a shelf
    # location on its shelf slips.
    floor_guide: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime
    enrol_hash: str | None = Field(default=None, max_length=64, unique=True)
    enrol_expires_at: datetime | None = None
    key_hash: str | None = Field(default=None, max_length=64)
    enrolled_at: datetime | None = None
    revoked_at: datetime | None = None
    library_id: int | None = Field(default=None, sa_column=library_column())


# --- the library's statistics (issue 16, migration 0025) -------------------------------


class RegistrationCount(SQLModel, table=True):
    """New patrons per day, home branch, patron category and age band (db.stats): no patron."""

    __tablename__ = "registration_count"
    day: date = Field(primary_key=True)
    branch_id: int = Field(primary_key=True, foreign_key="branch.id")
    category: str = Field(primary_key=True, max_length=20)
    age_band: str = Field(primary_key=True, max_length=10)
    count: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column())


class SearchCount(SQLModel, table=True):
    """Catalogue searches per day (library-wide): all, and those with no hits. Each process
    counts in memory and adds its increments here (db.stats.flush_searches)."""

    __tablename__ = "search_count"
    day: date = Field(primary_key=True)
    event: str = Field(primary_key=True, max_length=20)  # search, zero_hit
    count: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class ZeroHitSearch(SQLModel, table=True):
    """Raw zero-hit searches of days not yet aggregated: the normalised query and a keyed
    hash of the visitor's address (its daily salt derived from the server's secret key,
    never stored), one row per query and visitor and day."""

    __tablename__ = "zero_hit_search"
    day: date = Field(primary_key=True)
    query: str = Field(primary_key=True, max_length=100)
    session_hash: str = Field(primary_key=True, max_length=64)
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class ZeroHitQuery(SQLModel, table=True):
    """Aggregated zero-hit queries: how many distinct visitors' searches found nothing a day."""

    __tablename__ = "zero_hit_query"
    day: date = Field(primary_key=True)
    query: str = Field(primary_key=True, max_length=100)
    sessions: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


# --- code tables kept in the staff console (issue 19, migration 0029, db.codes) ------------


class ShelfLocation(SQLModel, table=True):
    """A shelf location (配架場所) of one branch: each building has its own shelves, so the
    same words at two branches are two rows. `code` is what item.shelf_location holds."""

    __tablename__ = "shelf_location"
    __table_args__ = (UniqueConstraint("branch_id", "code", name="uq_shelf_location_branch_code"),)
    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branch.id", ondelete="CASCADE")
    code: str = Field(max_length=100)
    names: dict[str, str] = Field(sa_column=_names_column())  # db.localized
    sort_order: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column())


class PatronCategory(SQLModel, table=True):
    """A patron category (利用者区分), once db.rules.CATEGORIES; its code is what
    patron.category, application.category and loan_rule.category hold."""

    __tablename__ = "patron_category"
    code: str = Field(primary_key=True, max_length=20)
    names: dict[str, str] = Field(sa_column=_names_column())  # db.localized
    sort_order: int = 0
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class CardNumberRule(SQLModel, table=True):
    """The card numbering rule (db.card_numbers): one row, id 1. A number is `prefix`, a
    serial of `serial_digits` digits and, with `check_digit` "luhn", a Luhn check digit."""

    __tablename__ = "card_number_rule"
    id: int = Field(default=1, primary_key=True)
    prefix: str = Field(max_length=10)
    serial_digits: int
    check_digit: str = Field(max_length=10)  # luhn, none
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class LibraryIdentity(SQLModel, table=True):
    """The library's name, short name, contact and logo: one row, id 1."""

    __tablename__ = "library_identity"
    id: int = Field(default=1, primary_key=True)
    names: dict[str, str] = Field(sa_column=_names_column())  # db.localized
    short_names: dict[str, str] = Field(sa_column=_names_column())
    address: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    phone: str = Field(default="", max_length=30)
    email: str = Field(default="", max_length=254)
    logo: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    logo_type: str = Field(default="", max_length=40)  # image/png, image/jpeg, image/webp
    updated_at: datetime | None = None
    library_id: int | None = Field(default=None, sa_column=library_column(primary_key=True))


class Announcement(SQLModel, table=True):
    """お知らせ on the home page: a text per language, shown from `starts_on` to `ends_on`
    (library-local days, inclusive; no end: until a manager ends it)."""

    __tablename__ = "announcement"
    __table_args__ = (Index("ix_announcement_window", "starts_on", "ends_on"),)
    id: int | None = Field(default=None, primary_key=True)
    texts: dict[str, str] = Field(sa_column=_names_column())  # db.localized
    starts_on: date
    ends_on: date | None = None
    created_at: datetime
    updated_at: datetime
    library_id: int | None = Field(default=None, sa_column=library_column())
