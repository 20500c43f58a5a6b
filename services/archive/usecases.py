"""Archive use cases: one unit of work each.

Event use cases get the open unit of work from `UnitOfWork.handle` (the demand's lock, inbox
claim); request use cases open their own in the caller's scope; the audit opens one per dossier.
"""

from uuid import UUID

import structlog

from shared.auth import Principal
from shared.calendar import CHINA
from shared.contracts import Event, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound

from . import domain
from .domain import Dossier, Finding, Supplement
from .store import Store

log = structlog.get_logger(__name__)


async def collect(tx: Tx[Store], event: Event) -> None:
    """Log the event; seal the dossier when this event completes the record, whichever event that is."""
    await tx.store.log_event(event)
    if await tx.store.get_dossier(event.demand_id) is not None:
        # The dossier never changes; `python -m services.archive.audit --supplement` attaches what came late.
        log.warning("event logged after its dossier was sealed", event_type=event.routing_key)
        return
    events = await tx.store.events(event.demand_id)
    if lacking := domain.missing(events):
        log.debug("dossier not sealed yet", lacking=lacking)
        return
    sealed_at = utcnow().astimezone(CHINA)
    serial = await tx.store.next_serial(event.station_id, sealed_at.year)
    dossier = domain.seal(events, serial=serial, sealed_at=sealed_at)
    await tx.store.insert_dossier(dossier)
    await tx.publish(domain.archived_event(dossier, domain.ending(events)))


async def get_dossier(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID
) -> tuple[Dossier, list[Supplement]]:
    """Opening a sealed record is audited, in the same transaction as the read."""
    async with uow.begin(principal) as tx:
        dossier = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if dossier is None:
            raise NotFound("未找到该需求的档案", "no sealed dossier for this demand")
        await tx.store.log_access(dossier, principal.subject, principal.role.value)
        return dossier, await tx.store.supplements(demand_id)


async def list_dossiers(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, limit: int, offset: int
) -> list[Dossier]:
    async with uow.begin(principal) as tx:
        return await tx.store.list_in_scope(await tx.scope(station_id), limit, offset)


async def audit(
    uow: UnitOfWork[Store], *, supplement: bool = False, page: int = 500
) -> tuple[list[Finding], list[Supplement]]:
    """Sealed dossiers that are not the whole story; with `supplement`, attach what the event log holds.

    Returns what is still found afterwards (with `supplement`, only dossiers lacking events the
    archive has not logged yet) and the supplements written.
    """
    findings: list[Finding] = []
    added_now: list[Supplement] = []
    after: UUID | None = None
    while True:
        async with uow.begin() as tx:
            dossiers = await tx.store.dossiers_after(after, page)
        if not dossiers:
            return findings, added_now
        for dossier in dossiers:
            # The demand's lock: a late event being collected right now is either in or out, not half.
            async with uow.begin(lock=dossier.demand_id) as tx:
                previous = await tx.store.supplements(dossier.demand_id)
                logged = await tx.store.events(dossier.demand_id)
                finding = domain.audit(dossier, previous, logged)
                if finding is not None and supplement and finding.unattached:
                    added = domain.supplement(finding, previous, added_at=utcnow())
                    await tx.store.add_supplement(added)
                    added_now.append(added)
                    log.info(
                        "dossier supplemented",
                        demand_id=str(dossier.demand_id),
                        archive_no=dossier.archive_no,
                        supplement_no=added.supplement_no,
                        events=len(finding.unattached),
                    )
                    finding = domain.audit(dossier, [*previous, added], logged)
            if finding is not None:
                findings.append(finding)
        after = dossiers[-1].demand_id
