"""Use cases: the clock of a case — pauses (挂起), extensions (延期), the stations' clock settings, the calendar.

The rules are in clock/domain.py. Every request locks the case row (get_visible … for_update), and what it publishes
it also records on the case in the same transaction: the timeline entry, the rows, the recomputed deadlines
(`with_clock`), the outbox. A POST may carry an Idempotency-Key: a retry answers with the case's clock as it is.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID, uuid4

import structlog

from shared import calendar_corrections
from shared.auth import SYSTEM, Principal, Role
from shared.calendar import china_today
from shared.contracts import (
    CalendarCorrected,
    CasePaused,
    CaseResumed,
    ExtensionDecided,
    ExtensionRequested,
    PauseReason,
    utcnow,
)
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound
from shared.idempotency import Idempotent

from .. import domain as cases
from ..domain import DEMAND_NOT_FOUND, Case
from ..settings import Settings
from . import domain
from .domain import Clock, ClockSettings, Deadline, Extension, Pause

log = structlog.get_logger(__name__)
BATCH = 200  # cases per transaction when the clock columns are filled in at start
_NO_EXTENSION = NotFound("未找到该延期申请", "extension request not found")
_NO_STATION = NotFound("未找到该服务站", "station not found")


@dataclass(frozen=True)
class _Facts:
    settings: ClockSettings
    overrides: dict[date, bool]
    pauses: list[Pause]
    extensions: list[Extension]

    def clock(self, case: Case) -> Clock:
        return domain.clock(case, self.settings, self.pauses, self.extensions, self.overrides)


async def _facts(tx: Tx, case: Case, defaults: ClockSettings) -> _Facts:
    # One statement, not four: every event a case takes comes here.
    return _Facts(*await tx.store.clock_facts(case.station_id, case.demand_id, defaults))


async def with_clock(tx: Tx, case: Case, defaults: ClockSettings) -> Case:
    """The case with its clock answers (response_due_on, handling_due_on, paused_since) recomputed from its facts,
    its pauses and extensions, the station's clock settings over `defaults` and the calendar corrections."""
    return domain.applied(case, (await _facts(tx, case, defaults)).clock(case))


async def reply_deadlines(tx: Tx, case: Case, today: date) -> list[Deadline]:
    """督办回复时限: each 督办 of the case, answered (met), escalated (ended: the next level's reply counts) or open."""
    return [domain.reply_deadline(s, today) for s in await tx.store.case_supervisions(case.demand_id, case.station_id)]


@dataclass(frozen=True)
class CaseClock:
    """Everything GET /demands/{id}/clock shows."""

    case: Case
    clock: Clock
    deadlines: list[Deadline]
    pauses: list[tuple[Pause, datetime | None, int | None]]  # each with when it ended and its working days
    extensions: list[Extension]
    today: date


async def _view(tx: Tx, case: Case, defaults: ClockSettings) -> CaseClock:
    facts = await _facts(tx, case, defaults)
    answers = facts.clock(case)
    today = china_today(utcnow())
    listed = []
    for p in facts.pauses:
        ended = domain.pause_ended_at(case, p)
        listed.append((p, ended, domain.pause_working_days(p.paused_at, ended, facts.overrides) if ended else None))
    deadlines = domain.deadlines(case, answers, today) + await reply_deadlines(tx, case, today)
    return CaseClock(case, answers, deadlines, listed, facts.extensions, today)


async def _locked(tx: Tx, principal: Principal, demand_id: UUID) -> Case:
    case = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "", for_update=True)
    if case is None:
        raise DEMAND_NOT_FOUND
    return case


async def _record(tx: Tx, case: Case, event, defaults: ClockSettings) -> Case:
    """What tracking publishes about a case it also records on it, in the same transaction."""
    case = await with_clock(tx, cases.apply(case, event), defaults)
    await tx.store.save(case)
    await tx.store.add_entry(event, cases.timeline_text(event))
    await tx.publish(event)
    return case


async def clock_of(uow: UnitOfWork, principal: Principal, demand_id: UUID, defaults: ClockSettings) -> CaseClock:
    async with uow.begin(principal) as tx:
        case = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "")
        if case is None:
            raise DEMAND_NOT_FOUND
        return await _view(tx, case, defaults)


