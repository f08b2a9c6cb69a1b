"""Reservations (予約): reserve a title, My Library → reservations, notice settings.

Every POST works without JavaScript (303 + flash) and with htmx (the row or form region is
swapped in place; refusals come back as 422 with the message next to the control).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web import forms, hold_undo, refusals, terminals
from web.flash import flash
from web.guard import patron_route
from web.i18n import N_, translator
from web.sessions import Current
from web.templating import render, see_other, wants_fragment

# --- reserving -------------------------------------------------------------------------


async def reserve_page(request: Request, session: Current) -> Response:
    work_id = request.path_params["work_id"]
    form = queries.get_hold_form(session.patron_id, work_id)
    return render(
        request,
        "holds/reserve.html",
        "holds/_reserve_form.html",
        ctx={
            "form": form,
            "branches": queries.list_branches(),
            "pickup": terminals.pickup_default(request, form.home_branch_code),
            "error": None,
            "series": queries.get_series_choice(session.patron_id, work_id),
        },
    )


async def reserve(request: Request, session: Current) -> Response:
    data = await forms.read(request)
    work_id = request.path_params["work_id"]
    pickup = str(data.get("pickup", ""))
    try:
        hold = queries.place_hold(session.patron_id, work_id, pickup)
    except queries.HoldRefused as refused:
        form = queries.get_hold_form(session.patron_id, work_id)
        return render(
            request,
            "holds/reserve.html",
            "holds/_reserve_form.html",
            status_code=422,
            ctx={
                "form": form,
                "branches": queries.list_branches(),
                "pickup": pickup,
                "error": refusals.say(request, refused),
                "series": None,
            },
        )
    if wants_fragment(request):
        form = queries.get_hold_form(session.patron_id, work_id)
        return render(
            request,
            "holds/reserve.html",
            "holds/_reserve_form.html",
            ctx={
                "form": form,
                "branches": queries.list_branches(),
                "pickup": None,
                "error": None,
                "series": None,
            },
        )
    response = see_other(request, "holds")
    flash(
        request,
        response,
        N_("Reserved: %(title)s. You are number %(position)s in line."),
        title=hold.title,
        position=hold.position or 1,
    )
    return response


# --- My Library → reservations ---------------------------------------------------------


async def holds_page(request: Request, session: Current) -> Response:
    ctx = page_ctx(session.patron_id)
    # Without JavaScript, a cancellation just made can be undone from this page.
    note = hold_undo.pending(request, session.patron_id)
    if note is not None:
        ctx["undo"] = {"token": note[0], "cancelled": note[1]}
    return render(request, "holds/list.html", "holds/_holds.html", ctx=ctx)


def page_ctx(patron_id: int) -> dict[str, Any]:
    return {
        "holds": queries.list_holds(patron_id),
        "extras": queries.list_hold_extras(patron_id),
        "step_back_max_days": queries.STEP_BACK_MAX_DAYS,
        "branches": queries.list_branches(),
        "prefs": queries.get_notice_prefs(patron_id),
        "reminder_days": queries.HOLD_REMINDER_DAYS,
        "hold_limit": queries.hold_limit(),
        "max_suspend_days": queries.HOLD_MAX_SUSPEND_DAYS,
        "notices_saved": False,
        "undo_minutes": queries.HOLD_UNDO_MINUTES,
    }


def row(
    request: Request,
    patron_id: int,
    hold: queries.HoldView,
    message: str = "",
    error: str = "",
    status: int = 200,
    *,
    confirm_cancel: bool = False,
    count: tuple[queries.HoldView, ...] | None = None,
    until_error: str = "",
    until: str = "",
) -> Response:
    """One reservation's row of /my/holds (the htmx answer to an action on it); with
    `count`, the list's count too (out of band), after the number of reservations changed."""
    return render(
        request,
        "holds/list.html",
        "holds/_hold_row.html",
        status_code=status,
        ctx={
            "hold": hold,
            "branches": queries.list_branches(),
            "row_message": message,
            "row_error": error,
            "until_error": until_error,
            "until": until,
            "max_suspend_days": queries.HOLD_MAX_SUSPEND_DAYS,
            "extras": queries.list_hold_extras(patron_id),
            "step_back_max_days": queries.STEP_BACK_MAX_DAYS,
            "confirm_cancel": confirm_cancel,
            "undo_minutes": queries.HOLD_UNDO_MINUTES,
            "count_holds": count,
            "hold_limit": queries.hold_limit(),
        },
    )


