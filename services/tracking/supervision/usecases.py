"""Use cases: warnings, chases and supervision."""

from shared.db.uow import UnitOfWork
from shared.settings import ServiceSettings


async def scan(uow: UnitOfWork, settings: ServiceSettings) -> None:
    """The scheduler's round (placeholder until implemented)."""