async def pause(
    uow: UnitOfWork,
    principal: Principal,
    demand_id: UUID,
    *,
    reason_kind: PauseReason,
    reason: str,
    defaults: ClockSettings,
    idempotency_key: str | None = None,
) -> CaseClock:
    """挂起: the handler stops the handling clock while waiting on the enterprise or a third party."""
    retry = Idempotent.of(idempotency_key, principal.subject, "pause", str(demand_id), reason_kind.value, reason)
    now = utcnow()
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is not None:
            return await _view(tx, await _locked(tx, principal, demand_id), defaults)
        case = await _locked(tx, principal, demand_id)
        domain.check_pause(case)
        event = case.caused_by(case.assigned_event_id).caused(
            CasePaused,
            pause_id=uuid4(),
            assignment_no=case.assignment_no,
            reason_kind=reason_kind,
            reason=reason,
            paused_by=principal.name,
            paused_at=now,
        )
        row = Pause(event.pause_id, case.assignment_no, reason_kind.value, reason, principal.name, now)
        await tx.store.add_pause(case, row, principal.subject, event.event_id)
        case = await _record(tx, case, event, defaults)
        await tx.remember(retry, {"pause_id": str(event.pause_id)})
        return await _view(tx, case, defaults)


async def resume(
    uow: UnitOfWork,
    principal: Principal,
    demand_id: UUID,
    *,
    note: str | None,
    defaults: ClockSettings,
    idempotency_key: str | None = None,
) -> CaseClock:
    """恢复计时: the pause ends; the handling deadline moves by its working days."""
    retry = Idempotent.of(idempotency_key, principal.subject, "resumption", str(demand_id), note)
    now = utcnow()
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is not None:
            return await _view(tx, await _locked(tx, principal, demand_id), defaults)
        case = await _locked(tx, principal, demand_id)
        facts = await _facts(tx, case, defaults)
        current = [p for p in facts.pauses if p.is_open and p.assignment_no == case.assignment_no]
        paused = domain.check_resume(case, current[0] if current else None)
        ended = replace(paused, resumed_by=principal.name, resumed_at=now, note=note)
        after = replace(facts, pauses=[ended if p.pause_id == paused.pause_id else p for p in facts.pauses])
        before_days, moved = facts.clock(case).paused_working_days, after.clock(case)
        event = case.caused_by(paused.event_id).caused(
            CaseResumed,
            pause_id=paused.pause_id,
            resumed_by=principal.name,
            resumed_at=now,
            note=note,
            paused_working_days=moved.paused_working_days - before_days,
            handling_due_on=moved.handling_due_on,
        )
        await tx.store.end_pause(paused.pause_id, principal.name, principal.subject, now, note, event.event_id)
        case = await _record(tx, case, event, defaults)
        await tx.remember(retry, {"pause_id": str(paused.pause_id)})
        return await _view(tx, case, defaults)


async def request_extension(
    uow: UnitOfWork,
    principal: Principal,
    demand_id: UUID,
    *,
    new_due_on: date,
    reason: str,
    defaults: ClockSettings,
    idempotency_key: str | None = None,
) -> tuple[CaseClock, UUID]:
    """延期申请: by the handler, before the handling deadline has passed; the head decides."""
    retry = Idempotent.of(idempotency_key, principal.subject, "extension", str(demand_id), str(new_due_on), reason)
    now = utcnow()
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            view = await _view(tx, await _locked(tx, principal, demand_id), defaults)
            return view, UUID(earlier["extension_id"])
        case = await _locked(tx, principal, demand_id)
        extensions = await tx.store.extensions(demand_id)
        pending = next((e for e in extensions if e.approved is None and e.assignment_no == case.assignment_no), None)
        overrides = await tx.store.calendar_overrides()
        domain.check_extension(case, new_due_on, china_today(now), pending, overrides)
        assert case.handling_due_on is not None
        event = case.caused_by(case.assigned_event_id).caused(
            ExtensionRequested,
            extension_id=uuid4(),
            assignment_no=case.assignment_no,
            requested_by=principal.name,
            requested_at=now,
            reason=reason,
            due_on=case.handling_due_on,
            new_due_on=new_due_on,
        )
        row = Extension(
            event.extension_id, case.assignment_no, principal.name, now, reason, case.handling_due_on, new_due_on
        )
        await tx.store.add_extension(case, row, principal.subject, event.event_id)
        case = await _record(tx, case, event, defaults)
        await tx.remember(retry, {"extension_id": str(event.extension_id)})
        return await _view(tx, case, defaults), event.extension_id


