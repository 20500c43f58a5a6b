"""The intake service: enterprises, demands as submitted, the catalogue and the station registry.

Publishes DemandSubmitted and, as the registry's owner, StationRegistered. Each sub-domain has
its own folder with the same files (api.py, usecases.py, domain.py, store.py, as it needs them):
demands/, catalogue/, calendar/, enterprises/, visits/, stations/; public/ holds the routes an
enterprise opens without login, on the demands' use cases.
"""

from pathlib import Path

from shared.contracts import DemandSubmitted, StationRegistered
from shared.runtime import Scheduled, Service

from . import handlers, store
from .calendar import api as calendar
from .catalogue import api as catalogue
from .demands import api as demands
from .enterprises import api as enterprises
from .public import api as public
from .settings import Settings
from .stations import api as stations
from .stations import usecases as registry
from .visits import api as visits

SERVICE = Service(
    settings=Settings,
    title="需求受理服务 Intake",
    description="登记企业需求、生成跟踪单号，发布 DemandSubmitted；维护服务站名录，发布 StationRegistered。"
    "Registers demands and publishes DemandSubmitted; keeps the station registry and publishes StationRegistered.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(DemandSubmitted, StationRegistered),
    routers=(
        demands.router,
        catalogue.router,
        calendar.router,
        enterprises.router,
        visits.router,
        stations.router,
        public.router,
    ),
    store_counters=store.COUNTERS,
    scheduled=(Scheduled(registry.announce_stations, every=lambda s: s.registry_announce_minutes * 60),),
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
