"""A demand's page: the tracking sheet (跟踪单) with its timeline and every deadline, and its printable documents.

Right after registration tracking may not have heard of the demand yet (it learns from DemandSubmitted): the page
then shows what intake registered and refreshes itself until the tracking sheet is there. A demand outside the
caller's scope is 404, as the services answer it.
"""

import asyncio
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role

from ..client import ServiceError
from ..web import Api, allowed, render

router = APIRouter()
# Printed documents: static pages with their own inline styles, no scripts, shown as the service rendered them.
OVERALL_LABELS = {"very_satisfied": "非常满意", "satisfied": "满意", "average": "一般", "dissatisfied": "不满意"}
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'none'"


@router.get("/demands/{demand_id}")
async def demand_page(request: Request, demand_id: UUID, api: Api, caller=allowed(*READERS, Role.org)) -> Response:
    try:
        sheet, clock = await asyncio.gather(
            api.tracking_sheet(caller.token, demand_id), api.clock(caller.token, demand_id)
        )
    except ServiceError as exc:
        if exc.status != 404 or caller.role not in READERS:
            raise
        # Not in tracking (yet): registered moments ago, or not this caller's at all (intake answers 404 then too).
        registered = await api.intake_demand(caller.token, demand_id)
        return render(request, "demand_pending.html", demand=registered, demand_id=demand_id)
    return render(
        request,
        "demand.html",
        case=sheet,
        clock=clock,
        demand_id=demand_id,
        documents=caller.role in READERS,
        overall_labels=OVERALL_LABELS,
        may_dispatch=caller.role is Role.head and sheet["status"] in ("submitted", "returned"),
    )


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
