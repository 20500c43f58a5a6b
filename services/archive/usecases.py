"""Archive use cases: one unit of work each.

Event use cases get the open unit of work from `UnitOfWork.handle` (the demand's lock, inbox
claim); request use cases open their own in the caller's scope; the audit opens one per dossier.
"""

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4

import structlog

from shared.auth import SYSTEM, Principal, Role
from shared.calendar import CHINA
from shared.contracts import Event, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound

from . import domain
from .domain import ChainReport, DossierSearch, Finding, Hold, Kept, Supplement
from .store import Store

log = structlog.get_logger(__name__)


async def collect(tx: Tx[Store], event: Event) -> None:
    """Log the event; seal the dossier when this event completes the record, whichever event that is."""
    # The log is read back only when this event may complete the record (one round trip with the logging).
    judge = domain.may_complete(event.routing_key)
    logged = await tx.store.log_event(event, read_back=judge)
    if logged.disposed:
        # Disposed of after its retention: its events went with it, and a straggler is not kept either.
        log.warning("event of a disposed dossier not kept", event_type=event.routing_key)
        return
    if logged.sealed:
        # The dossier never changes; `python -m services.archive.audit --supplement` attaches what came late.
        log.warning("event logged after its dossier was sealed", event_type=event.routing_key)
        return
    if not judge:
        log.debug("dossier not sealed yet: no event of this kind completes a record")
        return
    events = logged.events
    if lacking := domain.missing(events):
        log.debug("dossier not sealed yet", lacking=lacking)
        return
    sealed_at = utcnow().astimezone(CHINA)
    serial, years = await tx.store.number(event.station_id, sealed_at.year)
    if years is None:
        years = domain.RETENTION_YEARS
    dossier = domain.seal(events, serial=serial, sealed_at=sealed_at, retention_years=years)
    dossier = await tx.store.insert_dossier(dossier)  # linked into the station's chain by the database
    await tx.publish(domain.archived_event(dossier, domain.ending(events)))


DOSSIER_NOT_FOUND = NotFound("未找到该需求的档案", "no sealed dossier for this demand")


async def _log(tx: Tx[Store], action: str, station_id: str, **fields) -> None:
    p = tx.principal
    await tx.store.log_access(
        action=action, station_id=station_id, subject=p.subject, role=p.role.value, name=p.name, **fields
    )


async def get_dossier(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, purpose: str | None = None
) -> tuple[Kept, list[Supplement], list[Hold]]:
    """Opening a sealed record is audited, in the same transaction as the read."""
    async with uow.begin(principal) as tx:
        opened = await tx.store.open_in_scope(demand_id, principal.db_scope)
        if opened is None:
            raise DOSSIER_NOT_FOUND
        d = opened[0].dossier
        await _log(
            tx, "dossier.read", d.station_id, demand_id=d.demand_id, what=f"档案 {d.archive_no}", purpose=purpose
        )
        return opened


async def list_dossiers(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    limit: int,
    offset: int,
    purpose: str | None = None,
    search: DossierSearch = DossierSearch(),
) -> list[Kept]:
    """A list names demands, tracking numbers and how they ended: logged too, with every demand it showed and what was
    searched for."""
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        rows = await tx.store.list_in_scope(scope, limit, offset, search)
        shown = [(k.dossier.station_id, k.dossier.demand_id) for k in rows]
        await log_read(
            tx,
            action="dossier.list",
            scope=scope,
            what="档案目录" if search == DossierSearch() else "档案检索",
            shown=shown,
            purpose=purpose,
            detail=search.detail() or None,
        )
        return rows


async def log_read(
    tx: Tx[Store],
    *,
    action: str,
    scope: str,
    what: str,
    shown: list[tuple[str, UUID]],
    purpose: str | None = None,
    detail: dict | None = None,
) -> None:
    """Log a read of personal or enterprise data in the reading transaction (the read and its lines commit together):
    `action` like "dossier.list" or "export.book", `what` for people, `shown` the (station, demand) of every sealed
    record it showed, `detail` anything else worth keeping (e.g. what was searched for). One line per station shown, so
    each station's head finds who read its records (a supervisor's list over the city included); a read that showed
    nothing is one line for the scope asked."""
    detail = {"scope": scope, **(detail or {})}
    by_station: dict[str, list[UUID]] = {}
    for station, demand_id in shown:
        by_station.setdefault(station, []).append(demand_id)
    if not by_station:
        await _log(tx, action, scope, what=f"{what}（0 份）", demand_ids=[], purpose=purpose, detail=detail)
    for station, ids in by_station.items():
        await _log(
            tx,
            action,
            station,
            demand_id=ids[0] if len(ids) == 1 else None,
            what=f"{what}（{len(ids)} 份）",
            demand_ids=ids,
            purpose=purpose,
            detail=detail,
        )


