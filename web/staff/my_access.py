"""My Library: when staff looked at my record (date and branch only, never who)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web.account import login_required
from web.sessions import current
from web.templating import render


async def staff_access(request: Request) -> Response:
    session = current(request)
    if session is None:
        return login_required(request)
    looks = queries.list_staff_looks_at_me(session.patron_id)
    return render(request, "mydata/staff_access.html", ctx={"looks": looks})


# Part of the public site: patrons keep this page when the staff console is switched off.
routes = [Route("/my/staff-access", staff_access, methods=["GET"], name="my_staff_access")]
