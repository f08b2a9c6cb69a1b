"""One-shot messages after a redirect (POST → 303 → GET). Only i18n keys travel, signed."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from web import i18n
from web.sessions import settings_of

COOKIE = "shiori_flash"


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings_of(request).secret_key, salt="shiori.flash")


def flash(request: Request, response: Response, key: str, **values: str | int) -> None:
    payload = _serializer(request).dumps({"k": key, "v": values})
    response.set_cookie(
        COOKIE,
        payload,
        max_age=60,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).https,
        path="/",
    )


def pop(request: Request, response: Response) -> str | None:
    """The pending message in the patron's language, and forget it."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    response.delete_cookie(COOKIE, path="/")
    try:
        data = _serializer(request).loads(raw, max_age=60)
    except BadSignature:
        return None
    key = data.get("k")
    if key not in i18n.MESSAGES:
        return None
    return i18n.translate(i18n.language(request), key, **data.get("v", {}))
