"""What every staff handler uses: the staff page renderer and the session the guard let in."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from web.sessions import StaffCurrent, staff
from web.staff import guard
from web.templating import render


def page(
    request: Request,
    name: str,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> HTMLResponse:
    """A staff template (or its htmx fragment) with the console's context."""
    return render(
        request,
        name,
        fragment,
        {**guard.context(request), **ctx},
        status_code=status_code,
        headers=headers,
    )


def me(request: Request) -> StaffCurrent:
    """The staff session of a route the guard let through (every level but "public")."""
    session = staff(request)
    assert session is not None  # the guard let only sessions through
    return session
