"""The intake service: enterprises, demands as submitted, the catalogue and the station registry.

Publishes DemandSubmitted and, as the registry's owner, StationRegistered.
"""

from pathlib import Path

from shared.contracts import DemandSubmitted, StationRegistered
from shared.runtime import Service

from . import api, handlers, store, usecases
from .settings import Settings

SERVICE = Service(
    settings=Settings,
    title="需求受理服务 Intake",
    description="登记企业需求、生成跟踪单号，发布 DemandSubmitted；维护服务站名录，发布 StationRegistered。"
    "Registers demands and publishes DemandSubmitted; keeps the station registry and publishes StationRegistered.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(DemandSubmitted, StationRegistered),
    routers=(api.router, api.public),
    store_counters=store.COUNTERS,
    on_start=(usecases.announce_stations,),
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
