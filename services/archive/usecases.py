"""Archive use cases: one transaction each."""

from uuid import UUID

from shared.auth import Principal, narrow
from shared.calendar import CHINA
from shared.contracts import Event, utcnow
from shared.errors import NotFound
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime

from . import domain, store
from .domain import Dossier

CONSUMER = "archive"


class Counters:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.sealed = rt.metrics.counter("qs_dossiers_sealed_total", "Dossiers sealed, by station", ["station_id"])


async def collect(rt: ServiceRuntime, event: Event) -> None:
    """Log the event; seal the dossier when this event completes it."""
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        await store.log_event(conn, event)
        if await store.get_dossier(conn, event.demand_id) is not None:
            return  # sealed already; later events stay in the log, the dossier never changes
        events = await store.events(conn, event.demand_id)
        if not domain.ready_to_seal(events):
            return
        sealed_at = utcnow().astimezone(CHINA)
        serial = await store.next_serial(conn, event.station_id, sealed_at.year)
        dossier = domain.seal(events, serial=serial, sealed_at=sealed_at)
        await store.insert_dossier(conn, dossier)
        await outbox.add(conn, domain.archived_event(dossier))
    rt.counters.sealed.labels(dossier.station_id).inc()


async def get_dossier(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> Dossier:
    """Opening a sealed record is audited, in the same transaction as the read."""
    async with rt.transaction(principal) as conn:
        dossier = await store.get_in_scope(conn, demand_id, principal.db_scope)
        if dossier is None:
            raise NotFound("未找到该需求的档案", "no sealed dossier for this demand")
        await store.log_access(conn, dossier, principal.subject, principal.role.value)
    return dossier


async def list_dossiers(
    rt: ServiceRuntime, principal: Principal, station_id: str | None, limit: int, offset: int
) -> list[Dossier]:
    scope = narrow(principal, station_id)
    async with rt.transaction(principal) as conn:
        return await store.list_in_scope(conn, scope, limit, offset)
