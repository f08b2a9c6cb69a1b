"""Headers every response carries (CSP without inline script, no framing, no referrer leak)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    def __init__(self, app: ASGIApp, https: bool, session_cookie: str) -> None:
        self.app = app
        self.session_cookie = session_cookie.encode()
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

        personal = self._personal(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
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