async def decide_extension(
    uow: UnitOfWork,
    principal: Principal,
    demand_id: UUID,
    extension_id: UUID,
    *,
    approved: bool,
    comment: str | None,
    defaults: ClockSettings,
    idempotency_key: str | None = None,
) -> CaseClock:
    """延期审批 by the station's head: approved, the new date becomes the base of the handling deadline (pauses since
    the request still move it; never earlier than the deadline in force); the request's reason goes with the
    decision so intake can tell the enterprise."""
    retry = Idempotent.of(
        idempotency_key, principal.subject, "extension decision", str(demand_id), str(extension_id), approved, comment
    )
    now = utcnow()
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is not None:
            return await _view(tx, await _locked(tx, principal, demand_id), defaults)
        case = await _locked(tx, principal, demand_id)
        extension = await tx.store.extension(demand_id, extension_id)
        if extension is None:
            raise _NO_EXTENSION
        domain.check_decision(case, extension)
        event_id = uuid4()
        await tx.store.decide_extension(
            demand_id, extension_id, approved, principal.name, principal.subject, now, comment, event_id
        )
        # The deadline the decision leaves in force (pauses since the request counted), which the enterprise is told.
        after = await with_clock(tx, case, defaults)
        event = case.caused_by(extension.event_id).caused(
            ExtensionDecided,
            event_id=event_id,
            extension_id=extension_id,
            assignment_no=extension.assignment_no,
            approved=approved,
            decided_by=principal.name,
            decided_at=now,
            comment=comment,
            reason=extension.reason,
            due_on=case.handling_due_on or extension.due_on,
            new_due_on=extension.new_due_on,
            handling_due_on=after.handling_due_on,
        )
        case = await _record(tx, case, event, defaults)
        await tx.remember(retry, {"extension_id": str(extension_id)})
        return await _view(tx, case, defaults)


async def extension_list(
    uow: UnitOfWork, principal: Principal, station_id: str | None, status: str | None, limit: int, offset: int
) -> list[tuple[Extension, Case]]:
    """延期审批清单: the requests of the caller's stations (or one of them), newest first; scope in SQL."""
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        return await tx.store.extension_list(scope, status, limit, offset)


# --- the stations' clock settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StationClock:
    station_id: str
    settings: ClockSettings  # in force: the station's over the defaults
    own: dict | None  # what the station set (None: the defaults)
    defaults: ClockSettings


async def station_clock(
    uow: UnitOfWork, principal: Principal, station_id: str, defaults: ClockSettings
) -> StationClock:
    if principal.role is Role.admin:
        async with uow.begin(SYSTEM) as tx:
            if not await tx.store.station_known(station_id):
                raise _NO_STATION
            own = await tx.store.clock_settings_row(station_id)
    else:
        async with uow.begin(principal) as tx:
            await tx.scope(station_id)
            own = await tx.store.clock_settings_row(station_id)
    return StationClock(station_id, defaults.over(own), own, defaults)


async def set_station_clock(
    uow: UnitOfWork, principal: Principal, station_id: str, values: dict[str, int | None], defaults: ClockSettings
) -> StationClock:
    """A station's own clock (its head, or operations); the open cases of the station follow it at once."""
    now = utcnow()
    begin = uow.begin(SYSTEM) if principal.role is Role.admin else uow.begin(principal)
    async with begin as tx:
        if principal.role is Role.admin:
            if not await tx.store.station_known(station_id):
                raise _NO_STATION
        else:
            await tx.scope(station_id)
        await tx.store.put_clock_settings(station_id, values, principal.name, principal.subject, now)
        await recompute(tx, await tx.store.open_cases(station_id), defaults)
        own = await tx.store.clock_settings_row(station_id)
    return StationClock(station_id, defaults.over(own), own, defaults)


