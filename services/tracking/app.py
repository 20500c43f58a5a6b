"""The tracking service: ledger, tracking sheet, the clock, follow-ups, supervision, special tasks, resolution.

Publishes Resolved, the events of following a case (shared.contracts.following), after a 不满意 rating the
verification and the reopening for re-handling (RatingVerified, DemandReopened), the re-visits (RevisitRecorded), and
the special tasks given to stations and their reports (SpecialTaskAssigned, SpecialTaskReported).
"""

from pathlib import Path

from shared.contracts import (
    FOLLOWING,
    DemandReopened,
    RatingVerified,
    Resolved,
    RevisitRecorded,
    SpecialTaskAssigned,
    SpecialTaskReported,
)
from shared.observability import ServiceMetrics
from shared.observability.metrics import kpi_targets
from shared.runtime import Scheduled, Service

from . import api, handlers, kpis_api, store
from .clock import api as clock_api
from .clock import usecases as clock
from .followups import api as followups_api
from .kpis import Targets
from .revisits import api as revisits_api
from .rounds import api as rounds_api
from .scorecards import api as scorecards_api
from .settings import Settings
from .supervision import api as supervision_api
from .supervision import usecases as supervision
from .tasks import api as tasks_api
from .tasks import usecases as tasks


def _scan_every(settings: Settings) -> float:
    return settings.scan_every_seconds


def _daily(_settings: Settings) -> float:
    return 86400.0


def _kpi_targets(metrics: ServiceMetrics, settings: Settings) -> None:
    targets = Targets.of(settings)
    kpi_targets(
        metrics,
        "tracking",
        {
            "on_time_rate": targets.on_time_rate,
            "response_rate": targets.response_rate,
            "revisit_rate": targets.revisit_rate,
        },
    )


SERVICE = Service(
    settings=Settings,
    title="跟踪服务 Tracking",
    description="台账、跟踪单、时限（挂起、延期）、跟进记录、预警催办督办、专项工作、办结与不满意评价的核实重办、回访，"
    "发布 Resolved、跟进事件及 RatingVerified、DemandReopened、RevisitRecorded、"
    "SpecialTaskAssigned、SpecialTaskReported。"
    "Ledger, tracking sheet, the clock, follow-ups, warnings and supervision, special tasks, resolution, and the"
    " verification and re-handling of 不满意 ratings, re-visits.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(
        Resolved,
        *FOLLOWING,
        RatingVerified,
        DemandReopened,
        RevisitRecorded,
        SpecialTaskAssigned,
        SpecialTaskReported,
    ),
    routers=(
        api.router,
        clock_api.router,
        followups_api.router,
        supervision_api.router,
        tasks_api.router,
        kpis_api.router,
        rounds_api.router,
        revisits_api.router,
        scorecards_api.router,
    ),
    store_counters=store.COUNTERS,
    metrics=_kpi_targets,
    scheduled=(
        Scheduled(clock.fill_in_clocks, every=_daily),  # at start: the clock columns of cases from before 0006
        Scheduled(supervision.scan, every=_scan_every),
        Scheduled(tasks.scan, every=_scan_every),
    ),
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
