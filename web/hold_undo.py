"""The undo of a cancelled reservation: a signed note of what was cancelled.

The database keeps nothing of a cancelled reservation (db.queries.holds), so what putting it
back needs (the title's id, pickup library, its place in the queue; for a reservation that was
ready, its copy's id and last pickup day, so that it comes back ready) travels to the patron's
own page, signed for this purpose with the site's key, and comes back with the undo. The
database decides whether it is still in time, the patron's own and not used already
(`restore_hold`; a note works once, db.hold_undo); the signature only says the note was
written here. Without JavaScript the note waits in a short-lived HttpOnly cookie for the
reservations page after the redirect.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web.sessions import settings_of

COOKIE = "shiori_hold_undo"
_LIMIT = 2000  # characters of a token read from a form or cookie


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings_of(request).secret_key, salt="shiori.hold-undo")


def token(request: Request, cancelled: queries.CancelledHold) -> str:
    return _serializer(request).dumps(
        {
            "h": cancelled.hold_id,
            "p": cancelled.patron_id,
            "w": cancelled.work_id,
            "b": cancelled.pickup_branch_id,
            "pa": cancelled.placed_at.isoformat(),
            "su": cancelled.suspended_until.isoformat() if cancelled.suspended_until else None,
            "ca": cancelled.cancelled_at.isoformat(),
            "i": cancelled.ready_item_id,
            "ru": cancelled.ready_until.isoformat() if cancelled.ready_until else None,
        }
    )


def read(request: Request, raw: str) -> queries.CancelledHold | None:
    """The cancellation a token names, or None (not ours, altered, or long stale)."""
    try:
        # The database holds the real deadline by its own clock; this is only a backstop.
        data: dict[str, Any] = _serializer(request).loads(
            raw[:_LIMIT], max_age=queries.HOLD_UNDO_MINUTES * 60 * 6
        )
        patron_id, work_id = int(data["p"]), int(data["w"])
        # Signed, not encrypted: the title is looked up, never carried (a shared computer).
        title = queries.get_hold_form(patron_id, work_id).title
        item_id, until = data.get("i"), data.get("ru")  # absent from notes of waiting ones
        return queries.CancelledHold(
            hold_id=int(data["h"]),
            patron_id=patron_id,
            work_id=work_id,
            title=title,
            pickup_branch_id=int(data["b"]),
            placed_at=datetime.fromisoformat(data["pa"]),
            suspended_until=date.fromisoformat(data["su"]) if data["su"] else None,
            cancelled_at=datetime.fromisoformat(data["ca"]),
            undoable=True,
            ready_item_id=int(item_id) if item_id is not None else None,
            ready_until=date.fromisoformat(until) if until else None,
        )
    except (BadSignature, KeyError, TypeError, ValueError, queries.NotFound):
        return None


def remember(request: Request, response: Response, cancelled: queries.CancelledHold) -> None:
    """Keep the note for the page after the redirect (no JavaScript)."""
    response.set_cookie(
        COOKIE,
        token(request, cancelled),
        max_age=queries.HOLD_UNDO_MINUTES * 60,
        path="/my/holds",
        secure=settings_of(request).https,
        httponly=True,
        samesite="lax",
    )


def pending(request: Request, patron_id: int) -> tuple[str, queries.CancelledHold] | None:
    """The note waiting in the cookie, if it is this patron's."""
    raw = request.cookies.get(COOKIE, "")
    cancelled = read(request, raw) if raw else None
    if cancelled is None or cancelled.patron_id != patron_id:
        return None
    window = timedelta(minutes=queries.HOLD_UNDO_MINUTES)
    if queries.current_time() - cancelled.cancelled_at > window:
        return None
    return raw[:_LIMIT], cancelled


def forget(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/my/holds", secure=settings_of(request).https, httponly=True, samesite="lax"
    )
