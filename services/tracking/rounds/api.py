"""HTTP route: verifying a 不满意 rating (核实) — and, when founded, reopening the demand for re-handling (重办).

The station's head, or the clerk who received the demand (首问负责人), verifies; the other clerks of the station are
refused (403), supervisors and organizations too, and another station does not find the case (404).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from shared.api import IdempotencyKey, UoW, allow
from shared.auth import STAFF, Principal
from shared.contracts import Finding
from shared.validation import RequestModel, Text

from ..api import CaseOut
from ..deps import Defaults
from . import usecases

router = APIRouter(tags=["核实与重办 / verification and re-handling"])
Staff = Annotated[Principal, allow(*STAFF)]


class VerificationIn(RequestModel):
    finding: Finding = Field(
        description="founded 情况属实，重新办理（重办）/ unfounded 情况不属实 / unreachable 无法联系企业"
    )
    reason: Annotated[Text, Field(min_length=1, max_length=2000)] = Field(
        description="核实情况与理由：企业反映了什么、查实了什么 / what the enterprise said and what was found"
    )
    evidence: Annotated[Text, Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="核实依据（可选）：通话记录、材料、现场核查等 / what the finding rests on"
    )


class VerifiedOut(CaseOut):
    verification_id: UUID = Field(description="本次核实（RatingVerified 事件）/ the RatingVerified published")
    reopening_id: UUID | None = Field(
        description="属实时的重办（DemandReopened 事件），否则为 null / the DemandReopened published when founded"
    )


@router.post(
    "/demands/{demand_id}/verification",
    response_model=VerifiedOut,
    status_code=201,
    summary="核实不满意评价（站长或首问负责人）/ verify a 不满意 rating; founded, the demand is re-handled",
    description="本轮评价为「不满意」且非最终轮（第 2 轮评价为最终评价）、未作废、未核实时可核实。"
    "属实的，需求在同一事务中进入下一轮（重办待派），重办期限为本站重办时限（工作日，自次日起算）；不属实或无法联系企业的，记录后归档。"
    " / Allowed while the round's rating is 不满意, before the final round, not voided and not verified. Founded: the"
    " demand moves to the next round (重办待派) in the same transaction, due the station's re-handling limit in"
    " working days; unfounded or unreachable: recorded, then archived.",
)
async def verify(
    demand_id: UUID,
    body: VerificationIn,
    uow: UoW,
    principal: Staff,
    defaults: Defaults,
    idempotency_key: IdempotencyKey = None,
) -> VerifiedOut:
    done = await usecases.verify(
        uow,
        principal,
        demand_id,
        finding=body.finding,
        reason=body.reason,
        evidence=body.evidence,
        defaults=defaults,
        idempotency_key=idempotency_key,
    )
    return VerifiedOut(
        **CaseOut.of(done.case, done.today).model_dump(),
        verification_id=done.verification_id,
        reopening_id=done.reopening_id,
    )
