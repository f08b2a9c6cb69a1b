"""My Library: the dashboard and current loans with renewal (貸出状況)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from db import queries
from web import refusals
from web.flash import flash
from web.guard import patron_route
from web.i18n import N_
from web.sessions import Current
from web.templating import render, see_other, wants_fragment


async def my_library(request: Request, session: Current) -> Response:
    account = queries.get_my_account(session.patron_id)
    summary = queries.get_my_summary(session.patron_id)
    return render(request, "my/index.html", ctx={"account": account, "summary": summary})


async def loans_page(request: Request, session: Current) -> Response:
    return render(
        request,
        "loans/list.html",
        "loans/_loans.html",
        ctx={"loans": queries.list_loans(session.patron_id), "report": None},
    )


async def renew(request: Request, session: Current) -> Response:
    loan_id = request.path_params["loan_id"]
    try:
        # Someone else's loan, or one already returned: NotFound, the same answer (404).
        loan = queries.renew_loan(session.patron_id, loan_id)
        refusal = None
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
    response = see_other(request, "loans")
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


async def renew_all(request: Request, session: Current) -> Response:
    report = queries.renew_all_loans(session.patron_id)
    if wants_fragment(request):
        loans = queries.list_loans(session.patron_id)
        return render(
            request, "loans/list.html", "loans/_loans.html", ctx={"loans": loans, "report": report}
        )
    response = see_other(request, "loans")
    flash(
        request,
        response,
        N_("Renewed %(renewed)s; %(refused)s could not be renewed."),
        renewed=len(report.renewed),
        refused=len(report.refused),
    )
    return response


routes = [
    patron_route("/my", my_library, methods=["GET"], name="my"),
    patron_route("/my/loans", loans_page, methods=["GET"], name="loans"),
    patron_route("/my/loans/renew-all", renew_all, methods=["POST"], name="renew_all"),
    patron_route("/my/loans/{loan_id:int}/renew", renew, methods=["POST"], name="renew"),
]
