"""Calendar use cases: working-day corrections by operations (法定节假日、调休上班日), announced to the others.

The working-day calendar is reference data intake owns (design.md): whoever counts working days
keeps its own copy from CalendarCorrected. Every change is published through the outbox in the
transaction that makes it, and every correction (removals too) is announced again on start and
every `registry_announce_minutes`, as the station registry is, so a consumer deployed later, or
whose queue did not exist yet, catches up.
"""

from datetime import date, timedelta
from uuid import UUID, uuid4

from shared.contracts import CalendarCorrected, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound

from ..settings import Settings
from ..store import Store
from . import domain
from .domain import WorkdayCorrection

# Calendar writes and announcements take turns, so the outbox carries each day's values in the order they were
# committed (a consumer keeps the latest), and of two replicas announcing, the second finds nothing due.
_CALENDAR_LOCK = "intake.calendar"


async def save_workday(uow: UnitOfWork[Store], day: date, is_workday: bool, note: str) -> None:
    async with uow.begin(lock=_CALENDAR_LOCK) as tx:
        await tx.store.save_workday(day, is_workday, note, utcnow())
        await _announce(tx, [day], uuid4())


async def remove_workday(uow: UnitOfWork[Store], day: date) -> None:
    """The day counts as the package (chinesecalendar) says again; the others learn it as is_workday None."""
    async with uow.begin(lock=_CALENDAR_LOCK) as tx:
        if not await tx.store.remove_workday(day, utcnow()):
            raise NotFound("该日没有工作日调整", "no working-day correction for that day")
        await _announce(tx, [day], uuid4())


async def list_workdays(uow: UnitOfWork[Store], year: int) -> list[WorkdayCorrection]:
    """The corrections in force in one year, in date order: reference data, the same for every caller."""
    start, end = domain.year_span(year)
    async with uow.begin() as tx:
        return await tx.store.workday_corrections_between(start, end)


async def announce_calendar(uow: UnitOfWork[Store], settings: Settings) -> None:
    """On start and then periodically: every correction never announced or not for `registry_announce_minutes`."""
    stale = utcnow() - timedelta(minutes=settings.registry_announce_minutes)
    async with uow.begin(lock=_CALENDAR_LOCK) as tx:
        due = await tx.store.corrections_due_for_announcement(stale)
        if due:
            await _announce(tx, due, uuid4())


async def _announce(tx: Tx[Store], days: list[date], correlation_id: UUID) -> None:
    for c in await tx.store.workday_corrections(days):
        await tx.publish(
            CalendarCorrected(correlation_id=correlation_id, day=c.day, is_workday=c.is_workday, note=c.note or None)
        )
    await tx.store.mark_corrections_announced(days, utcnow())
