"""My Library: the dashboard and current loans with renewal (貸出状況)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db import queries
from web import csrf, refusals
from web.account import login_required
from web.errors import error_response
from web.flash import flash
from web.i18n import N_
from web.sessions import current
from web.templating import render, wants_fragment


async def my_library(request: Request) -> Response:
    session = current(request)
    if session is None:
        return login_required(request)
    account = queries.get_my_account(session.patron_id)
    loans = queries.list_loans(session.patron_id)
    return render(request, "my/index.html", ctx={"account": account, "loans": loans})


async def loans_page(request: Request) -> Response:
    session = current(request)
    if session is None:
        return login_required(request)
    return render(
        request,
        "loans/list.html",
        "loans/_loans.html",
        ctx={"loans": queries.list_loans(session.patron_id), "report": None},
    )


async def renew(request: Request) -> Response:
    await csrf.checked_form(request)
    session = current(request)
    if session is None:
        return login_required(request)
    loan_id = request.path_params["loan_id"]
    try:
        loan = queries.renew_loan(session.patron_id, loan_id)
        refusal = None
    except queries.NotFound:
        # Someone else's loan, or one already returned: the same answer, 404.
        return error_response(request, 404)
    except queries.RenewalRefused as refused:
        loan = next(x for x in queries.list_loans(session.patron_id) if x.id == loan_id)
        refusal = refusals.say(request, refused)
    if wants_fragment(request):
        return render(
            request,
            "loans/list.html",
            "loans/_loan_row.html",
            status_code=200 if refusal is None else 422,
            ctx={"loan": loan, "row_message": refusal or "", "renewed": refusal is None},
        )
    response = RedirectResponse("/my/loans", status_code=303)
    if refusal is None:
        flash(request, response, N_("Renewed: %(title)s"), title=loan.title)
    else:
        flash(
            request,
            response,
            N_("Could not renew %(title)s: see the list for why."),
            title=loan.title,
        )
    return response


async def renew_all(request: Request) -> Response:
    await csrf.checked_form(request)
    session = current(request)
    if session is None:
        return login_required(request)
    report = queries.renew_all_loans(session.patron_id)
    if wants_fragment(request):
        loans = queries.list_loans(session.patron_id)
        return render(
            request, "loans/list.html", "loans/_loans.html", ctx={"loans": loans, "report": report}
        )
    response = RedirectResponse("/my/loans", status_code=303)
    flash(
        request,
        response,
        N_("Renewed %(renewed)s; %(refused)s could not be renewed."),
        renewed=len(report.renewed),
        refused=len(report.refused),
    )
    return response


routes = [
    Route("/my", my_library, methods=["GET"], name="my"),
    Route("/my/loans", loans_page, methods=["GET"], name="loans"),
    Route("/my/loans/renew-all", renew_all, methods=["POST"], name="renew_all"),
    Route("/my/loans/{loan_id:int}/renew", renew, methods=["POST"], name="renew"),
]
