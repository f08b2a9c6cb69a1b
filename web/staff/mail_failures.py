"""Mail the sender gave up on (`/staff/mail`): staff see it, re-queue it or dismiss it.

What is shown and audited is db.queries.staff_mail's: no subject or body, the address only
for roles that may see contact data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web import refusals
from web.flash import flash
from web.i18n import N_
from web.staff.guard import route
from web.staff.pages import me, page
from web.templating import see_other


def _page(request: Request, status_code: int = 200, error: str = "") -> Response:
    return page(
        request,
        "staff/mail.html",
        status_code=status_code,
        rows=queries.list_mail_failures(me(request).actor),
        counts=queries.get_mail_counts(),
        alert_counts=queries.count_alert_conditions(),  # counts only: conditions are personal
        error=error,
    )


async def mail_failures(request: Request) -> Response:
    return _page(request)


async def mail_resend(request: Request) -> Response:
    mail_id: int = request.path_params["mail_id"]
    try:
        queries.requeue_failed_mail(me(request).actor, mail_id)
    except queries.NotFound:
        raise  # the 404 page (create_app's handler)
    except queries.QueryError as refused:
        return _page(request, 422, refusals.say(request, refused))
    response = see_other(request, "staff:mail")
    flash(request, response, N_("Mail %(id)s will be sent again."), id=mail_id)
    return response


async def mail_dismiss(request: Request) -> Response:
    mail_id: int = request.path_params["mail_id"]
    queries.dismiss_failed_mail(me(request).actor, mail_id)
    response = see_other(request, "staff:mail")
    flash(request, response, N_("Mail %(id)s was dismissed and deleted."), id=mail_id)
    return response


routes: list[BaseRoute] = [
    route("GET", "/mail", mail_failures, "mail"),
    route("POST", "/mail/{mail_id:int}/resend", mail_resend, "mail_resend"),
    route("POST", "/mail/{mail_id:int}/dismiss", mail_dismiss, "mail_dismiss"),
]
