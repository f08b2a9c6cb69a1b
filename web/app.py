"""The ASGI application: `create_app()` wires settings, database, routes and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from db import queries
from web import (
    access_log,
    account,
    alerts,
    booklist,
    burst,
    calendar,
    catalog,
    errors,
    forwarded,
    holds,
    home,
    i18n,
    kiosk,
    lang,
    library_host,
    limits,
    loans,
    mydata,
    new_arrivals,
    offload,
    opendata,
    password,
    reference,
    reference_cases,
    registration,
    search_counts,
    series_holds,
    serve,
    static_version,
    terminals,
)
from web.security import BodyLimit, CSRFCheck, SecurityHeaders
from web.sessions import PATRON
from web.settings import ROOT, Settings, load
from web.staff import my_access as staff_my_access
from web.staff import routes as staff_routes


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load()
    access_log.install()
    offload.share_the_interpreter()
    queries.configure(settings.database_url, settings.connections, settings.database_read_url)
    queries.configure_search_cache(settings.search_cache_seconds)
    queries.configure_holds(settings.hold_limit, settings.hold_shelf_days)
    queries.configure_reference(settings.reference_retention_days)
    queries.configure_password_hashing(settings.password_hashing, settings.password_threads)

    # The libraries' host names (PostgreSQL; SQLite is one library): read at start, then
    # every HOST_MAP_SECONDS.
    hosts = (
        library_host.HostMap(settings.public_url)
        if settings.database_url.startswith("postgresql")
        else None
    )
    library_host.share(hosts)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        queries.configure(settings.database_url, settings.connections, settings.database_read_url)
        if hosts is not None:
            await run_in_threadpool(hosts.preload)
        async with search_counts.flushing(queries.FLUSH_SECONDS):
            yield
        queries.dispose()

    static = ROOT / "static"
    files = StaticFiles(directory=static)
    app = Starlette(
        debug=settings.debug,
        routes=[
            *offload.routes(
                [
                    *catalog.routes,
                    *new_arrivals.routes,
                    *calendar.routes,
                    *reference_cases.routes,
                    *lang.routes,
                    *account.routes,
                    *password.routes,
                    *registration.routes,
                    *loans.routes,
                    *holds.routes,
                    *series_holds.routes,
                    *reference.routes,
                    *booklist.routes,
                    *alerts.routes,
                    *staff_my_access.routes,
                    *mydata.routes,
                    *kiosk.routes,
                    *opendata.routes,
                    *home.routes,
                ]
            ),
            *forwarded.routes,
            *staff_routes.mounted(settings),
            Mount(f"/static/{static_version.fingerprint(static)}", files, name="static"),
            Mount("/static", files, name="static_unversioned"),
        ],
        middleware=[
            # First: everything after sees the client and scheme the proxy saw.
            Middleware(forwarded.ForwardedHeaders, trusted=settings.trusted_proxies),
            Middleware(
                SecurityHeaders,
                https=settings.https,
                session_cookie=PATRON.cookie_name(settings),
                kiosk=terminals.may_be_kiosk(settings),
            ),
            # The request's library (db.tenancy), from its Host; its 404 has the headers too.
            Middleware(library_host.LibraryHost, locale_dir=settings.locale_dir, hosts=hosts),
            # Before anything reads a body; inside SecurityHeaders so its 413 page has them.
            Middleware(BodyLimit, default=limits.MAX_BODY, routes=booklist.BODY_LIMITS),
            Middleware(CSRFCheck, exempt=booklist.CSRF_EXEMPT, exempt_when=alerts.one_click_exempt),
        ],
        # By class: Starlette picks the handler of the nearest class in the exception's MRO.
        exception_handlers={
            queries.NotFound: errors.not_found,
            queries.QueryError: errors.refused,
            403: errors.http_exception,
            404: errors.http_exception,
            405: errors.http_exception,
            400: errors.http_exception,
            413: errors.http_exception,
            500: errors.server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.catalogues = i18n.Catalogues(settings.locale_dir)
    app.state.search_buckets = burst.Buckets(
        settings.search_burst, settings.search_per_minute, settings.search_burst_exempt
    )
    app.state.api_buckets = burst.Buckets(settings.api_burst, settings.api_per_minute)
    app.state.availability_cache = opendata.AvailabilityCache()
    return app


def asgi() -> Starlette:
    """Factory for uvicorn (`--factory web.app:asgi`)."""
    serve.end_with_master()
    return create_app()
