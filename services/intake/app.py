"""The intake service: enterprises, demands as submitted, the catalogue, the calendar and the station registry.

Publishes DemandSubmitted, DemandCorrected and DemandWithdrawn, ComplaintUpdated at every stage of a complaint,
VisitRecorded once per visit to an enterprise (主动进企业走访) and, as the owner of the reference data,
StationRegistered and CalendarCorrected. Each sub-domain has its own folder with the same files (api.py, usecases.py,
domain.py, store.py, as it needs them): demands/, changes/ (correction before dispatch, withdrawal), catalogue/,
calendar/, enterprises/, visits/, stations/, complaints/ (投诉), access_log/ (who read an enterprise's data); public/
holds the routes an enterprise opens without login, on the demands', changes' and complaints' use cases.
"""

from pathlib import Path

from shared.contracts import (
    CalendarCorrected,
    ComplaintUpdated,
    DemandCorrected,
    DemandSubmitted,
    DemandWithdrawn,
    StationRegistered,
    VisitRecorded,
)
from shared.runtime import Scheduled, Service

from . import handlers, store
from .access_log import api as access_log
from .calendar import api as calendar
from .calendar import usecases as working_days
from .catalogue import api as catalogue
from .changes import api as changes
from .complaints import api as complaints
from .demands import api as demands
from .enterprises import api as enterprises
from .public import api as public
from .scorecards import api as scorecards
from .settings import Settings
from .stations import api as stations
from .stations import usecases as registry
from .visits import api as visits

SERVICE = Service(
    settings=Settings,
    title="需求受理服务 Intake",
    description="登记企业需求、生成跟踪单号，发布 DemandSubmitted；派单前更正（DemandCorrected）、撤回"
    "（DemandWithdrawn）；维护服务站名录（StationRegistered）与工作日调整（CalendarCorrected）。"
    "Registers demands and publishes DemandSubmitted, DemandCorrected, DemandWithdrawn; keeps the station "
    "registry and the working-day corrections and publishes StationRegistered and CalendarCorrected. "
    "投诉（受理、确认、调查、处理、答复、结案）每一环节发布 ComplaintUpdated / publishes ComplaintUpdated "
    "at every stage of a complaint. 每次主动进企业走访发布 VisitRecorded / publishes VisitRecorded for every visit "
    "to an enterprise.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(
        DemandSubmitted,
        DemandCorrected,
        DemandWithdrawn,
        ComplaintUpdated,
        VisitRecorded,
        StationRegistered,
        CalendarCorrected,
    ),
    routers=(
        demands.router,
        changes.router,
        catalogue.router,
        calendar.router,
        enterprises.router,
        visits.router,
        complaints.router,
        stations.router,
        public.router,
        scorecards.router,
        access_log.router,
    ),
    store_counters=store.COUNTERS,
    # Reference data is announced again on start and periodically, so a consumer deployed later catches up.
    scheduled=(
        Scheduled(registry.announce_stations, every=lambda s: s.registry_announce_minutes * 60),
        Scheduled(working_days.announce_calendar, every=lambda s: s.registry_announce_minutes * 60),
    ),
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
