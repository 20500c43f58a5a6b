"""The dispatch service: the queue of demands waiting for a decision and every assignment; publishes Assigned."""

from pathlib import Path

from shared.contracts import Assigned
from shared.runtime import Service

from . import api, handlers, store
from .settings import Settings

SERVICE = Service(
    settings=Settings,
    title="派单服务 Dispatch",
    description="待派单队列、派单与改派，发布 Assigned。Dispatch queue and assignments; publishes Assigned.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(Assigned,),
    routers=(api.router,),
    store_counters=store.COUNTERS,
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
