"""The /staff mount: each part of the console brings its own `routes`."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from web import offload
from web.sessions import STAFF_PREFIX
from web.settings import Settings
from web.staff import (
    accounts,
    address_changes,
    audit,
    auth,
    codes,
    counter,
    guard,
    mail_failures,
    patron_holds,
    patrons,
    pull_list,
    reference,
    reference_cases,
    registrations,
    rules,
    stats,
    terminals,
)
from web.staff import calendar as calendar_screen


def mounted(settings: Settings) -> list[BaseRoute]:
    """The /staff mount, or nothing when SHIORI_STAFF_CONSOLE=false (then /staff is 404)."""
    if not settings.staff_console:
        return []
    routes = [
        *auth.routes,
        *counter.routes,
        *patrons.routes,
        *patron_holds.routes,
        *accounts.routes,
        *audit.routes,
        *mail_failures.routes,
        *pull_list.routes,
        *calendar_screen.routes,
        *rules.routes,
        *reference.routes,
        *reference_cases.routes,
        *registrations.routes,
        *address_changes.routes,
        *terminals.routes,
        *stats.routes,
        *codes.routes,
    ]
    return [
        Mount(
            STAFF_PREFIX,
            routes=offload.routes(routes, prefix="staff"),
            middleware=[Middleware(guard.NoStore)],
            name="staff",
        )
    ]
