"""The export jobs' scheduler entry (shared.runtime.Scheduled): every replica polls for queued jobs.

The runtime runs a step once at start, before messages flow, then every `jobs_poll_seconds`; a book may take
minutes, so the start-up round only drops expired files and leaves the jobs to the first poll (a job interrupted by
a restart is claimed again once its lease has run out, by this replica or another).
"""

import weakref

from shared.db.uow import UnitOfWork
from shared.runtime import Scheduled

from . import usecases
from .settings import ExportSettings

_started: "weakref.WeakSet[UnitOfWork]" = weakref.WeakSet()


async def poll(uow: UnitOfWork, settings) -> None:
    if uow not in _started:  # the start-up round: never hold the service's start behind a book
        _started.add(uow)
        await usecases.expire_files(uow, ExportSettings.of(settings))
        return
    await usecases.run_jobs(uow, settings)


def _every(settings) -> float:
    return ExportSettings.of(settings).jobs_poll_seconds


JOBS = Scheduled(poll, every=_every)
