"""Use cases: verifying a 不满意 rating (核实) and, when founded, reopening the demand (重办); one transaction each.

The case row is locked (get_visible … for_update) and what tracking publishes it also records on the case in the
same transaction: the timeline entries, the case's new round and its clock (`with_clock`), the outbox. A POST may
carry an Idempotency-Key: a retry answers with the case as it is and the events the first call published.
"""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from shared.auth import Principal
from shared.calendar import china_today
from shared.contracts import Event, Finding, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.idempotency import Idempotent

from .. import domain as cases
from ..clock import domain as clock
from ..clock.domain import ClockSettings
from ..clock.usecases import with_clock
from ..domain import DEMAND_NOT_FOUND, Case
from . import domain


@dataclass(frozen=True)
class Verified:
    """What POST /demands/{id}/verification answers: the case after it, the RatingVerified and, when founded, the
    DemandReopened it published."""

    case: Case
    verification_id: UUID
    reopening_id: UUID | None
    today: date


async def _record(tx: Tx, case: Case, event: Event, defaults: ClockSettings) -> Case:
    """What tracking publishes about a case it also records on it, in the same transaction."""
    case = await with_clock(tx, cases.apply(case, event), defaults)
    await tx.store.save(case)
    await tx.store.add_entry(event, cases.timeline_text(event))
    await tx.publish(event)
    return case


async def _locked(tx: Tx, principal: Principal, demand_id: UUID) -> Case:
    case = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "", for_update=True)
    if case is None:
        raise DEMAND_NOT_FOUND
    return case


async def verify(
    uow: UnitOfWork,
    principal: Principal,
    demand_id: UUID,
    *,
    finding: Finding,
    reason: str,
    evidence: str | None,
    defaults: ClockSettings,
    idempotency_key: str | None = None,
) -> Verified:
    """核实 of the current round's 不满意 rating by the head or the first responder; founded, the demand is reopened
    as the next round with the station's re-handling deadline, in the same transaction."""
    retry = Idempotent.of(
        idempotency_key, principal.subject, "verification", str(demand_id), finding.value, reason, evidence
    )
    now = utcnow()
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            case = await _locked(tx, principal, demand_id)
            reopening = earlier.get("reopening_id")
            return Verified(
                case, UUID(earlier["verification_id"]), UUID(reopening) if reopening else None, china_today(now)
            )
        case = await _locked(tx, principal, demand_id)
        domain.check_verifier(case, principal.role, principal.subject)
        verification = domain.verified(
            case, finding=finding, reason=reason, evidence=evidence, by=principal.name, now=now
        )
        case = await _record(tx, case, verification, defaults)
        reopening = None
        if finding is Finding.founded:
            settings = await tx.store.clock_settings(case.station_id, defaults)
            due_on = clock.rehandling_due_on(now, settings, await tx.store.calendar_overrides())
            reopening = domain.reopened(case, verification, due_on=due_on, now=now)
            case = await _record(tx, case, reopening, defaults)
        reopening_id = reopening.event_id if reopening else None
        await tx.remember(
            retry,
            {
                "verification_id": str(verification.event_id),
                "reopening_id": str(reopening_id) if reopening_id else None,
            },
        )
        return Verified(case, verification.event_id, reopening_id, china_today(now))