async def _row_action(request: Request, session: Current, action: str) -> Response:
    data: FormData = await forms.read(request)
    patron_id = session.patron_id
    hold_id = request.path_params["hold_id"]
    done = {
        "pickup": N_("Pickup library changed."),
        "suspend": N_("Reservation suspended."),
        "resume": N_("Reservation resumed."),
    }.get(action, "")
    tr = translator(request)
    try:
        if action == "pickup":
            hold = queries.change_hold_pickup(patron_id, hold_id, str(data.get("pickup", "")))
        elif action == "suspend":
            until = forms.calendar_date(forms.text(data, "until", 40))
            if until is None:
                raise _BadDate()
            hold = queries.suspend_hold(patron_id, hold_id, until)
        else:
            hold = queries.resume_hold(patron_id, hold_id)
    except (queries.HoldRefused, _BadDate) as refused:
        message = (
            tr.gettext("Use a date like 2026-12-28 or 令和8年12月28日.")
            if isinstance(refused, _BadDate)
            else refusals.say(request, refused)
        )
        if wants_fragment(request):
            hold = queries.get_hold(patron_id, hold_id)
            if isinstance(refused, _BadDate):  # said next to the field, what was typed kept
                typed = forms.text(data, "until", 40)
                return row(request, patron_id, hold, until_error=message, until=typed, status=422)
            return row(request, patron_id, hold, error=message, status=422)
        ctx = page_ctx(patron_id)
        ctx["page_error"] = message
        return render(request, "holds/list.html", ctx=ctx, status_code=422)
    if wants_fragment(request):
        return row(request, patron_id, hold, message=tr.gettext(done))
    response = see_other(request, "holds")
    flash(request, response, done)
    return response


class _BadDate(Exception):
    pass


# --- cancelling: a confirmation first, then an undo for a few minutes ------------------


async def cancel_confirm(request: Request, session: Current) -> Response:
    """The question before a reservation is cancelled: in its row (htmx), or a page of its
    own whose form posts the real cancellation (no JavaScript)."""
    hold = queries.get_hold(session.patron_id, request.path_params["hold_id"])
    if wants_fragment(request):
        return row(request, session.patron_id, hold, confirm_cancel=True)
    return render(
        request,
        "holds/cancel.html",
        ctx={"hold": hold, "undo_minutes": queries.HOLD_UNDO_MINUTES},
    )


async def hold_row(request: Request, session: Current) -> Response:
    """One reservation's row (the answer to 「やめる」); the whole list without htmx."""
    hold = queries.get_hold(session.patron_id, request.path_params["hold_id"])
    if wants_fragment(request):
        return row(request, session.patron_id, hold)
    return await holds_page(request, session)


async def cancel(request: Request, session: Current) -> Response:
    cancelled = queries.cancel_hold_undoably(session.patron_id, request.path_params["hold_id"])
    if wants_fragment(request):
        undo = {"token": hold_undo.token(request, cancelled), "cancelled": cancelled}
        return render(
            request,
            "holds/list.html",
            "holds/_cancelled.html",
            ctx={
                "undo": undo if cancelled.undoable else None,
                "cancelled": cancelled,
                "holds": queries.list_holds(session.patron_id),
                "hold_limit": queries.hold_limit(),
                "undo_minutes": queries.HOLD_UNDO_MINUTES,
            },
        )
    response = see_other(request, "holds")
    if cancelled.undoable:
        hold_undo.remember(request, response, cancelled)  # the page says it, with 元に戻す
    else:
        flash(request, response, N_("Cancelled: %(title)s"), title=cancelled.title)
    return response


