"""Address changes patrons asked for online (web.mydata), confirmed at the counter once the
new address is seen on an identification document, or rejected
(db.queries.staff_address_changes: policy and audit)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from db import queries
from web.flash import flash
from web.i18n import N_
from web.staff.guard import denied, missing, route
from web.staff.pages import me, page
from web.templating import see_other


def _change_id(request: Request) -> int:
    change_id: int = request.path_params["change_id"]
    return change_id


async def queue_page(request: Request) -> Response:
    try:
        queue = queries.list_address_changes(me(request).actor)
    except queries.StaffRefused:
        return denied(request)
    return page(request, "staff/address_changes.html", queue=queue)


async def change_page(request: Request) -> Response:
    try:
        change = queries.get_address_change_for_staff(me(request).actor, _change_id(request))
    except queries.StaffRefused:
        return denied(request)
    except queries.NotFound:
        return missing(request)
    return page(request, "staff/address_change.html", change=change)


async def confirm(request: Request) -> Response:
    try:
        queries.confirm_address_change(me(request).actor, _change_id(request))
    except queries.StaffRefused:
        return denied(request)
    except queries.NotFound:
        return missing(request)
    response = see_other(request, "staff:address_changes")
    flash(request, response, N_("The new address is now on the patron's record."))
    return response


async def reject(request: Request) -> Response:
    try:
        queries.reject_address_change(me(request).actor, _change_id(request))
    except queries.StaffRefused:
        return denied(request)
    except queries.NotFound:
        return missing(request)
    response = see_other(request, "staff:address_changes")
    flash(request, response, N_("The request was rejected; the record is unchanged."))
    return response


routes: list[BaseRoute] = [
    route("GET", "/address-changes", queue_page, "address_changes"),
    route("GET", "/address-changes/{change_id:int}", change_page, "address_change"),
    route("POST", "/address-changes/{change_id:int}/confirm", confirm, "address_change_confirm"),
    route("POST", "/address-changes/{change_id:int}/reject", reject, "address_change_reject"),
]
