"""The evaluation service: satisfaction surveys and ratings; publishes Rated."""

from pathlib import Path

from shared.contracts import Rated
from shared.runtime import Service

from . import api, handlers, store
from .settings import Settings

SERVICE = Service(
    settings=Settings,
    title="评价服务 Evaluation",
    description="满意度评价，发布 Rated。Satisfaction surveys and ratings; publishes Rated.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(Rated,),
    routers=(api.router, api.public),
    store_counters=store.COUNTERS,
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
