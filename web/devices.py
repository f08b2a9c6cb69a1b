"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

After a successful login the browser keeps a signed, long-lived cookie bound to the account;
a later login to that account from this browser is counted against that device's own limit,
so nobody else's failures can lock it out. The value names no account: the account and its
library are part of what is signed (the salt), not of the cookie, so a cookie earned at one
library never lifts another's lockout of the same card number (db.tenancy). A browser
keeps a few, for a shared home computer. Kiosks get none (web.account); logging out clears
them with every other cookie.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web.sessions import settings_of
from web.settings import Settings

MAX_AGE = 365 * 24 * 3600
KEEP = 8  # accounts remembered per browser
_SEP = "~"  # neither in the nonce (URL-safe base64) nor in itsdangerous' "." signatures


def _cookie(settings: Settings) -> str:
    return "__Host-shiori_device" if settings.https else "shiori_device"


def _signer(settings: Settings, account: str) -> TimestampSigner:
    library = queries.current_library.get()
    # Library 1 keeps the salt it had before there were several: no cookie lost at upgrade.
    where = "" if library == queries.DEFAULT_LIBRARY else f"{library}\x00"
    return TimestampSigner(settings.secret_key, salt=f"shiori.device\x00{where}{account}")


def _entries(request: Request) -> list[str]:
    raw = request.cookies.get(_cookie(settings_of(request)), "")
    return [entry for entry in raw.split(_SEP)[:KEEP] if entry]


def _nonce(signer: TimestampSigner, entry: str) -> str | None:
    try:
        return signer.unsign(entry, max_age=MAX_AGE).decode()
    except BadSignature:
        return None


def known(request: Request, account: str) -> str | None:
    """The nonce of this browser's valid device cookie for `account`, else None."""
    signer = _signer(settings_of(request), account)
    return next((n for e in _entries(request) if (n := _nonce(signer, e)) is not None), None)


def remember(request: Request, response: Response, account: str) -> None:
    """A fresh device cookie for `account`, in front of the browser's others."""
    settings = settings_of(request)
    signer = _signer(settings, account)
    others = [e for e in _entries(request) if _nonce(signer, e) is None]
    fresh = signer.sign(secrets.token_urlsafe(16)).decode()
    response.set_cookie(
        _cookie(settings),
        _SEP.join([fresh, *others][:KEEP]),
        max_age=MAX_AGE,
        httponly=True,
        secure=settings.https,
        samesite="strict",
        path="/",
    )
