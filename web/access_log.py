"""What the access log may say about a request: its path, never its query string.

Query strings hold what people typed (search terms, card numbers, names) and some path
segments hold a one-time secret (`/staff/enrol/{token}`, `/kiosk/enrol/{token}`); neither
belongs in a log file.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
_TOKEN_IN_PATH = re.compile(r"^(/staff/enrol/|/kiosk/enrol/)[^/?]+")


def _redacted(target: str) -> str:
    path = target.split("?", 1)[0]
    return _TOKEN_IN_PATH.sub(r"\1-", path)


class RedactRequestLine(logging.Filter):
    """Rewrites uvicorn's access record (client, method, target, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], _redacted(args[2]), *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once, whatever started the server."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactRequestLine) for f in logger.filters):
        logger.addFilter(RedactRequestLine())
