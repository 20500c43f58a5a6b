"""Intake's store: one object per transaction, made of the sub-domains' stores on the same connection.

The unit of work builds a `Store` for each transaction (`tx.store`); a use case of one
sub-domain reads another's rows through it in the same transaction (a demand checks its
station and its catalogue items, and starts the enterprise's dossier). Each sub-domain keeps
its SQL in its own `store.py`; their method names do not overlap, so `tx.store.get(...)`
reads a demand and `tx.store.station(...)` a station, as before the split.
"""

import asyncpg

from .access_log.store import AccessLogStore
from .calendar.store import CalendarStore
from .catalogue.store import CatalogueStore
from .changes.store import ChangeStore
from .complaints.store import COUNTERS as COMPLAINT_COUNTERS
from .complaints.store import ComplaintStore
from .demands.store import COUNTERS as DEMAND_COUNTERS
from .demands.store import DemandStore
from .enterprises.store import EnterpriseStore
from .stations.store import StationStore
from .visits.store import VisitStore

__all__ = ["COUNTERS", "Store"]

COUNTERS = DEMAND_COUNTERS + COMPLAINT_COUNTERS


class Store(
    DemandStore,
    ChangeStore,
    CatalogueStore,
    CalendarStore,
    EnterpriseStore,
    VisitStore,
    StationStore,
    ComplaintStore,
    AccessLogStore,
):
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
