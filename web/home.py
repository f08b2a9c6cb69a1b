"""The pages a city library publishes besides its catalogue: 利用案内 (/guide), the privacy
notice (/privacy), both generated from the code tables, the settings and the rules, and the
library's logo (/logo) as a manager uploaded it. The home page itself is web.catalog's `/`
(the search box first), with db.queries.get_home_page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from web.calendar import weekday_names
from web.i18n import translator
from web.templating import render


def _settings_ctx(request: Request) -> dict[str, object]:
    settings = request.app.state.settings
    return {
        "guide": queries.get_library_guide(),
        "hold_limit": settings.hold_limit,
        "hold_shelf_days": settings.hold_shelf_days,
        "application_days": settings.application_days,
        "reference_retention_days": settings.reference_retention_days,
        "weekdays": weekday_names(translator(request)),
    }


async def guide(request: Request) -> Response:
    return render(request, "home/guide.html", ctx=_settings_ctx(request))


async def privacy(request: Request) -> Response:
    return render(request, "home/privacy.html", ctx=_settings_ctx(request))


async def logo(request: Request) -> Response:
    """The uploaded logo with the type its bytes were checked to be (never the upload's)."""
    image = queries.get_library_logo()
    if image is None:
        return Response(status_code=404)
    return Response(
        image.data,
        media_type=image.content_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


routes = [
    Route("/guide", guide, name="guide"),
    Route("/privacy", privacy, name="privacy_notice"),
    Route("/logo", logo, name="library_logo"),
]
