"""New-arrival alerts: My Library → alerts (/my/alerts), the one-click unsubscribe link of
the digest mail (/alerts/unsubscribe), and the links the digest carries.

The unsubscribe link is signed (itsdangerous, its own salt) and names a patron and the
conditions of one mail. RFC 8058: a mail provider POSTs `List-Unsubscribe=One-Click` to it
with no cookie and no CSRF token, so the CSRF middleware lets exactly that path through,
and only with a valid signature (`one_click_exempt`); a GET (a person opening the link)
shows a page with a button and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import Scope

from db import queries
from web import catalog, forms, library_host, mydata, refusals
from web.flash import flash
from web.guard import patron_route
from web.i18n import N_, translator
from web.labels import label
from web.sessions import Current, settings_of
from web.settings import Settings
from web.templating import render, see_other, wants_fragment

UNSUBSCRIBE_PATH = "/alerts/unsubscribe"
_SALT = "shiori.alerts.unsubscribe"
_TOKEN_LIMIT = 500
TEXT_KINDS = ("keyword", "author", "ndc")


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def unsubscribe_link(
    settings: Settings, patron_id: int, condition_ids: Sequence[int], base: str = ""
) -> str:
    """An absolute, signed link that removes these conditions of this patron, from `base`
    (the library's public URL; looked up when not given). It does not expire: a digest may
    be read weeks later; a removed condition stays removed."""
    token = _serializer(settings.secret_key).dumps([patron_id, sorted(condition_ids)])
    return f"{base or library_host.public_base(settings)}{UNSUBSCRIBE_PATH}?t={token}"


def _unsign(secret_key: str, token: str) -> tuple[int, list[int]] | None:
    try:
        value = _serializer(secret_key).loads(token[:_TOKEN_LIMIT])
    except BadSignature:
        return None
    match value:
        case [int() as patron_id, list() as ids] if all(isinstance(i, int) for i in ids):
            return patron_id, ids
    return None


def one_click_exempt(scope: Scope) -> bool:
    """For web.security.CSRFCheck: a POST to the unsubscribe path with a valid signature."""
    if scope.get("path") != UNSUBSCRIBE_PATH:
        return False
    request = Request(scope)
    return _unsign(settings_of(request).secret_key, request.query_params.get("t", "")) is not None


# --- My Library → alerts ---------------------------------------------------------------


def _page(
    request: Request,
    session: Current,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    notice: str = "",
) -> Response:
    """The page, or its conditions and forms (htmx); `notice` says what was just done."""
    return render(
        request,
        "alerts/page.html",
        "alerts/_alerts.html",
        status_code=status_code,
        ctx={
            "conditions": queries.list_alert_conditions(session.patron_id),
            "limit": queries.MAX_ALERT_CONDITIONS,
            "branches": queries.list_branches(),
            "material_types": queries.list_material_types(),
            "errors": errors or {},
            "values": values or {},
            "notice": translator(request).gettext(notice) if notice else "",
        },
    )


async def alerts_page(request: Request, session: Current) -> Response:
    return _page(request, session)


def _checked(form: FormData) -> tuple[str, str, str | None]:
    """(kind, value as typed, an error message id or None)."""
    kind = forms.text(form, "kind", 20)
    if kind not in queries.ALERT_KINDS:
        return "", "", N_("Choose what to watch for.")
    value = forms.text(form, "value", 200)
    stored = queries.check_alert_condition(
        kind,
        value,
        [b.code for b in queries.list_branches()],
        [m.code for m in queries.list_material_types()],
    )
    if stored is not None:
        return kind, value, None
    messages = {
        "keyword": N_("Type one or more words."),
        "author": N_("Type an author's name (kanji or reading)."),
        "ndc": N_("Type an NDC class number, such as 913 or 4 (K for children's books)."),
        "branch": N_("Choose a branch."),
        "material_type": N_("Choose a material type."),
    }
    return kind, value, messages[kind]


async def add_alert(request: Request, session: Current) -> Response:
    form = await forms.read(request)
    kind, value, problem = _checked(form)
    if problem is None:
        try:
            queries.add_alert_condition(session.patron_id, kind, value)
        except queries.AlertRefused as refused:
            problem = ""
            message = refusals.say(request, refused)
    if problem is not None:
        if problem:
            message = translator(request).gettext(problem)
        return _page(
            request,
            session,
            errors={kind or "keyword": message},
            values={kind or "keyword": value},
            status_code=422,
        )
    if wants_fragment(request):
        return _page(request, session, notice=N_("Alert saved."))
    response = see_other(request, "alerts")
    flash(request, response, N_("Alert saved."))
    return response


async def delete_alert(request: Request, session: Current) -> Response:
    # Another patron's condition, or one already deleted: NotFound (404), the same answer.
    queries.delete_alert_condition(session.patron_id, request.path_params["condition_id"])
    if wants_fragment(request):
        return _page(request, session, notice=N_("Alert deleted."))
    response = see_other(request, "alerts")
    flash(request, response, N_("Alert deleted."))
    return response


# --- one-click unsubscribe ---------------------------------------------------------------


async def unsubscribe(request: Request) -> Response:
    token = request.query_params.get("t", "")
    signed = _unsign(settings_of(request).secret_key, token)
    ctx: dict[str, Any] = {
        "token": token,
        "valid": signed is not None,
        "removed": None,
        "already": False,
    }
    if signed is None:
        return render(request, "alerts/unsubscribe.html", ctx=ctx, status_code=400)
    patron_id, condition_ids = signed
    if request.method == "POST":
        # RFC 8058's body is "List-Unsubscribe=One-Click"; the page's button sends the same.
        ctx["removed"] = queries.unsubscribe_alert_conditions(patron_id, condition_ids)
    elif not queries.alert_conditions_remaining(patron_id, condition_ids):
        ctx["already"] = True  # the link was used before: nothing left to ask about
    return render(request, "alerts/unsubscribe.html", ctx=ctx)


def queue_digests(settings: Settings) -> queries.DigestReport:
    """`shiori alerts send`: queue today's digests with absolute links from the public URL."""
    catalog_paths = Router(routes=catalog.routes)  # the record page's path, without a request
    base = library_host.public_base(settings)  # this library's, read before the digests' work

    def unsubscribe_url(patron_id: int, condition_ids: Sequence[int]) -> str:
        return unsubscribe_link(settings, patron_id, condition_ids, base)

    def record_url(work_id: int) -> str:
        return base + str(catalog_paths.url_path_for("record", work_id=work_id))

    return queries.queue_alert_digests(unsubscribe_url, record_url)


def _my_data_section(request: Request, patron_id: int) -> mydata.Section:
    """The patron's conditions on /my/data and in its downloads (web.mydata)."""
    tr = translator(request)
    names = {
        **{b.code: b.name.get(tr.lang) for b in queries.list_branches()},
        **{m.code: m.name.get(tr.lang) for m in queries.list_material_types()},
    }
    records = []
    for c in queries.list_alert_conditions(patron_id):
        shown = names.get(c.value, c.value) if c.kind in ("branch", "material_type") else c.value
        kind = label(tr, "alert_kind", c.kind)
        saved = c.created_at.isoformat()
        records.append(
            (
                mydata.Value("kind", tr.gettext("Watches"), kind, c.kind),
                mydata.Value("value", tr.gettext("Condition"), shown, c.value),
                mydata.Value("created_at", tr.gettext("Saved"), tr.datetime(c.created_at), saved),
            )
        )
    return mydata.Section(
        "alerts",
        tr.gettext("New-arrival alerts"),
        tuple(records),
        empty=tr.gettext("You have no alert conditions yet."),
        link=("alerts", tr.gettext("Your alerts in My Library")),
    )


mydata.EXTRA_SECTIONS.append(_my_data_section)

routes = [
    patron_route("/my/alerts", alerts_page, methods=["GET"], name="alerts"),
    patron_route("/my/alerts", add_alert, methods=["POST"], name="add_alert"),
    patron_route(
        "/my/alerts/{condition_id:int}/delete", delete_alert, methods=["POST"], name="delete_alert"
    ),
    Route(UNSUBSCRIBE_PATH, unsubscribe, methods=["GET", "POST"], name="alerts_unsubscribe"),
]
