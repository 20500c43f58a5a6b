"""Demand HTTP routes: register, list and read demands, the acceptance notice, the intake ledger."""

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from shared.api import StationPaged, UoW, in_the_loop
from shared.contracts import Channel, StationId
from shared.validation import Key, QueryDate

from .. import ledger, notice
from ..dependencies import Links, Reader, Staff
from . import usecases
from .schemas import DemandIn, DemandOut, PublicDemandIn, SubmittedOut

router = APIRouter(tags=["intake 需求受理"])


def form_of(
    body: DemandIn | PublicDemandIn, *, station_id: str, channel: Channel, first_responder: str, **extra
) -> usecases.DemandForm:
    """The use case's form from either request body (the clerk's or the enterprise's own)."""
    return usecases.DemandForm(
        station_id=station_id,
        enterprise_name=body.enterprise.name,
        credit_code=body.enterprise.credit_code,
        contact_name=body.contact.name,
        contact_phone=body.contact.phone,
        items=[usecases.ItemRequest(i.code, i.remarks, i.materials_received) for i in body.items],
        description=body.description,
        channel=channel,
        first_responder=first_responder,
        details={k: v for k, v in body.details.model_dump(mode="json").items() if v},
        **extra,
    )


async def pdf_response(n: notice.Notice) -> Response:
    # Printing takes a few hundred milliseconds of CPU: off the event loop, so requests and messages keep flowing.
    pdf = await run_in_threadpool(notice.render_pdf, n)
    filename = f"notice-{n.tracking_no}.pdf"
    disposition = f'inline; filename="{filename}"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.post("/demands", status_code=201, response_model=SubmittedOut, summary="登记需求 / register a demand")
async def submit_demand(
    body: DemandIn,
    uow: UoW,
    links: Links,
    principal: Staff,
    idempotency_key: Annotated[Key | None, Header()] = None,
    x_correlation_id: Annotated[UUID | None, Header()] = None,
) -> SubmittedOut:
    # The signed-in clerk is the first responder (首问负责) unless the form names someone else.
    named = body.first_responder and body.first_responder != principal.name
    form = form_of(
        body,
        station_id=body.station_id,
        channel=body.channel,
        first_responder=body.first_responder or principal.name,
        first_responder_id=None if named else principal.subject,
        received_at=body.received_at,
        green_channel=body.green_channel,
        green_channel_reason=body.green_channel_reason,
        visit_id=body.visit_id,
    )
    demand, token = await usecases.submit_demand(
        uow, principal, form, links, idempotency_key=idempotency_key, correlation_id=x_correlation_id
    )
    url = links.url(token)
    return SubmittedOut(**DemandOut.of(demand).model_dump(), status_url=url, notice_url=url + "/notice.pdf")


@router.get("/demands", response_model=list[DemandOut], summary="需求列表 / demands in your scope")
async def list_demands(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[str | None, Query(pattern="^(open|closed|archived)$")] = None,
    since: QueryDate | None = None,
    until: QueryDate | None = None,
) -> list[DemandOut]:
    demands = await usecases.list_demands(
        uow, principal, page.station_id, status, since, until, page.limit, page.offset
    )
    return [DemandOut.of(d) for d in demands]


@router.get("/demands/{demand_id}", response_model=DemandOut, summary="需求详情 / one demand")
async def get_demand(demand_id: UUID, uow: UoW, principal: Reader) -> DemandOut:
    # It names the enterprise's contact: read through the access log (need-to-know).
    return DemandOut.of(await usecases.get_demand(uow, principal, demand_id))


@router.get("/demands/{demand_id}/notice", response_class=HTMLResponse, summary="受理通知书（打印）/ acceptance notice")
async def notice_html(demand_id: UUID, uow: UoW, links: Links, principal: Reader) -> HTMLResponse:
    return HTMLResponse(notice.render_html(await usecases.notice(uow, principal, demand_id, links)))


@router.get("/demands/{demand_id}/notice.pdf", response_class=Response, summary="受理通知书 PDF / notice as PDF")
async def notice_pdf(demand_id: UUID, uow: UoW, links: Links, principal: Reader) -> Response:
    return await pdf_response(await usecases.notice(uow, principal, demand_id, links))


@dataclass(frozen=True)
class LedgerPeriod:
    """Which demands a ledger export lists: one station of the caller's scope (or all of it), received in a period."""

    station_id: StationId | None = None
    since: QueryDate | None = None
    until: QueryDate | None = None


Period = Annotated[LedgerPeriod, Depends(in_the_loop(LedgerPeriod))]


async def _ledger(uow, principal, period: LedgerPeriod) -> list[list]:
    return ledger.rows(await usecases.ledger(uow, principal, period.station_id, period.since, period.until))


@router.get("/ledger.csv", response_class=Response, summary="需求台账 CSV / intake ledger")
async def ledger_csv(uow: UoW, principal: Reader, period: Period) -> Response:
    table = await _ledger(uow, principal, period)
    return Response(
        ledger.to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ledger.csv"'},
    )


@router.get("/ledger.xlsx", response_class=Response, summary="需求台账 Excel / intake ledger")
async def ledger_xlsx(uow: UoW, principal: Reader, period: Period) -> Response:
    table = await _ledger(uow, principal, period)
    title = f"需求台账 {period.station_id or principal.station} {period.since or ''}–{period.until or ''}"
    return Response(
        ledger.to_xlsx(table, title),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'},
    )