# --------------------------------------------------------------------------- retention and holds


async def _station_for(tx: Tx[Store], station_id: str) -> str:
    """The station a setting is about: in the caller's scope, or (operations) any registered station."""
    if tx.principal.role is Role.admin:
        if not await tx.store.station_known(station_id):
            raise NotFound("未找到该服务站", "station not found")
        return station_id
    return await tx.scope(station_id)


def _as(principal: Principal) -> Principal:
    """Operations (admin) see no station's rows by their own scope; what they may do runs as the system."""
    return SYSTEM if principal.role is Role.admin else principal


async def get_retention(uow: UnitOfWork[Store], principal: Principal, station_id: str) -> dict:
    async with uow.begin(_as(principal)) as tx:
        tx.principal = principal
        station_id = await _station_for(tx, station_id)
        setting = await tx.store.retention(station_id)
    return domain_retention(station_id, setting)


def domain_retention(station_id: str, setting: dict | None) -> dict:
    return {
        "station_id": station_id,
        "years": setting["years"] if setting else domain.RETENTION_YEARS,
        "minimum_years": domain.RETENTION_YEARS,
        "reason": setting["reason"] if setting else None,
        "set_by": setting["set_by"] if setting else None,
        "set_at": setting["set_at"] if setting else None,
    }


async def set_retention(uow: UnitOfWork[Store], principal: Principal, station_id: str, years: int, reason: str) -> dict:
    """A station keeps its dossiers longer than three years (never shorter); audited."""
    years = domain.check_retention_years(years)
    now = utcnow()
    async with uow.begin(_as(principal)) as tx:
        tx.principal = principal
        station_id = await _station_for(tx, station_id)
        before = await tx.store.retention(station_id)
        await tx.store.set_retention(station_id, years, reason, principal.name, now)
        await _log(
            tx,
            "retention.set",
            station_id,
            what=f"保管期限设为 {years} 年",
            purpose=reason,
            detail={"years": years, "previous_years": before["years"] if before else None},
        )
        setting = await tx.store.retention(station_id)
    return domain_retention(station_id, setting)


async def set_hold(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, reason: str) -> Hold:
    """法律保全: the head puts a dossier beyond disposal, with a reason; audited."""
    async with uow.begin(principal, lock=demand_id) as tx:
        kept = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if kept is None:
            raise DOSSIER_NOT_FOUND
        holds = await tx.store.holds(demand_id)
        domain.check_hold_can_be_set(holds, kept.dossier)
        hold = Hold(
            hold_id=uuid4(),
            demand_id=demand_id,
            station_id=kept.dossier.station_id,
            reason=reason,
            set_by=principal.name,
            set_at=utcnow(),
        )
        await tx.store.add_hold(hold)
        await _log(
            tx, "hold.set", hold.station_id, demand_id=demand_id, what=f"保全 {kept.dossier.archive_no}", purpose=reason
        )
        return hold


async def lift_hold(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, reason: str) -> Hold:
    async with uow.begin(principal, lock=demand_id) as tx:
        kept = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if kept is None:
            raise DOSSIER_NOT_FOUND
        hold = domain.active_hold(await tx.store.holds(demand_id))
        now = utcnow()
        await tx.store.lift_hold(hold.hold_id, reason, principal.name, now)
        await _log(
            tx,
            "hold.lift",
            hold.station_id,
            demand_id=demand_id,
            what=f"解除保全 {kept.dossier.archive_no}",
            purpose=reason,
        )
        return replace(hold, lift_reason=reason, lifted_by=principal.name, lifted_at=now)


# --------------------------------------------------------------------------- disposal (销毁)

DISPOSAL_NOT_FOUND = NotFound("未找到该销毁申请", "no such disposal request")
DISPOSAL_BATCH = 1000  # dossiers one request lists at most; the next request lists the rest


