"""Per-process caches: ranked search pages, and the code tables (branches, material types).

Ranking is the expensive part of a search and popular searches repeat, so each worker keeps
recent ranked pages for a short time. Only ids and counts are cached: titles and copy
availability are read fresh for every page. Searches filtered by "on the shelf at a branch"
are never cached (availability changes all day); catalog imports clear the cache, and other
processes see a change within the time to live.

Code tables change rarely and are read on every search page: each process keeps them for
CODE_TABLE_SECONDS (a change made in another process shows within that time).

Per process by design, on one host or several (issue 21): every entry is a copy of what the
database holds, never the only copy, and expires by itself, so another host's import or code
table change shows everywhere within the time to live; nothing here needs sharing.

Every entry belongs to the library of the moment (db.tenancy): one library's ranked pages,
facets or branches are never another's.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from db.tenancy import current_library

T = TypeVar("T")

MAX_ENTRIES = 5000
CODE_TABLE_SECONDS = 60.0

_lock = threading.Lock()
_entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
_seconds = 0.0
_code_tables: dict[tuple[int, str], tuple[float, tuple[Any, ...]]] = {}


def configure(seconds: float) -> None:
    global _seconds
    with _lock:
        _seconds = max(0.0, seconds)
        _entries.clear()


def clear() -> None:
    """Forget everything (a new database, an import, new reference data)."""
    with _lock:
        _entries.clear()
        _code_tables.clear()


def code_table(name: str, load: Callable[[], tuple[T, ...]]) -> tuple[T, ...]:
    """The rows of a code table, loaded at most once per CODE_TABLE_SECONDS."""
    key = (current_library.get(), name)
    cached = _code_tables.get(key)
    if cached is not None and time.monotonic() - cached[0] < CODE_TABLE_SECONDS:
        return cached[1]
    rows = load()
    _code_tables[key] = (time.monotonic(), rows)
    return rows


def get(key: Hashable) -> Any | None:
    if _seconds <= 0:
        return None
    key = (current_library.get(), key)
    with _lock:
        found = _entries.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > _seconds:
            del _entries[key]
            return None
        _entries.move_to_end(key)
        return found[1]


def put(key: Hashable, value: Any) -> None:
    if _seconds <= 0:
        return
    key = (current_library.get(), key)
    with _lock:
        _entries[key] = (time.monotonic(), value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
