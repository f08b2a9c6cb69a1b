"""A per-process cache of ranked search pages.

Ranking is the expensive part of a search and popular searches repeat, so each worker keeps
recent ranked pages for a short time. Only ids and counts are cached: titles and copy
availability are read fresh for every page. Searches filtered by "on the shelf at a branch"
are never cached (availability changes all day); catalog imports clear the cache, and other
processes see a change within the time to live.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

MAX_ENTRIES = 5000

_lock = threading.Lock()
_entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
_seconds = 0.0


def configure(seconds: float) -> None:
    global _seconds
    with _lock:
        _seconds = max(0.0, seconds)
        _entries.clear()


def clear() -> None:
    with _lock:
        _entries.clear()


def get(key: Hashable) -> Any | None:
    if _seconds <= 0:
        return None
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
    with _lock:
        _entries[key] = (time.monotonic(), value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
