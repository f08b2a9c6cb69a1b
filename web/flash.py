"""One-shot messages after a redirect (POST → 303 → GET). Only msgids and values travel,
signed; the message is translated when it is shown."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from web import i18n
from web.sessions import settings_of

COOKIE = "shiori_flash"


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings_of(request).secret_key, salt="shiori.flash")


def flash(request: Request, response: Response, msgid: str, **values: str | int) -> None:
    """Remember `msgid` (marked with `N_`) and its `%(name)s` values for the next page."""
    payload = _serializer(request).dumps({"k": msgid, "v": values})
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
    msgid, values = data.get("k"), data.get("v")
    if not isinstance(msgid, str) or not isinstance(values, dict):
        return None
    return i18n.translator(request).gettext(msgid, **values)
