"""What the row importers read beyond the one normaliser (db.japanese_input, which reads
card numbers, barcodes, phones, postal codes, names and 西暦/和暦 dates): whether a value was
typed with full-width digits (the report says it was normalised), identifiers, counts, and
a reservation's moment (a date by the normaliser, then an optional time of day)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time

from db import clock, japanese_input

_WIDE_DIGITS = re.compile("[０-９]")
_TIME = re.compile(r"^(?P<day>.+?)[\sT]+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::[0-9]{2})?$")


def has_wide_digits(text: str) -> bool:
    return _WIDE_DIGITS.search(text) is not None


def identifier(text: str) -> str:
    """A source or NDL identifier: NFKC, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def digits_only(text: str) -> str | None:
    """A whole number typed with ASCII or full-width digits, or None."""
    typed = unicodedata.normalize("NFKC", text).strip()
    return typed if typed.isascii() and typed.isdigit() else None


def moment(text: str) -> datetime | None:
    """A date (any form japanese_input.calendar_date reads), optionally followed by a time
    "HH:MM[:SS]", as an aware moment in the library's time zone (a date alone: midnight)."""
    typed = unicodedata.normalize("NFKC", text).strip()
    found = _TIME.match(typed)
    clock_time = time(0)
    if found is not None:
        hour, minute = int(found["hour"]), int(found["minute"])
        if hour > 23 or minute > 59:
            return None
        typed, clock_time = found["day"], time(hour, minute)
    day = japanese_input.calendar_date(typed)
    if day is None:
        return None
    return datetime.combine(day, clock_time, clock.LIBRARY_TZ)
