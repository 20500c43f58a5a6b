"""Use cases: warnings (预警), chases (催办) and supervision (督办).

`scan` is the scheduler's round (app.py runs it on every replica at start and every scan_every_seconds). It is
correct however many replicas run it at once and however late it runs, because:

- cases are taken in small batches FOR UPDATE SKIP LOCKED: two replicas share the work instead of doing it twice,
  and an event handler (which locks the case row too) never races a firing;
- each firing is claimed by an INSERT … ON CONFLICT DO NOTHING on the alerts' unique key in the same transaction as
  the outbox row and the timeline entry: it happens once or not at all;
- the batches' SQL reads only cases and 督办 with something due and not fired yet (NOT EXISTS against the alerts),
  so a round with nothing new to fire reads nothing and writes nothing;
- what is due is computed from the case's state and today's date (supervision/domain.py), not from "since the last
  run": after downtime one scan fires what is due now, and never a warning for a deadline already passed.
"""

from collections.abc import Coroutine
from datetime import date, datetime
from typing import Any
from uuid import UUID

import structlog

from shared.auth import Principal
from shared.calendar import add_working_days, china_today
from shared.contracts import CaseSupervised, DeadlineKind, Event, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound
from shared.idempotency import Idempotent

from .. import domain as case_domain
from ..clock.domain import ClockSettings
from ..domain import DEMAND_NOT_FOUND, Case
from ..settings import Settings
from ..store import Store
from . import domain
from .domain import Alert, Due, Supervision

log = structlog.get_logger(__name__)

BATCH = 20  # cases per transaction: short locks
_NIL = UUID(int=0)
_NO_SUPERVISION = NotFound("未找到该督办", "supervision not found")


class _Round:
    """One scan's today, now, calendar and station settings, read once."""

    def __init__(self, today: date, now: datetime, overrides: dict[date, bool], defaults: ClockSettings) -> None:
        self.today, self.now, self.overrides, self.defaults = today, now, overrides, defaults
        self._settings: dict[str, ClockSettings] = {}
        self.fired: dict[str, int] = dict.fromkeys(("warning", "chase", "supervision", "escalation"), 0)

    async def settings(self, tx: Tx[Store], station_id: str) -> ClockSettings:
        if station_id not in self._settings:
            self._settings[station_id] = await tx.store.clock_settings(station_id, self.defaults)
        return self._settings[station_id]


async def scan(uow: UnitOfWork[Store], settings: Settings) -> None:
    """Fire every warning, chase and 督办 due now that was not fired before."""
    now = utcnow()
    async with uow.begin() as tx:
        overrides = await tx.store.calendar_overrides()
    run = _Round(china_today(now), now, overrides, ClockSettings.of(settings))
    due = domain.thresholds(run.today, overrides)
    after = _NIL
    while True:
        async with uow.begin() as tx:
            cases = await tx.store.cases_due(due, run.defaults, after, BATCH)
            for case, fired in cases:
                await _each(tx, case.demand_id, _deadlines(tx, run, case, fired))
        if len(cases) < BATCH:
            break
        after = cases[-1][0].demand_id
    after = _NIL
    while True:
        async with uow.begin() as tx:
            late = await tx.store.late_replies(run.today, after, BATCH)
            for supervision, case in late:
                await _each(tx, case.demand_id, _late_reply(tx, run, case, supervision))
        if len(late) < BATCH:
            break
        after = late[-1][0].supervision_id
    if any(run.fired.values()):
        log.info("supervision scan fired", today=run.today.isoformat(), **run.fired)


async def _each(tx: Tx[Store], demand_id: UUID, step: Coroutine[Any, Any, None]) -> None:
    """One case's firings in a savepoint: a case that fails (our bug) is logged and retried next round, and
    never holds up the cases after it."""
    try:
        async with tx.store.savepoint():
            await step
    except Exception as exc:
        log.error("supervision scan failed for a case", demand_id=str(demand_id), error=repr(exc))


async def _deadlines(tx: Tx[Store], run: _Round, case: Case, fired: set[tuple[Alert, DeadlineKind, date]]) -> None:
    clock = await run.settings(tx, case.station_id)
    for due in domain.due_today(case, run.today, clock, run.overrides):
        if (due.alert, due.deadline, due.due_on) in fired:
            continue  # fired in an earlier round: not tried again
        cause = await _cause(tx, case, due.deadline)
        if due.alert is Alert.warning:
            event: Event = domain.warned(case, due, today=run.today, cause=cause)
        elif due.alert is Alert.chase:
            event = domain.chased(case, due, today=run.today, cause=cause)
        else:
            event = domain.supervised(
                case,
                due,
                today=run.today,
                now=run.now,
                reply_days=clock.reply_days,
                overrides=run.overrides,
                cause=cause,
            )
        if await _fire(tx, run, case, due, event):
            run.fired[due.alert.value] += 1


