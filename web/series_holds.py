"""Series reservations (シリーズ予約), stepping back and the estimate note on /my/holds.

The rules are db.series'; this module reads forms and renders. Every POST works without
JavaScript (303 + flash) and with htmx (the form, the row or the list region is swapped in
place; refusals come back as 422 with the message next to the control).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web import forms, refusals, terminals
from web.flash import flash
from web.guard import patron_route
from web.holds import page_ctx, row
from web.i18n import N_, translator
from web.sessions import Current
from web.templating import render, see_other, wants_fragment

# --- the series form -------------------------------------------------------------------


def _series_ctx(
    request: Request,
    session: Current,
    work_id: int,
    values: dict[str, Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
    form = queries.get_hold_form(session.patron_id, work_id)
    chosen = values or {}
    return {
        "work": form,
        "choice": queries.get_series_choice(session.patron_id, work_id),
        "branches": queries.list_branches(),
        "pickup": chosen.get("pickup") or terminals.pickup_default(request, form.home_branch_code),
        "mode": chosen.get("mode") or "in_order",
        "checked": chosen.get("checked"),
        "error": error,
        "done": False,
        "shelf_days": queries.hold_shelf_days(),
    }


async def series_page(request: Request, session: Current) -> Response:
    ctx = _series_ctx(request, session, request.path_params["work_id"])
    return render(request, "holds/series.html", "holds/_series_form.html", ctx=ctx)


async def series_submit(request: Request, session: Current) -> Response:
    data = await forms.read(request)
    work_id = request.path_params["work_id"]
    picked = [forms.whole_number(str(v)) for v in data.getlist("volume")]
    work_ids = [w for w in picked if w is not None]
    mode = forms.text(data, "mode", 20)
    pickup = forms.text(data, "pickup", 20)
    try:
        queries.place_series(session.patron_id, work_ids, mode, pickup, queries.hold_limit())
    except queries.SeriesRefused as refused:
        message = refusals.say(request, refused)
        title = refused.params.get("title")
        if title:
            message = translator(request).gettext(
                "%(title)s: %(reason)s", title=title, reason=message
            )
        values = {"pickup": pickup, "mode": mode, "checked": set(work_ids)}
        ctx = _series_ctx(request, session, work_id, values, message)
        return render(
            request, "holds/series.html", "holds/_series_form.html", ctx=ctx, status_code=422
        )
    if wants_fragment(request):
        ctx = _series_ctx(request, session, work_id)
        ctx["done"] = True
        return render(request, "holds/series.html", "holds/_series_form.html", ctx=ctx)
    response = see_other(request, "holds")
    flash(request, response, N_("Reserved %(count)s volumes as one request."), count=len(work_ids))
    return response


# --- actions on /my/holds --------------------------------------------------------------


def _list(
    request: Request, patron_id: int, msgid: str, error: str = "", status: int = 200
) -> Response:
    """After a request-wide action: the list region (htmx) or the page (303 + flash)."""
    if wants_fragment(request) or error:
        ctx = page_ctx(patron_id)
        ctx["list_message"] = "" if error else translator(request).gettext(msgid)
        ctx["list_error"] = error
        return render(request, "holds/list.html", "holds/_holds.html", ctx=ctx, status_code=status)
    response = see_other(request, "holds")
    flash(request, response, msgid)
    return response


async def cancel_request(request: Request, session: Current) -> Response:
    await forms.read(request)
    queries.cancel_series(session.patron_id, request.path_params["request_id"])
    return _list(request, session.patron_id, N_("The series request was cancelled."))


async def continue_request(request: Request, session: Current) -> Response:
    await forms.read(request)
    queries.continue_series(session.patron_id, request.path_params["request_id"])
    return _list(request, session.patron_id, N_("The series continues with the next volume."))


async def _row_action(request: Request, session: Current, action: str) -> Response:
    data = await forms.read(request)
    patron_id = session.patron_id
    hold_id = request.path_params["hold_id"]
    tr = translator(request)
    done = {
        "step_back": N_("You let the next reader go first; you keep your reservation."),
        "undo": N_("You are back in your place in line."),
        "seen": N_("Estimate noted."),
    }[action]
    try:
        if action == "step_back":
            days: int | None = None
            if forms.text(data, "how", 10) == "days":
                days = forms.whole_number(forms.text(data, "days", 10))
                if days is None:
                    raise queries.SeriesRefused("step_back_days", max=queries.STEP_BACK_MAX_DAYS)
            queries.step_back(patron_id, hold_id, days)
        elif action == "undo":
            queries.undo_step_back(patron_id, hold_id)
        else:
            queries.note_estimate_seen(patron_id, hold_id)
    except queries.SeriesRefused as refused:
        message = refusals.say(request, refused)
        if wants_fragment(request):
            return row(
                request, patron_id, queries.get_hold(patron_id, hold_id), error=message, status=422
            )
        return _list(request, patron_id, "", error=message, status=422)
    hold = queries.get_hold(patron_id, hold_id)
    if wants_fragment(request):
        return row(request, patron_id, hold, message=tr.gettext(done))
    response = see_other(request, "holds")
    flash(request, response, done)
    return response


async def step_back(request: Request, session: Current) -> Response:
    return await _row_action(request, session, "step_back")


async def undo_step_back(request: Request, session: Current) -> Response:
    return await _row_action(request, session, "undo")


async def estimate_seen(request: Request, session: Current) -> Response:
    return await _row_action(request, session, "seen")


routes = [
    patron_route(
        "/records/{work_id:int}/hold/series", series_page, methods=["GET"], name="reserve_series"
    ),
    patron_route(
        "/records/{work_id:int}/hold/series",
        series_submit,
        methods=["POST"],
        name="reserve_series_submit",
    ),
    patron_route(
        "/my/holds/series/{request_id:int}/cancel",
        cancel_request,
        methods=["POST"],
        name="series_cancel",
    ),
    patron_route(
        "/my/holds/series/{request_id:int}/continue",
        continue_request,
        methods=["POST"],
        name="series_continue",
    ),
    patron_route(
        "/my/holds/{hold_id:int}/step-back", step_back, methods=["POST"], name="hold_step_back"
    ),
    patron_route(
        "/my/holds/{hold_id:int}/step-back/undo",
        undo_step_back,
        methods=["POST"],
        name="hold_step_back_undo",
    ),
    patron_route(
        "/my/holds/{hold_id:int}/estimate-seen",
        estimate_seen,
        methods=["POST"],
        name="hold_estimate_seen",
    ),
]
