"""A demand's page: the tracking sheet (跟踪单) with its timeline and every deadline, its round (重办) and
verification (核实), its survey and ratings per round, the forms of who may act on it now (办结, 核实, 评价链接,
纸质评价录入, 申诉复核: pages/rounds.py takes them), and its printable documents.

Right after registration tracking may not have heard of the demand yet (it learns from DemandSubmitted): the page
then shows what intake registered and refreshes itself until the tracking sheet is there. A demand outside the
caller's scope is 404, as the services answer it.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role

from .. import rounds
from ..client import ServiceError, Services
from ..forms import STAR_ITEMS, TECHNICIAN_ITEMS, Errors
from ..web import Api, Caller, allowed, render
from . import demand_care

router = APIRouter()
# Printed documents: static pages with their own inline styles, no scripts, shown as the service rendered them.
OVERALL_LABELS = {"very_satisfied": "非常满意", "satisfied": "满意", "average": "一般", "dissatisfied": "不满意"}
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'none'"


@dataclass
class FormState:
    """One form of the page as it is shown: its values (with the idempotency key made when it was shown) and the
    errors the service answered for them."""

    values: dict = field(default_factory=dict)
    errors: Errors = field(default_factory=Errors)


def blank(**values: str) -> FormState:
    return FormState({"idempotency_key": str(uuid.uuid4())} | values)


async def _survey(api: Services, caller: Caller, demand_id: UUID) -> tuple[dict | None, str | None]:
    """The demand's survey and its ratings (evaluation answers readers only); (None, why) when it cannot be read,
    without losing the rest of the page."""
    if caller.role not in READERS:
        return None, None
    try:
        return await api.survey(caller.token, demand_id), None
    except ServiceError as exc:
        if exc.status == 401:
            raise
        if exc.status == 404:  # evaluation has not heard of the demand yet
            return None, None
        return None, exc.message


async def demand_view(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    *,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    """The demand's page; `forms` are the forms to show as posted (with the service's errors), the others blank."""
    try:
        sheet, clock, (survey, survey_problem) = await asyncio.gather(
            api.tracking_sheet(caller.token, demand_id),
            api.clock(caller.token, demand_id),
            _survey(api, caller, demand_id),
        )
    except ServiceError as exc:
        if exc.status != 404 or caller.role not in READERS:
            raise
        # Not in tracking (yet): registered moments ago, or not this caller's at all (intake answers 404 then too).
        registered = await api.intake_demand(caller.token, demand_id)
        return render(request, "demand_pending.html", demand=registered, demand_id=demand_id)
    ratings = (survey or {}).get("ratings") or []
    states = {
        "resolve": blank(outcome="met", round=str(sheet["round"])),
        "verify": blank(),
        "rating": blank(),
        "link": blank(),
        **{f"void-{r['round']}": blank() for r in ratings},
    } | (forms or {})
    # The round the page shows is the one a resolution answers, also after an error: tracking refuses a past round.
    states["resolve"].values["round"] = str(sheet["round"])
    shown = {
        "resolve": rounds.may_resolve(sheet, caller.role),
        "verify": rounds.may_verify(sheet, caller.person),
        "rating": rounds.may_rate(survey, caller.role),
        "link": rounds.may_rate(survey, caller.role),
        **{f"void-{r['round']}": rounds.may_void(r, caller.role, survey) for r in ratings},
    }
    care = await demand_care.sections(api, caller, sheet, demand_id, forms or {})  # follow-ups, re-visits
    shown |= care.shown
    # A refusal for a form the page no longer shows (the state moved on, e.g. voided meanwhile) goes on top.
    refusals = [
        message
        for name, state in (forms or {}).items()
        if not shown.get(name)
        for message in (*state.errors.general, *state.errors.fields.values())
    ]
    return render(
        request,
        "demand.html",
        status_code=status_code,
        case=sheet,
        clock=clock,
        survey=survey,
        survey_problem=survey_problem,
        demand_id=demand_id,
        documents=caller.role in READERS,
        overall_labels=OVERALL_LABELS,
        may_dispatch=caller.role is Role.head and sheet["status"] in ("submitted", "returned", "reopened"),
        may_resolve=shown["resolve"],
        may_verify=shown["verify"],
        may_rate=shown["rating"],
        voidable=[r["round"] for r in ratings if shown[f"void-{r['round']}"]],
        refusals=refusals,
        refreshing=rounds.awaiting_sync(sheet, survey),
        forms=states,
        findings=rounds.FINDINGS,
        outcomes=rounds.OUTCOMES,
        survey_labels=rounds.SURVEY_STATUS,
        sources=rounds.SOURCES,
        stars=rounds.STARS,
        star_items=STAR_ITEMS,
        technician_items=TECHNICIAN_ITEMS,
        **care.context,
    )


@router.get("/demands/{demand_id}")
async def demand_page(request: Request, demand_id: UUID, api: Api, caller=allowed(*READERS, Role.org)) -> Response:
    return await demand_view(request, api, caller, demand_id)


async def _document(api, service: str, path: str, token: str) -> Response:
    doc = await api.document(service, path, token)
    headers = {"Content-Security-Policy": DOCUMENT_CSP, "Cache-Control": "no-store"}
    if doc.disposition:
        headers["Content-Disposition"] = doc.disposition
    return Response(doc.content, media_type=doc.media_type, headers=headers)


@router.get("/demands/{demand_id}/notice")
async def notice_html(demand_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    """受理通知书, to print from the browser."""
    return await _document(api, "intake", f"/demands/{demand_id}/notice", caller.token)


@router.get("/demands/{demand_id}/notice.pdf")
async def notice_pdf(demand_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    return await _document(api, "intake", f"/demands/{demand_id}/notice.pdf", caller.token)


@router.get("/demands/{demand_id}/sheet.pdf")
async def sheet_pdf(demand_id: UUID, api: Api, caller=allowed(*READERS, Role.org)) -> Response:
    """跟踪单 as a PDF."""
    return await _document(api, "tracking", f"/demands/{demand_id}/sheet.pdf", caller.token)
