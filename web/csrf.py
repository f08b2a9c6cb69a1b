"""CSRF tokens: a synchronizer token on every state-changing request, plus Origin and
Sec-Fetch-Site checks (the check itself is `web.security.CSRFCheck`, a middleware). Logged in,
the token belongs to the session row (the staff session's under /staff); before login it is
bound to a random cookie and signed (itsdangerous), so login itself is protected too."""

from __future__ import annotations

import hmac
import secrets
from typing import TypeVar
from urllib.parse import urlsplit

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from web.sessions import csrf_secret, settings_of

R = TypeVar("R", bound=Response)

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def _cookie(request: Request) -> str:
    return "__Host-shiori_csrf" if settings_of(request).https else "shiori_csrf"


def _signer(request: Request) -> Signer:
    return Signer(settings_of(request).secret_key, salt="shiori.csrf")


def token(request: Request) -> str:
    """The token to put in this page's forms (and htmx headers)."""
    secret = csrf_secret(request)
    if secret is not None:
        return secret
    seed = request.cookies.get(_cookie(request)) or request.scope.get("shiori_csrf_seed")
    if not seed:
        seed = secrets.token_urlsafe(16)
        request.scope["shiori_csrf_seed"] = seed  # set on the response by remember_seed()
    return _signer(request).sign(seed).decode()


def remember_seed(request: Request, response: R) -> R:
    """Send the anonymous CSRF cookie if this page created one."""
    seed = request.scope.get("shiori_csrf_seed")
    if seed and not request.cookies.get(_cookie(request)):
        response.set_cookie(
            _cookie(request),
            seed,
            httponly=True,
            secure=settings_of(request).https,
            samesite="strict",
            path="/",
        )
    return response


def same_origin(request: Request) -> bool:
    """The request comes from a page of this site (Sec-Fetch-Site, else Origin). "This site"
    is the configured public URL, or this request's own host when the host map serves it
    (another library's, web.library_host): any other Host header gets no page to post from."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    public = urlsplit(settings_of(request).public_url)
    sent = origin.rstrip("/")
    return sent == f"{public.scheme}://{public.netloc}" or sent in request.scope.get(
        "shiori_host_origins", ()
    )


def valid(request: Request, sent: str) -> bool:
    """`sent` is this request's token: its session's, or the signed anonymous seed."""
    if not sent:
        return False
    secret = csrf_secret(request)
    if secret is not None:
        # As bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise).
        return hmac.compare_digest(sent.encode(), secret.encode())
    seed = request.cookies.get(_cookie(request), "")
    try:
        return bool(seed) and _signer(request).unsign(sent).decode() == seed
    except BadSignature:
        return False
