"""Many libraries on one PostgreSQL (issue 21, seed 002): the library of a transaction.

A library is a tenant. Every row that belongs to one carries `library_id` (migration
0030_tenancy); the library of the work in hand is `current_library` (a context variable:
per request, per CLI command, per timer run), 1 unless someone chose. On PostgreSQL the
transaction helper (db.engine) starts every transaction with

    BEGIN; SELECT set_config('shiori.library', '<id>', true)

in the one round trip that BEGIN costs anyway, and row-level security does the rest:
each library-owned table has ENABLE + FORCE ROW LEVEL SECURITY and one policy

    USING / WITH CHECK (library_id = NULLIF(current_setting('shiori.library', true), '')::int)

so a query that forgets to filter sees only its own library's rows, a connection that never
set the library sees nothing and cannot insert (fail closed), and `library_id`'s server
default `current_setting('shiori.library')::int` puts an INSERT that does not name the
column into the transaction's library (without the setting the INSERT fails).

Roles (README, "Many libraries on one PostgreSQL"): the web processes, timers, the mail
worker and `shiori library add` connect as a role that is neither superuser nor BYPASSRLS
(a superuser bypasses every policy, FORCE or not). The owner role has BYPASSRLS and runs
migrations (so a data step sees every library; FORCE would otherwise hold even the owner
to library 1, the library of a transaction nobody chose) and `shiori backup`, which must
see every library (pg_dump turns row security off and refuses a table a policy would
filter) because a backup holds all of them. `shiori restore` loads the data before the
policies are re-created (pg_dump puts them in its post-data section).

SQLite is one library: `library_id` is 1 everywhere, there is no row-level security and
nothing changes for the user; `shiori library add` is refused.

Table by table (`OWNED` carries library_id; everything else is shared):
- shared: the bibliographic records `work`, `work_isbn`, `work_ndc` and the search index
  and token tables made beside them (`work_fts`, `work_search`, search tokens), which no
  model describes; `library` and `library_host` themselves; alembic's version table.
- owned, business keys now unique per library: `branch` (code), `item` (barcode),
  `patron` (card_number), `staff_account` (staff_code), `application` (receipt_number),
  `material_type` and `patron_category` (code: primary key (library_id, code), and the
  references to a material type are (library_id, material_type)), `loan_rule` (its key
  gains the library), the singletons `card_number_rule` and `library_identity` (id 1 per
  library), `throttle` (a key per library: counting at B never blocks A), and the
  anonymous counts keyed by day: `reference_count`, `search_count`, `zero_hit_search`,
  `zero_hit_query` (`daily_count` and `registration_count` are keyed by a branch, which
  is one library's already).
- owned, keys unchanged (ids are global serials; random token hashes stay globally
  unique): `announcement`, `branch_hours`, `branch_closure`, `shelf_location` (unique per
  branch), `import_run`, `mail_outbox`, `staff_audit`, `staff_password_history`,
  `staff_recovery_code`, `staff_session`, `web_session`, `activation_code`,
  `password_reset_link`, `email_confirmation`, `address_change`, `notice_preference`,
  `notice_setting`, `booklist`, `hold`, `hold_request`, `loan`, `loan_reminder`,
  `overdue_notice`, `alert_condition`, `alert_sent`, `reference_question`,
  `reference_message`, `reference_source`, `reference_case`, `terminal`, `daily_count`,
  `registration_count`; since, `hold_undo_used` (0033: keyed by a reservation's id).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

DEFAULT_LIBRARY = 1
DEFAULT_CODE = "default"
SETTING = "shiori.library"

current_library: ContextVar[int] = ContextVar("shiori_library", default=DEFAULT_LIBRARY)

# Tables whose rows belong to one library (see the module doc), in no particular order.
OWNED = (
    "announcement",
    "branch",
    "card_number_rule",
    "import_run",
    "library_identity",
    "mail_outbox",
    "material_type",
    "patron_category",
    "reference_count",
    "search_count",
    "staff_audit",
    "throttle",
    "zero_hit_query",
    "zero_hit_search",
    "application",
    "branch_closure",
    "branch_hours",
    "daily_count",
    "item",
    "loan_rule",
    "patron",
    "registration_count",
    "shelf_location",
    "staff_account",
    "terminal",
    "activation_code",
    "address_change",
    "alert_condition",
    "booklist",
    "email_confirmation",
    "hold_request",
    "loan",
    "notice_preference",
    "notice_setting",
    "password_reset_link",
    "reference_question",
    "staff_password_history",
    "staff_recovery_code",
    "staff_session",
    "web_session",
    "alert_sent",
    "hold",
    "hold_undo_used",
    "loan_reminder",
    "overdue_notice",
    "reference_case",
    "reference_message",
    "reference_source",
)

# The row-level security policy of every owned table (PostgreSQL). NULLIF: a pooled
# connection whose last transaction set the library reads '' afterwards, not NULL.
POLICY_EXPRESSION = f"library_id = NULLIF(current_setting('{SETTING}', true), '')::int"


def library_id() -> int:
    return current_library.get()


@contextmanager
def use_library(library: int) -> Iterator[None]:
    """Run the block's transactions in `library` (its id)."""
    token = current_library.set(int(library))
    try:
        yield
    finally:
        current_library.reset(token)


def begin_statement(library: int) -> str:
    """BEGIN and the transaction's library in one simple-query string (one round trip).
    An int, never input text: nothing to quote."""
    return f"BEGIN; SELECT set_config('{SETTING}', '{int(library)}', true)"


class TransactionLibrary(FunctionElement[int]):
    """`library_id`'s server default: the transaction's library on PostgreSQL, 1 elsewhere."""

    type = Integer()
    inherit_cache = True
    name = "transaction_library"


@compiles(TransactionLibrary)
def _default_library(_element: TransactionLibrary, _compiler: Any, **_kw: Any) -> str:
    return str(DEFAULT_LIBRARY)


@compiles(TransactionLibrary, "postgresql")
def _pg_library(_element: TransactionLibrary, _compiler: Any, **_kw: Any) -> str:
    return f"(current_setting('{SETTING}'))::integer"


def library_column(primary_key: bool = False) -> Column[int]:
    """The `library_id` column of an owned table. No Python-side default: an INSERT that
    does not name it gets the server default (never an explicit NULL or 1)."""
    return Column(
        "library_id",
        Integer,
        ForeignKey("library.id"),
        nullable=False,
        primary_key=primary_key,
        server_default=TransactionLibrary(),
    )