async def undo_cancel(request: Request, session: Current) -> Response:
    """Put a reservation cancelled a moment ago back in its place in the queue."""
    data = await forms.read(request)
    raw = forms.text(data, "token", 2000)
    cancelled = hold_undo.read(request, raw)
    try:
        if cancelled is None:
            raise queries.UndoExpired()
        hold = queries.restore_hold(session.patron_id, cancelled)
    except queries.HoldRefused as refused:
        message = refusals.say(request, refused)
        if wants_fragment(request):
            return render(
                request,
                "holds/list.html",
                "holds/_cancelled.html",
                status_code=422,
                ctx={
                    "undo": None,  # refused: no second try from this line
                    "cancelled": cancelled,
                    "undo_error": message,
                    "holds": queries.list_holds(session.patron_id),
                    "hold_limit": queries.hold_limit(),
                    "undo_minutes": queries.HOLD_UNDO_MINUTES,
                },
            )
        ctx = page_ctx(session.patron_id)
        ctx["page_error"] = message
        response = render(request, "holds/list.html", ctx=ctx, status_code=422)
        hold_undo.forget(request, response)
        return response
    done = N_("Reservation restored: %(title)s")
    if wants_fragment(request):
        return row(
            request,
            session.patron_id,
            hold,
            message=translator(request).gettext(done, title=hold.title),
            count=queries.list_holds(session.patron_id),
        )
    restored = see_other(request, "holds")
    hold_undo.forget(request, restored)
    flash(request, restored, done, title=hold.title)
    return restored


async def pickup(request: Request, session: Current) -> Response:
    return await _row_action(request, session, "pickup")


async def suspend(request: Request, session: Current) -> Response:
    return await _row_action(request, session, "suspend")


async def resume(request: Request, session: Current) -> Response:
    return await _row_action(request, session, "resume")


async def notices(request: Request, session: Current) -> Response:
    data = await forms.read(request)
    raw_days = forms.text(data, "reminder_days", 10).strip()
    days = forms.whole_number(raw_days)
    if raw_days and days not in queries.HOLD_REMINDER_DAYS:
        days = None
    queries.set_notice_prefs(session.patron_id, data.get("hold_ready") == "on", days)
    if wants_fragment(request):
        ctx = page_ctx(session.patron_id)
        ctx["notices_saved"] = True
        return render(request, "holds/list.html", "holds/_notices.html", ctx=ctx)
    response = see_other(request, "holds")
    flash(request, response, N_("Notice settings saved."))
    return response


routes = [
    patron_route("/records/{work_id:int}/hold", reserve_page, methods=["GET"], name="reserve"),
    patron_route("/records/{work_id:int}/hold", reserve, methods=["POST"], name="reserve_submit"),
    patron_route("/my/holds", holds_page, methods=["GET"], name="holds"),
    patron_route("/my/holds/notices", notices, methods=["POST"], name="hold_notices"),
    patron_route(
        "/my/holds/{hold_id:int}/cancel",
        cancel_confirm,
        methods=["GET"],
        name="hold_cancel_confirm",
    ),
    patron_route("/my/holds/{hold_id:int}/cancel", cancel, methods=["POST"], name="hold_cancel"),
    patron_route("/my/holds/{hold_id:int}", hold_row, methods=["GET"], name="hold_row"),
    patron_route("/my/holds/undo", undo_cancel, methods=["POST"], name="hold_undo"),
    patron_route("/my/holds/{hold_id:int}/pickup", pickup, methods=["POST"], name="hold_pickup"),
    patron_route("/my/holds/{hold_id:int}/suspend", suspend, methods=["POST"], name="hold_suspend"),
    patron_route("/my/holds/{hold_id:int}/resume", resume, methods=["POST"], name="hold_resume"),
]
