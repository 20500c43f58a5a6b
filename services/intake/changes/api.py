"""Changes HTTP routes: correcting a demand's form before dispatch and withdrawing it, by the station's staff.

The enterprise withdraws through its status link (public/api.py) on the same use cases.
"""

from uuid import UUID

from fastapi import APIRouter

from shared.api import IdempotencyKey, UoW

from ..demands.schemas import DemandOut
from ..demands.usecases import ItemRequest
from ..dependencies import Staff
from . import usecases
from .schemas import CorrectionIn, WithdrawalIn

router = APIRouter(tags=["intake 需求受理"])


@router.post(
    "/demands/{demand_id}/corrections",
    status_code=201,
    response_model=DemandOut,
    summary="更正登记内容（派单前，留痕）/ correct the form before dispatch",
)
async def correct_demand(
    demand_id: UUID, body: CorrectionIn, uow: UoW, principal: Staff, idempotency_key: IdempotencyKey = None
) -> DemandOut:
    request = usecases.CorrectionRequest(
        reason=body.reason,
        contact=(body.contact.name, body.contact.phone) if body.contact else None,
        items=[ItemRequest(i.code, i.remarks, i.materials_received) for i in body.items] if body.items else None,
        description=body.description,
        details=(
            {k: v for k, v in body.details.model_dump(mode="json").items() if v} if body.details is not None else None
        ),
    )
    demand = await usecases.correct_demand(uow, principal, demand_id, request, idempotency_key=idempotency_key)
    return DemandOut.of(demand)


@router.post(
    "/demands/{demand_id}/withdrawal", response_model=DemandOut, summary="撤回需求（服务站）/ withdraw a demand"
)
async def withdraw_demand(
    demand_id: UUID, body: WithdrawalIn, uow: UoW, principal: Staff, idempotency_key: IdempotencyKey = None
) -> DemandOut:
    demand = await usecases.withdraw_demand(uow, principal, demand_id, body.reason, idempotency_key=idempotency_key)
    return DemandOut.of(demand)
