"""Middleware: headers every response carries (CSP without inline script, no framing, no
referrer leak; on a library kiosk no-store and history that is replaced), the size limit
of every request body, and the one CSRF check for every unsafe request."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from urllib.parse import quote, unquote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import csrf, errors, forms

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        https: bool,
        session_cookie: str,
        kiosk: Callable[[Scope], bool] = lambda scope: False,
    ) -> None:
        self.app = app
        self.session_cookie = session_cookie.encode()
        # Whether a request may come from a library kiosk (web.terminals.may_be_kiosk).
        self.kiosk = kiosk
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if https:
            self.headers.append(
                (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        on_kiosk = self.kiosk(scope)
        # On a kiosk nothing is kept for the next person, anonymous searches included.
        personal = on_kiosk or self._personal(scope)
        replace_url = _kiosk_replace_url(scope) if on_kiosk else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
                if replace_url is not None and b"hx-replace-url" not in names:
                    extra.append((b"hx-replace-url", replace_url))
                if personal:
                    # Personal pages are never stored: not by the browser, not by a proxy.
                    extra = [h for h in extra if h[0] != b"cache-control"]
                    extra.append((b"cache-control", b"no-store"))
                    message["headers"] = [
                        h for h in message.get("headers", []) if h[0] != b"cache-control"
                    ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _personal(self, scope: Scope) -> bool:
        """A request that carries a session, or a page where secrets are typed."""
        path: str = scope["path"]
        if path.startswith(("/my", "/login", "/logout", "/password")):
            return True
        for name, value in scope.get("headers", []):
            if name == b"cookie" and self.session_cookie + b"=" in value:
                return True
        return False


def _kiosk_replace_url(scope: Scope) -> bytes | None:
    """For an htmx GET that swaps part of the page it is sent from (a results page, a
    facet: the swaps that push their URL), that URL, for the HX-Replace-Url header: htmx
    gives it priority over the element's hx-push-url, so the address is replaced and the
    next person's Back finds no earlier search. A fragment from another address (the
    reservation box of a record page) is not the page's address and gets none."""
    if scope["method"] != "GET":
        return None
    headers = dict(scope.get("headers", []))
    if headers.get(b"hx-request") != b"true" or headers.get(b"hx-history-restore-request"):
        return None
    current = urlsplit(headers.get(b"hx-current-url", b"").decode("latin-1")).path
    if unquote(current) != scope["path"]:
        return None
    query: bytes = scope.get("query_string", b"")
    raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
    return raw + (b"?" + query if query else b"")


class BodyTooLarge(HTTPException):
    """A request body past its route's limit (raised from the receive channel)."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimit:
    """Every request body, chunked or not, is limited before anything reads it: a declared
    Content-Length past the limit is refused unread, and the bytes of `http.request`
    messages are counted as they arrive, so a body that passes the limit ends in 413 at the
    first chunk beyond it (nothing downstream can buffer more). `routes` maps paths to a
    limit of their own; every other path has `default` (see web/limits.py).

    It sits outside everything that reads a body (the CSRF check reads forms). The 413 also
    closes the connection, so the server stops reading the rest of the body.
    """

    def __init__(self, app: ASGIApp, default: int, routes: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"], self.default)
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 413:
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send_closing)
            return
        counted = 0

        async def counting() -> Message:
            nonlocal counted
            if counted > limit:  # refused already: the rest is never read
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting, send_closing)
        except BodyTooLarge:
            if started:  # a response under way cannot become a 413
                raise
            await self._refuse(scope, send_closing)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        async def unread() -> Message:  # the page never reads the body it refuses
            return {"type": "http.disconnect"}

        await errors.error_response(Request(scope), 413)(scope, unread, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CSRFCheck:
    """Every unsafe request (POST, PUT, PATCH, DELETE) must come from a page of this site
    (`csrf.same_origin`) and carry its token (`csrf.valid`), in the `X-CSRF-Token` header
    (htmx, fetch) or in the form field `csrf_token`; else 403 before any handler runs.

    To find the field, the form is parsed here with the site's limits and left in the scope
    for the handler (`forms.read`); the body is replayed to the app as well, so nothing
    downstream depends on that. `exempt` paths change no state and take no token.
    """

    def __init__(
        self,
        app: ASGIApp,
        exempt: Collection[str] = (),
        exempt_when: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.exempt = frozenset(exempt)
        # A request that carries its own proof instead of a token (a signed one-click
        # unsubscribe link, RFC 8058): the predicate checks path and signature.
        self.exempt_when = exempt_when

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"] in self.exempt
            or (self.exempt_when is not None and self.exempt_when(scope))
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        sent = request.headers.get(csrf.HEADER, "")
        body: bytes | None = None
        if not sent and request.headers.get("content-type", "").startswith(_FORM_TYPES):
            try:
                body = await request.body()
                field = (await forms.parse(request)).get(csrf.FIELD, "")
            except HTTPException as bad:  # a form beyond the limits
                await errors.error_response(request, bad.status_code)(scope, receive, send)
                return
            sent = field if isinstance(field, str) else ""
        if not csrf.same_origin(request) or not csrf.valid(request, sent):
            await errors.error_response(request, 403)(scope, receive, send)
            return
        await self.app(scope, receive if body is None else _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives the already-read body again, then the real channel."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
