"""Calendar use cases: working-day corrections by operations (法定节假日、调休上班日)."""

from datetime import date

from shared.db.uow import UnitOfWork

from ..store import Store


async def save_workday(uow: UnitOfWork[Store], day: date, is_workday: bool, note: str) -> None:
    async with uow.begin() as tx:
        await tx.store.save_workday(day, is_workday, note)
