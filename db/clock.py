"""The injectable clock: every "now" in db comes from here, so tests can travel in time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The library's local time zone (libraries using Shiori are in Japan): due dates, hold
# shelf days and statistics days are local dates.
LIBRARY_TZ = ZoneInfo("Asia/Tokyo")


def _system_now() -> datetime:
    return datetime.now(UTC)


_now: Callable[[], datetime] = _system_now


def now() -> datetime:
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    global _now
    _now = fn or _system_now


def naive_utc(moment: datetime) -> datetime:
    """How datetimes are stored (both engines): UTC without tzinfo."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware_utc(moment: datetime) -> datetime:
    """A stored or computed time as aware UTC, whichever way the driver returned it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def aware_utc_or_none(moment: datetime | None) -> datetime | None:
    """`aware_utc` for a nullable column."""
    return None if moment is None else aware_utc(moment)


def library_today(moment: datetime) -> date:
    """The library's local date at `moment` (naive values are taken as UTC)."""
    return aware_utc(moment).astimezone(LIBRARY_TZ).date()


def to_library_time(moment: datetime) -> datetime:
    """A moment in the library's time zone, aware (naive values are taken as UTC)."""
    return aware_utc(moment).astimezone(LIBRARY_TZ)


def local_time(moment: datetime) -> str:
    """A moment as the library's local date and time, for mail texts composed in db."""
    return to_library_time(moment).strftime("%Y-%m-%d %H:%M")
