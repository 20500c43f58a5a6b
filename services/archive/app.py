"""The archive service: collects each demand's events, seals numbered dossiers; publishes Archived."""

from pathlib import Path

from shared.contracts import Archived
from shared.runtime import Service

from . import api, handlers, store
from .exports import api as exports_api
from .exports import scheduled as export_jobs
from .exports import store as export_store
from .reports import api as reports_api
from .reports import scheduled as weekly_reports
from .settings import Settings

SERVICE = Service(
    settings=Settings,
    title="归档服务 Archive",
    description="收集需求全过程记录，历史完整且评价后封存编号归档，发布 Archived。"
    "Seals numbered, append-only dossiers once each demand's history is complete; publishes Archived.",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(Archived,),
    routers=(api.router, exports_api.router, reports_api.router),
    scheduled=(export_jobs.JOBS, weekly_reports.WEEKLY),
    store_counters=store.COUNTERS + export_store.COUNTERS,
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
