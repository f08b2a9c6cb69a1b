"""Expected refusals. Messages are fit to show a patron: Japanese first, then English."""

from __future__ import annotations


class QueryError(Exception):
    """A refusal the caller should show, not a bug."""


class NotFound(QueryError):
    """No such row for this caller (another patron's row is NotFound too, never 403)."""


class ImportRefused(QueryError):
    """A catalog file that cannot be imported at all; nothing was written."""


class TooManyAttempts(QueryError):
    """A throttled secret check (see db.throttle), where saying so reveals nothing."""

    def __init__(self) -> None:
        super().__init__(
            "試行回数が多すぎます。しばらくしてからお試しください。 / "
            "Too many attempts. Please wait a while and try again."
        )