async def _late_reply(tx: Tx[Store], run: _Round, case: Case, supervision: Supervision) -> None:
    due = domain.reply_due(case, supervision, run.today, run.overrides)
    if due is None:
        return
    if due.alert is Alert.chase:  # a city 督办 unanswered: chased once
        event: Event = domain.chased(case, due, today=run.today, cause=supervision.event_id)
        if await _fire(tx, run, case, due, event):
            run.fired["chase"] += 1
        return
    clock = await run.settings(tx, case.station_id)
    event = domain.supervised(
        case,
        due,
        today=run.today,
        now=run.now,
        reply_days=clock.reply_days,
        overrides=run.overrides,
        cause=supervision.event_id,
        escalating=supervision,
    )
    if await _fire(tx, run, case, due, event):
        await tx.store.mark_escalated(supervision.supervision_id, run.now)
        run.fired["escalation"] += 1


async def _fire(tx: Tx[Store], run: _Round, case: Case, due: Due, event: Event) -> bool:
    """Once: the alert's key claimed, the event published and noted on the tracking sheet, in one transaction."""
    if not await tx.store.fire(case, due, event_id=event.event_id, today=run.today, now=run.now):
        return False
    if isinstance(event, CaseSupervised):
        await tx.store.add_supervision(domain.of_event(event))
    await tx.store.add_entry(event, case_domain.timeline_text(event))
    await tx.publish(event)
    return True


async def _cause(tx: Tx[Store], case: Case, deadline: DeadlineKind) -> UUID | None:
    """The event that set the deadline: the assignment for the handling deadline, else the submission."""
    if deadline is DeadlineKind.handling and case.assigned_event_id is not None:
        return case.assigned_event_id
    return await tx.store.submitted_event_id(case.demand_id) or case.assigned_event_id


# --------------------------------------------------------------------------- the supervisors' hand


async def supervise(
    uow: UnitOfWork[Store],
    principal: Principal,
    settings: Settings,
    demand_id: UUID,
    *,
    comment: str,
    reply_due_on: date | None,
    idempotency_key: str | None = None,
) -> tuple[Supervision, str, str | None, date]:
    """督办 by hand: a supervisor whose scope covers the case's station; the reply date defaults to the station's
    reply_days working days from today. A retry with the same Idempotency-Key answers with the 督办 it made."""
    retry = Idempotent.of(
        idempotency_key, principal.subject, "supervision", str(demand_id), comment, str(reply_due_on or "")
    )
    now = utcnow()
    today = china_today(now)
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            return await _made_earlier(tx, principal, UUID(earlier["supervision_id"]), today)
        case = await tx.store.get_visible(demand_id, principal.db_scope, "", for_update=True)
        if case is None:
            raise DEMAND_NOT_FOUND
        if reply_due_on is None:
            clock = await tx.store.clock_settings(case.station_id, ClockSettings.of(settings))
            reply_due_on = add_working_days(today, clock.reply_days, await tx.store.calendar_overrides())
        event = domain.supervise_by_hand(
            case,
            supervisor=principal.name,
            supervisor_scope=principal.station or "",
            comment=comment,
            reply_due_on=reply_due_on,
            today=today,
            now=now,
            cause=case.assigned_event_id or await tx.store.submitted_event_id(case.demand_id),
        )
        supervision = domain.of_event(event)
        await tx.store.add_supervision(supervision)
        await tx.store.add_entry(event, case_domain.timeline_text(event))
        await tx.publish(event)
        await tx.remember(retry, {"supervision_id": str(supervision.supervision_id)})
    return supervision, case.tracking_no, case.enterprise_name, today


async def _made_earlier(
    tx: Tx[Store], principal: Principal, supervision_id: UUID, today: date
) -> tuple[Supervision, str, str | None, date]:
    """The 督办 a retried request made, as the caller may still see it (its case, with tracking number)."""
    supervision = await tx.store.get_supervision(supervision_id, principal.db_scope)
    case = supervision and await tx.store.get_visible(supervision.demand_id, principal.db_scope, "")
    if supervision is None or case is None:
        raise DEMAND_NOT_FOUND
    return supervision, case.tracking_no, case.enterprise_name, today


async def answer(
    uow: UnitOfWork[Store], principal: Principal, supervision_id: UUID, *, text: str
) -> tuple[Supervision, str, str | None, date]:
    """The station answers a 督办 awaiting its reply (409 once answered or escalated)."""
    now = utcnow()
    async with uow.begin(principal) as tx:
        found = await tx.store.get_supervision(supervision_id, principal.db_scope)
        if found is None:
            raise _NO_SUPERVISION
        # The case first, as the scheduler and the event handlers lock it, then the 督办.
        case = await tx.store.get_visible(found.demand_id, principal.db_scope, "", for_update=True)
        supervision = await tx.store.get_supervision(supervision_id, principal.db_scope, for_update=True)
        if case is None or supervision is None:
            raise _NO_SUPERVISION
        event = domain.answer(case, supervision, by=principal.name, text=text, now=now)
        await tx.store.mark_answered(supervision_id, principal.name, principal.subject, now, text)
        await tx.store.add_entry(event, case_domain.timeline_text(event))
        await tx.publish(event)
        answered = await tx.store.get_supervision(supervision_id, principal.db_scope)
    return answered, case.tracking_no, case.enterprise_name, china_today(now)


async def supervisions(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Supervision, str, str | None]], date]:
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        found = await tx.store.supervisions(scope, status, limit, offset)
    return found, china_today(utcnow())
