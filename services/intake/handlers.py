"""Intake subscribers: decode (in shared), call one use case."""

from shared.contracts import Archived
from shared.runtime import ServiceRuntime

from . import usecases


def register(rt: ServiceRuntime) -> None:
    async def on_archived(event: Archived) -> None:
        await usecases.record_archived(rt, event)

    rt.consume(Archived, on_archived)
