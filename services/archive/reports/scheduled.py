"""The weekly report's scheduler entry (shared.runtime.Scheduled): last week's report of every station, once."""

from shared.runtime import Scheduled

from . import usecases

WEEKLY = Scheduled(usecases.generate_due, every=usecases.check_every)