# --- the calendar ---------------------------------------------------------------------------------------------


async def record_calendar_correction(
    tx: Tx, event: CalendarCorrected, defaults: ClockSettings = ClockSettings()
) -> None:
    """Keep the correction (shared with dispatch: the newest by when intake made it wins) and, when it changed what
    the day counts as, recompute the open cases' deadlines, so a late correction moves them (closed cases keep
    theirs). Intake announces every correction again periodically: a repeat changes nothing and moves nothing."""
    before = (await tx.store.calendar_overrides()).get(event.day)
    await calendar_corrections.record_correction(tx, event)
    if (await tx.store.calendar_overrides()).get(event.day) == before:
        return
    await recompute(tx, await tx.store.open_cases(), defaults)


# --- recomputing many cases at once ---------------------------------------------------------------------------


async def recompute(tx: Tx, locked: list[Case], defaults: ClockSettings) -> int:
    """The clock columns of `locked` (rows the caller holds FOR UPDATE, taken in demand_id order) recomputed in
    Python from facts read once for all of them — the calendar corrections, the stations' settings, the pauses
    and extensions — and written back only for the cases whose answers changed; returns how many changed."""
    if not locked:
        return 0
    ids = [c.demand_id for c in locked]
    overrides = await tx.store.calendar_overrides()
    settings = await tx.store.station_clocks(sorted({c.station_id for c in locked}), defaults)
    pauses, extensions = await tx.store.pauses_of(ids), await tx.store.extensions_of(ids)
    moved = []
    for case in locked:
        answers = domain.clock(
            case,
            settings.get(case.station_id, defaults),
            pauses.get(case.demand_id, []),
            extensions.get(case.demand_id, []),
            overrides,
        )
        after = domain.applied(case, answers)
        if after != case:
            moved.append(after)
    await tx.store.save_clocks(moved)
    return len(moved)


async def fill_in_clocks(uow: UnitOfWork, settings: Settings) -> None:
    """Run at start (and then now and again): open cases without their clock columns — those that existed before
    the clock (migration 0006) and got no event since — get them, in batches of BATCH cases in demand_id order; and
    resolved cases without their time to resolve (resolved before migration 0012) get it, so the average and
    90th percentile cover them too. Safe on several replicas: each batch locks its rows FOR UPDATE SKIP LOCKED, so
    a case another replica (or an event handler) holds is left to it; once filled in, a case is no longer picked."""
    defaults, after, filled = ClockSettings.of(settings), None, 0
    try:
        while True:
            async with uow.begin() as tx:
                batch = await tx.store.cases_without_clock(after, BATCH)
                filled += await recompute(tx, batch, defaults)
            if len(batch) < BATCH:
                break
            after = batch[-1].demand_id
    except Exception as exc:  # the service starts all the same; the next round carries on where this one stopped
        log.warning("filling in clock columns failed", after=str(after), error=repr(exc))
    if filled:
        log.info("clock columns filled in", cases=filled)
    await fill_in_resolution_days(uow)


async def fill_in_resolution_days(uow: UnitOfWork) -> None:
    """Resolved cases without `resolution_working_days` get it, measured with today's calendar (the package and the
    corrections), in batches of BATCH in demand_id order; only that column is written, so a closed case keeps its
    deadlines. Part of fill_in_clocks, with the same rules for several replicas."""
    after, measured = None, 0
    try:
        while True:
            async with uow.begin() as tx:
                batch = await tx.store.resolved_without_days(after, BATCH)
                if batch:
                    overrides = await tx.store.calendar_overrides()
                    took = [
                        (c.demand_id, domain.resolution_working_days(c.submitted_at, c.resolved_at, overrides))
                        for c in batch
                    ]
                    await tx.store.save_resolution_days(took)
                    measured += len(took)
            if len(batch) < BATCH:
                break
            after = batch[-1].demand_id
    except Exception as exc:  # as for the clock columns: the next round carries on
        log.warning("filling in the time to resolve failed", after=str(after), error=repr(exc))
    if measured:
        log.info("time to resolve filled in", cases=measured)