async def request_disposal(uow: UnitOfWork[Store], principal: Principal, station_id: str | None, reason: str) -> dict:
    """销毁申请: list the dossiers past retention and free of holds; nothing is disposed until it is confirmed."""
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        items = domain.disposal_items(await tx.store.disposable(scope, DISPOSAL_BATCH))
        disposal = {
            "disposal_id": uuid4(),
            "station_id": scope,
            "reason": reason,
            "requested_by": principal.name,
            "requested_at": utcnow(),
            "items": items,
        }
        await tx.store.add_disposal(disposal)
        await _log(
            tx,
            "disposal.request",
            scope,
            what=f"销毁申请（{len(items)} 份）",
            demand_ids=[UUID(i["demand_id"]) for i in items],
            purpose=reason,
            detail={"disposal_id": str(disposal["disposal_id"])},
        )
        return disposal | {"confirmed_by": None, "confirmed_at": None, "records": [], "skipped": []}


async def confirm_disposal(uow: UnitOfWork[Store], principal: Principal, disposal_id: UUID) -> dict:
    """销毁: dispose of each dossier the request listed that is still due (a hold set since, or a longer retention,
    keeps it: listed as skipped); the disposal record keeps archive numbers, hashes, who and when forever."""
    now = utcnow()
    async with uow.begin(principal) as tx:
        disposal = await tx.store.disposal(disposal_id, principal.db_scope, for_update=True)
        if disposal is None:
            raise DISPOSAL_NOT_FOUND
        domain.check_confirmable(disposal)
        records, skipped = [], []
        for item in disposal["items"]:
            record = await tx.store.dispose(UUID(item["demand_id"]), disposal_id, principal.name, now)
            (records if record is not None else skipped).append(record or item)
        await tx.store.confirm_disposal(disposal_id, principal.name, now)
        await _log(
            tx,
            "disposal.confirm",
            disposal["station_id"],
            what=f"确认销毁（销毁 {len(records)} 份，保留 {len(skipped)} 份）",
            demand_ids=[r["demand_id"] for r in records],
            detail={"disposal_id": str(disposal_id), "skipped": [i["archive_no"] for i in skipped]},
        )
        return disposal | {"confirmed_by": principal.name, "confirmed_at": now, "records": records, "skipped": skipped}


async def get_disposal(uow: UnitOfWork[Store], principal: Principal, disposal_id: UUID) -> dict:
    async with uow.begin(principal) as tx:
        disposal = await tx.store.disposal(disposal_id, principal.db_scope)
        if disposal is None:
            raise DISPOSAL_NOT_FOUND
        records = await tx.store.disposal_records(disposal_id)
    done = {r["demand_id"] for r in records}
    skipped = [i for i in disposal["items"] if disposal["confirmed_at"] and UUID(i["demand_id"]) not in done]
    return disposal | {"records": records, "skipped": skipped}


async def list_disposals(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, limit: int, offset: int
) -> list[dict]:
    async with uow.begin(principal) as tx:
        return await tx.store.disposals(await tx.scope(station_id), limit, offset)


# --------------------------------------------------------------------------- the chain and the access log


async def verify_chain(
    uow: UnitOfWork[Store], principal: Principal = SYSTEM, station_id: str | None = None
) -> list[ChainReport]:
    """Recompute the chain of every station in scope (or one): operations and the command line see all stations."""
    reports = []
    async with uow.begin(_as(principal)) as tx:
        tx.principal = principal
        if principal.role is Role.admin:
            stations = [station_id] if station_id else await tx.store.chain_stations("*")
        else:
            scope = await tx.scope(station_id)
            stations = [station_id] if station_id else await tx.store.chain_stations(scope)
        for station in stations:
            dossiers, supplements = await tx.store.chain(station)
            reports.append(domain.verify_chain(station, dossiers, supplements))
    return reports


async def access_log(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    demand_id: UUID | None,
    action: str | None,
    start: date | None,
    end: date | None,
    limit: int,
    offset: int,
) -> list[dict]:
    """Who read or did what in the archive of the caller's stations (a head: the station; a supervisor: its subtree),
    between two China dates (both included)."""
    since = datetime.combine(start, time(), CHINA) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), CHINA) if end else None
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        return await tx.store.access_log(scope, demand_id, action, since, until, limit, offset)


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
            if dossier.disposed_at is not None:
                continue  # disposed of after its retention: nothing left to audit but its hashes (verify-chain)
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
