"""My Library: when staff looked at my record (date and branch only, never who)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web.guard import patron_route
from web.sessions import Current
from web.templating import render


async def staff_access(request: Request, session: Current) -> Response:
    looks = queries.list_staff_looks_at_me(session.patron_id)
    return render(request, "mydata/staff_access.html", ctx={"looks": looks})


# Part of the public site: patrons keep this page when the staff console is switched off.
routes = [patron_route("/my/staff-access", staff_access, methods=["GET"], name="my_staff_access")]
