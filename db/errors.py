"""Expected refusals. Messages are fit to show a patron: Japanese first, then English."""

from __future__ import annotations


class QueryError(Exception):
    """A refusal the caller should show, not a bug."""


class NotFound(QueryError):
    """No such row for this caller (another patron's row is NotFound too, never 403)."""


class ImportRefused(QueryError):
    """A catalog file that cannot be imported at all; nothing was written."""
