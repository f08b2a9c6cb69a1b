"""My Booklist: the page, and the small JSON API the browser's encryption talks to.

Everything readable about the list (titles, authors, notes, groups) exists only in the
patron's browser (static/js/booklist*.js, WebCrypto). This module moves base64 ciphertext,
wrapped keys and version numbers; it validates their shape and size and never logs them.
The one plaintext the server sees is the set of record ids in an availability lookup,
which the browser sends without the session cookie (see the threat model on the page).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db import queries
from web import i18n, limits, refusals
from web.guard import patron_route
from web.sessions import Current, current
from web.templating import render

_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_AVAILABILITY_IDS = 500
CREATE = "/my/booklist/create"
SAVE = "/my/booklist/save"
AVAILABILITY = "/booklist/availability"
# POSTs that change nothing and carry no token (see `availability`).
CSRF_EXEMPT = (AVAILABILITY,)
# Bodies that differ from the site's limit (`web.security.BodyLimit` enforces them).
BODY_LIMITS = {
    CREATE: limits.BOOKLIST_SEALED_BODY,
    SAVE: limits.BOOKLIST_SEALED_BODY,
    AVAILABILITY: limits.BOOKLIST_AVAILABILITY_BODY,
}


class BadPayload(Exception):
    pass


def _b64(value: object, size: int | None = None, limit: int = 64) -> bytes:
    if not isinstance(value, str) or len(value) > limit * 2:
        raise BadPayload
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadPayload from None
    if size is not None and len(raw) != size:
        raise BadPayload
    return raw


def _key_id(value: object) -> str:
    if not isinstance(value, str) or not _KEY_ID.match(value):
        raise BadPayload
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise BadPayload
    return value


def password_wrap(payload: dict[str, Any]) -> queries.BooklistPasswordWrap:
    salt = _b64(payload.get("kdf_salt"), 16)
    wrapped = _b64(payload.get("wrapped_key"), 40)  # AES-KW of a 256-bit key
    return queries.BooklistPasswordWrap(
        key_id=_key_id(payload.get("key_id")),
        kdf_salt=base64.b64encode(salt).decode(),
        kdf_iterations=_int(payload.get("kdf_iterations")),
        wrapped_key=base64.b64encode(wrapped).decode(),
    )


def _sealed(payload: dict[str, Any]) -> queries.BooklistSealed:
    return queries.BooklistSealed(
        nonce=_b64(payload.get("nonce"), 12),
        ciphertext=_b64(payload.get("ciphertext"), limit=limits.BOOKLIST_SEALED_BODY),
    )


async def _checked_json(request: Request) -> tuple[Current, dict[str, Any]]:
    """A logged-in JSON POST (its origin, CSRF token and size were checked by the
    middleware)."""
    session = current(request)
    if session is None:
        raise HTTPException(status_code=401)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status_code=403)
    try:
        payload = json.loads(await request.body())
    except ValueError:
        raise HTTPException(status_code=400) from None
    if not isinstance(payload, dict):
        raise HTTPException(status_code=400)
    return session, payload


def _json(data: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refused(request: Request, error: queries.QueryError, status_code: int = 422) -> JSONResponse:
    return _json({"error": refusals.say(request, error)}, status_code)


def _bad() -> JSONResponse:
    return _json({"error": "bad_payload"}, 400)


def _state(session: Current) -> dict[str, Any]:
    data = queries.get_booklist(session.patron_id)
    account = queries.get_my_account(session.patron_id)
    base: dict[str, Any] = {
        "patron": session.patron_id,
        "kiosk": session.kiosk,
        "min_iterations": queries.BOOKLIST_MIN_ITERATIONS,
        # Changes whenever the password does: a key derived before then is stale.
        "password_epoch": str(account.password_set_at or ""),
        "exists": data is not None,
    }
    if data is None:
        return base
    return {
        **base,
        "version": data.version,
        "key_id": data.key_id,
        "locked": data.locked,
        "kdf_salt": data.kdf_salt,
        "kdf_iterations": data.kdf_iterations,
        "wrapped_key": data.wrapped_key,
        "has_recovery": data.recovery_wrapped_key is not None,
        "recovery_salt": data.recovery_salt,
        "recovery_wrapped_key": data.recovery_wrapped_key,
        "nonce": base64.b64encode(data.nonce).decode(),
        "ciphertext": base64.b64encode(data.ciphertext).decode(),
        "size": data.size,
        "updated_at": data.updated_at.isoformat(),
    }


async def page(request: Request, session: Current) -> Response:
    return render(
        request,
        "booklist/page.html",
        ctx={"kiosk": session.kiosk, "js_texts": _js_texts(i18n.translator(request))},
    )


def _js_texts(tr: i18n.Translator) -> dict[str, object]:
    """The words booklist.js shows; it fills the %(name)s placeholders itself."""
    return {
        "booklist_added": tr.gettext("Added to My Booklist."),
        "booklist_all_groups": tr.gettext("All"),
        "booklist_copies": tr.gettext("%(available)s of %(copies)s on shelf"),
        "booklist_count": {
            "one": tr.ngettext("%(count)s item", "%(count)s items", 1),
            "other": tr.ngettext("%(count)s item", "%(count)s items", 2),
        },
        "booklist_discard_confirm": tr.gettext("This deletes the locked list for good. Continue?"),
        "booklist_loading": tr.gettext("Loading…"),
        "booklist_merged": tr.gettext("Saved together with changes made on another device."),
        "booklist_no_copies": tr.gettext("No copies"),
        "booklist_recovery_make": tr.gettext("Make a recovery key"),
        "booklist_recovery_remake": tr.gettext("Make a new recovery key"),
        "booklist_removed_title": tr.gettext("Removed “%(title)s” from My Booklist."),
        "booklist_remove_named": tr.gettext("Remove “%(title)s”"),
        "booklist_restored": tr.gettext("Put back: %(title)s"),
        "booklist_undo_named": tr.gettext("Undo removing “%(title)s”"),
        "booklist_save_failed": tr.gettext("Could not save. Check your connection and try again."),
        "booklist_saved": tr.gettext("Saved."),
        "booklist_wrong_password": tr.gettext(
            "That is not your password. Enter the password you log in with."
        ),
        "booklist_wrong_recovery": tr.gettext(
            "That recovery key does not fit. Check the key you printed or saved."
        ),
        "booklist_default_groups": [tr.gettext("Want to read"), tr.gettext("Read")],
    }


async def state(request: Request) -> Response:
    session = current(request)
    if session is None:
        return _json({"error": "login_required"}, 401)
    return _json(_state(session))


async def create(request: Request) -> Response:
    session, payload = await _checked_json(request)
    try:
        wrap = password_wrap(payload)
        sealed = _sealed(payload)
    except BadPayload:
        return _bad()
    try:
        version = queries.create_booklist(session.patron_id, wrap, sealed)
    except queries.BooklistVersionConflict as conflict:
        return _json(
            {"error": refusals.say(request, conflict), "version": conflict.current_version}, 409
        )
    except queries.QueryError as refused:
        return _refused(request, refused)
    return _json({"version": version})


async def save(request: Request) -> Response:
    session, payload = await _checked_json(request)
    try:
        key_id = _key_id(payload.get("key_id"))
        base_version = _int(payload.get("base_version"))
        sealed = _sealed(payload)
    except BadPayload:
        return _bad()
    try:
        version = queries.save_booklist(session.patron_id, key_id, base_version, sealed)
    except queries.BooklistVersionConflict as conflict:
        return _json(
            {"error": refusals.say(request, conflict), "version": conflict.current_version}, 409
        )
    except queries.NotFound as missing:
        return _refused(request, missing, 404)
    except queries.QueryError as refused:
        return _refused(request, refused)
    return _json({"version": version})


async def recovery(request: Request) -> Response:
    session, payload = await _checked_json(request)
    try:
        key_id = _key_id(payload.get("key_id"))
        wrap = None
        if not payload.get("remove"):
            wrap = queries.BooklistRecoveryWrap(
                key_id=key_id,
                recovery_salt=base64.b64encode(_b64(payload.get("recovery_salt"), 16)).decode(),
                recovery_wrapped_key=base64.b64encode(
                    _b64(payload.get("recovery_wrapped_key"), 40)
                ).decode(),
            )
    except BadPayload:
        return _bad()
    try:
        queries.set_booklist_recovery(session.patron_id, key_id, wrap)
    except queries.NotFound as missing:
        return _refused(request, missing, 404)
    return _json({"has_recovery": wrap is not None})


async def restore(request: Request) -> Response:
    session, payload = await _checked_json(request)
    try:
        wrap = password_wrap(payload)
    except BadPayload:
        return _bad()
    try:
        queries.restore_booklist_key(session.patron_id, wrap)
    except queries.QueryError as refused:
        return _refused(request, refused, 409)
    return _json({"restored": True})


async def discard(request: Request) -> Response:
    session, payload = await _checked_json(request)
    if payload.get("confirm") is not True:
        return _bad()
    return _json({"discarded": queries.discard_booklist(session.patron_id)})


async def availability(request: Request) -> Response:
    """Public catalog data for a batch of records. A POST body, not a query string, so the
    record ids stay out of proxy access logs; the browser sends it without the session
    cookie, and nothing here logs or caches it. No state changes, so no CSRF token: the
    path is in `CSRF_EXEMPT`; its body limit is in `BODY_LIMITS`."""
    try:
        payload = json.loads(await request.body())
    except ValueError:
        payload = None
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_AVAILABILITY_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)
    ):
        return _json({"error": "bad_ids"}, 400)
    rows = queries.list_record_availability(tuple(ids))
    return _json(
        {
            "records": {
                str(r.record_id): {"copies": r.copies, "available": r.available} for r in rows
            }
        }
    )


routes = [
    patron_route("/my/booklist", page, methods=["GET"], name="booklist"),
    Route("/my/booklist/state", state, methods=["GET"], name="booklist_state"),
    Route(CREATE, create, methods=["POST"], name="booklist_create"),
    Route(SAVE, save, methods=["POST"], name="booklist_save"),
    Route("/my/booklist/recovery", recovery, methods=["POST"], name="booklist_recovery"),
    Route("/my/booklist/restore", restore, methods=["POST"], name="booklist_restore"),
    Route("/my/booklist/discard", discard, methods=["POST"], name="booklist_discard"),
    Route(AVAILABILITY, availability, methods=["POST"], name="booklist_availability"),
]


def wrap_from_form(form: FormData) -> queries.BooklistPasswordWrap | None:
    """The re-wrapped data key the change-password page's script adds to its form."""
    try:
        return password_wrap(
            {
                "key_id": str(form.get("booklist_key_id", "")),
                "kdf_salt": str(form.get("booklist_kdf_salt", "")),
                "kdf_iterations": int(str(form.get("booklist_kdf_iterations", "")) or "-1"),
                "wrapped_key": str(form.get("booklist_wrapped_key", "")),
            }
        )
    except (BadPayload, ValueError):
        return None
