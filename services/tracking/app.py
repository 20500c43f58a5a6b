"""The tracking service: ledger, tracking sheet and resolution; publishes Resolved."""

from pathlib import Path

from shared.contracts import Resolved
from shared.runtime import Service

from . import api, handlers, store
from .settings import Settings

SERVICE = Service(
    settings=Settings,
    title="跟踪服务 Tracking",
    description="台账、跟踪单与办结，发布 Resolved。Ledger, tracking sheet and resolution; publishes Resolved.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(Resolved,),
    routers=(api.router,),
    store_counters=store.COUNTERS,
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
