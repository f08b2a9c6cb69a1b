"""Loans: the patron's list and renewals, checkout and return, and the anonymous counts.

The circulation rules themselves are db.circulation, shared with the staff counter
(db.queries.counter) and the staff's view of a patron: here is one transaction per call.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.engine import Connection

from db import circulation
from db.circulation import (
    CheckoutReceipt,
    CirculationRefused,
    DailyCountView,
    LoanView,
    PatronBlocked,
    RenewAllReport,
    RenewalRefused,
    ReturnReceipt,
)
from db.engine import reads, writes

__all__ = [
    "CheckoutReceipt",
    "CirculationRefused",
    "DailyCountView",
    "LoanView",
    "PatronBlocked",
    "RenewAllReport",
    "RenewalRefused",
    "ReturnReceipt",
    "checkout",
    "list_daily_counts",
    "list_loans",
    "renew_all_loans",
    "renew_loan",
    "return_item",
]


@reads
def list_loans(conn: Connection, now: datetime, patron_id: int) -> tuple[LoanView, ...]:
    return circulation.list_loans(conn, patron_id, now)


@writes
def renew_loan(conn: Connection, now: datetime, patron_id: int, loan_id: int) -> LoanView:
    """Renew one of the patron's loans; `RenewalRefused` says why not, `NotFound` if not theirs."""
    return circulation.renew(conn, patron_id, loan_id, now)


@writes
def renew_all_loans(conn: Connection, now: datetime, patron_id: int) -> RenewAllReport:
    return circulation.renew_all(conn, patron_id, now)


@writes
def checkout(
    conn: Connection, now: datetime, card_number: str, barcode: str, confirm: bool = False
) -> CheckoutReceipt:
    """Lend; `PatronBlocked` for overdue items or a limit (`confirm`: staff confirmed a
    warning of a "warn" rule)."""
    return circulation.checkout(conn, card_number, barcode, now, confirm)


@writes
def return_item(conn: Connection, now: datetime, barcode: str) -> ReturnReceipt:
    """Deletes the loan: afterwards nothing links the patron to the item."""
    return circulation.return_item(conn, barcode, now)


@reads
def list_daily_counts(
    conn: Connection, now: datetime, day_from: date, day_to: date
) -> tuple[DailyCountView, ...]:
    return circulation.daily_counts(conn, day_from, day_to)
