"""Correction and withdrawal use cases: one unit of work each, retried safely with an Idempotency-Key.

Each reads the demand FOR UPDATE, so it takes turns with the handlers of the demand's events (which
lock the same row) and decides on what intake knows at that moment: a correction is refused once
intake has seen an assignment, a withdrawal once it has seen a resolution or an ending.
"""

from dataclasses import asdict, dataclass, replace
from uuid import UUID, uuid4

from shared.auth import Principal
from shared.contracts import utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import Invalid, NotFound
from shared.idempotency import Idempotent

from ..demands import domain as demands
from ..demands import usecases as registration
from ..demands.domain import Demand
from ..demands.usecases import ItemRequest
from ..stations.domain import Station
from ..store import Store
from . import domain
from .domain import Amendment


@dataclass(frozen=True)
class CorrectionRequest:
    """What the clerk corrects; None keeps the field. Items and details replace the old ones whole."""

    reason: str
    contact: tuple[str, str] | None = None  # (name, phone)
    items: list[ItemRequest] | None = None
    description: str | None = None
    details: dict | None = None  # the detail tables, empty ones left out

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.contact, self.items, self.description, self.details))


async def _in_scope(tx: Tx[Store], principal: Principal, demand_id: UUID) -> Demand:
    demand = await tx.store.get_in_scope(demand_id, principal.db_scope, for_update=True)
    if demand is None:
        raise NotFound("未找到该需求", "demand not found")
    return demand


async def _with_corrections(tx: Tx[Store], demand: Demand) -> Demand:
    return replace(demand, corrections=tuple(await tx.store.corrections(demand.demand_id)))


async def correct_demand(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    request: CorrectionRequest,
    *,
    idempotency_key: str | None = None,
) -> Demand:
    """更正 before dispatch: the form corrected under the registration's rules, audited, the notice issued again,
    DemandCorrected published. Returns the corrected demand with its corrections."""
    if request.empty:
        raise Invalid(
            "请至少更正一项：联系人、服务项目、需求描述或明细表",
            "name at least one of contact, items, description, details to correct",
        )
    retry = Idempotent.of(idempotency_key, principal.subject, "correction", str(demand_id), asdict(request))
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is not None:
            return await _with_corrections(tx, await _in_scope(tx, principal, demand_id))
        demand = await _in_scope(tx, principal, demand_id)
        domain.check_correctable(demand)  # before the items are looked up: a dispatched demand is simply 409
        store = tx.store
        items = None
        if request.items is not None:
            entries = await registration.entries_in_force(store, demand.station_id)
            items = demands.pick_items([(i.code, i.remarks, i.materials_received) for i in request.items], entries)
        labels = {c.code: c.label for c in (await store.categories()).values()}
        corrected, correction = domain.correct(
            demand,
            Amendment(contact=request.contact, items=items, description=request.description, details=request.details),
            reason=request.reason,
            by=principal.name,
            by_id=principal.subject,
            at=utcnow(),
            correction_id=uuid4(),
            category_labels=labels,
            workday_overrides=await store.workday_overrides(),
        )
        await store.save_form(corrected)
        await store.add_correction(demand.demand_id, demand.station_id, correction)
        await tx.publish(domain.corrected_event(corrected, correction))
        await tx.remember(retry, {"demand_id": str(demand_id), "correction_id": str(correction.correction_id)})
        return await _with_corrections(tx, corrected)


async def withdraw_demand(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, reason: str, *, idempotency_key: str | None = None
) -> Demand:
    """撤回 by the station (clerk or head), until the demand is resolved or ended."""
    retry = Idempotent.of(idempotency_key, principal.subject, "withdrawal", str(demand_id), reason)
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is not None:
            return await _in_scope(tx, principal, demand_id)
        demand = await _in_scope(tx, principal, demand_id)
        return await _withdraw(tx, demand, reason, by=principal.name, by_enterprise=False, retry=retry)


async def withdraw_by_token(
    uow: UnitOfWork[Store], token: str, reason: str, *, idempotency_key: str | None = None
) -> tuple[Demand, Station]:
    """撤回 by the enterprise through its status link: the link is its only authority and reaches one demand."""
    retry = Idempotent.of(idempotency_key, registration.status_caller(token), "withdrawal", reason)
    async with uow.begin() as tx:
        demand = await registration.by_status_token(tx.store, token, for_update=True)
        if await tx.recall(retry) is None:
            demand = await _withdraw(tx, demand, reason, by=demand.enterprise_name, by_enterprise=True, retry=retry)
        return demand, await tx.store.station(demand.station_id)


async def _withdraw(
    tx: Tx[Store], demand: Demand, reason: str, *, by: str, by_enterprise: bool, retry: Idempotent | None
) -> Demand:
    withdrawn, event = domain.withdraw(demand, reason=reason, by=by, at=utcnow(), by_enterprise=by_enterprise)
    await tx.store.save_progress(withdrawn)
    await tx.publish(event)
    await tx.remember(retry, {"demand_id": str(demand.demand_id)})
    return withdrawn
