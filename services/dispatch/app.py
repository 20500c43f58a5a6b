"""The dispatch service: the queue of demands waiting for a decision, every assignment and the decisions around
it (return, referral, refusal, merge), the service-organization registry and the stations' staff."""

from pathlib import Path

from shared.contracts import Assigned, AssignmentReturned, DemandMerged, DemandRefused
from shared.runtime import Service

from . import api, handlers, store
from .organizations import api as organizations
from .organizations import store as registry
from .settings import Settings
from .staff import api as staff

SERVICE = Service(
    settings=Settings,
    title="派单服务 Dispatch",
    description=(
        "待派单队列、派单与改派、转办、退单、否定备案、并单，服务机构库，本站人员与科室；"
        "发布 Assigned、AssignmentReturned、DemandRefused、DemandMerged。"
        "Dispatch queue, assignments and the decisions around them, the organization registry and station staff."
    ),
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(Assigned, AssignmentReturned, DemandRefused, DemandMerged),
    routers=(api.router, organizations.router, staff.router),
    store_counters=store.COUNTERS + registry.COUNTERS,
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
