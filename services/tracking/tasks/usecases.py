"""Use cases: special tasks."""

from shared.db.uow import UnitOfWork
from shared.settings import ServiceSettings


async def scan(uow: UnitOfWork, settings: ServiceSettings) -> None:
    """The scheduler's round for overdue tasks (placeholder until implemented)."""
