"""Tracking SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from datetime import date
from uuid import UUID

import asyncpg

from shared.calendar import china_today
from shared.contracts import Event, Outcome, utcnow
from shared.kpis import Period
from shared.observability.metrics import STATION_TREE_SQL, TREE_LABELS, StoreCounter, StoreQuery
from shared.validation import like_pattern

from . import kpis, worklists
from .casesql import still_handled
from .clock.store import COUNTERS as CLOCK_COUNTERS
from .clock.store import ClockStore
from .domain import CASE_FIELDS, Case, TimelineEntry
from .followups.store import COUNTERS as FOLLOWUP_COUNTERS
from .followups.store import FollowUpStore
from .supervision.store import COUNTERS as SUPERVISION_COUNTERS
from .supervision.store import SupervisionStore
from .tasks.store import COUNTERS as TASK_COUNTERS
from .tasks.store import TaskStore
from .worklists import LedgerQuery, Worklist

_COLUMNS = ", ".join(CASE_FIELDS)
_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(CASE_FIELDS) + 1))
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in CASE_FIELDS if c != "demand_id")

_UPSERT = f"""
INSERT INTO cases ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
ON CONFLICT (demand_id) DO UPDATE SET {_UPDATES}, updated_at = now()
"""
_GET = f"SELECT {_COLUMNS} FROM cases WHERE demand_id = $1"
# Staff and supervisors by station scope; an organization only for what is assigned to it now: not once the
# demand is rematched away from it, nor once it gave the assignment back (the same rule as row-level security).
_VISIBLE = """(qs_covers($2, station_id) OR ($3 <> '' AND assignee_kind = 'organization' AND assignee_id = $3
    AND returned_no < assignment_no))"""
_GET_VISIBLE = _GET + " AND " + _VISIBLE

# Status is derived from which facts are present; the filter mirrors Case.status.
_STATUS_SQL = """CASE WHEN archive_no IS NOT NULL THEN 'archived'
    WHEN closed_as IS NOT NULL THEN closed_as
    WHEN rated_at IS NOT NULL THEN 'rated'
    WHEN resolved_at IS NOT NULL THEN 'resolved'
    WHEN returned_no > 0 AND returned_no >= assignment_no THEN 'returned'
    WHEN assignment_no > 0 AND assignee_kind = 'department' THEN 'referred'
    WHEN assignment_no > 0 THEN 'assigned'
    ELSE 'submitted' END"""

# The ledger and its work lists (services/tracking/worklists.py). Every filter is optional ($n IS NULL) and in SQL,
# always within what the caller may see. Search words arrive LIKE-escaped ($6, $9), so `%` and `_` match themselves.
# $6 finds the tracking number as printed (station code + number, hence also the plain number), the enterprise's
# name or credit code, or the contact's phone; $7 a catalogue item; $8/$9 the handler by id or name;
# $10/$11 the submission instants [from, to).
_OPEN = still_handled("cases")
_HANDLING_DUE = "COALESCE(handling_due_on, due_on)"
# The clock runs on a case still handled and not paused; only such a case is late (Case.overdue) on `today`, a SQL
# date: past the handling deadline in force or, never assigned, past the response deadline. One rule for the
# ledger's work lists and the KPI metrics; a case is never late on both, as its handling deadline comes with its
# first assignment.
_RUNNING = f"{_OPEN} AND paused_since IS NULL"
_PAUSED = f"{_OPEN} AND paused_since IS NOT NULL"


def _late_handling(today: str) -> str:
    return f"{_HANDLING_DUE} < {today}"


def _late_response(today: str) -> str:
    return f"(first_assigned_at IS NULL AND response_due_on < {today})"


def _china_date(instant: str) -> str:
    return f"({instant} AT TIME ZONE 'Asia/Shanghai')::date"


_LEDGER_WHERE = f"""($1::text IS NULL OR ({_STATUS_SQL}) = $1) AND {_VISIBLE}
    AND ($6::text IS NULL OR (regexp_replace(station_id, '^.*/', '') || '-' || tracking_no) ILIKE '%' || $6 || '%'
        OR enterprise_name ILIKE '%' || $6 || '%' OR credit_code ILIKE '%' || $6 || '%'
        OR contact_phone ILIKE '%' || $6 || '%')
    AND ($7::text IS NULL OR items @> jsonb_build_array(jsonb_build_object('code', $7::text)))
    AND ($8::text IS NULL OR assignee_id = $8 OR assignee_name ILIKE '%' || $9 || '%')
    AND ($10::timestamptz IS NULL OR submitted_at >= $10) AND ($11::timestamptz IS NULL OR submitted_at < $11)"""
# Each work list adds its condition; its own parameters start at $12 (today, the end of "due soon", the caller).
_WORKLISTS = {
    None: "",
    # Staff: assigned to me (not given back), or received by me (首问) and not assigned yet; an organization:
    # what is assigned to it ($3), which is all it sees anyway.
    "mine": """AND CASE WHEN $3 <> '' THEN assignee_kind = 'organization' AND assignee_id = $3
        ELSE (assignee_kind IN ('staff', 'first_responder') AND assignee_id = $12 AND returned_no < assignment_no)
            OR (assignment_no = 0 AND first_responder_id = $12) END""",
    # The station's own warn_days ($14 where it keeps the service's), as the scheduler's warning counts them.
    "due_soon": f"""AND {_RUNNING} AND {_HANDLING_DUE} >= $12
        AND {_HANDLING_DUE} < ($13::date[])[COALESCE(
            (SELECT cs.warn_days FROM clock_settings cs WHERE cs.station_id = cases.station_id), $14) + 1]""",
    "overdue": f"AND {_RUNNING} AND ({_late_handling('$12')} OR {_late_response('$12')})",
    "paused": f"AND {_PAUSED}",
    "awaiting_reply": """AND EXISTS (SELECT 1 FROM supervisions s
        WHERE s.demand_id = cases.demand_id AND s.answered_at IS NULL AND s.escalated_at IS NULL)""",
}
_NEWEST_FIRST = "submitted_at DESC NULLS LAST, tracking_no DESC, demand_id"
_DUE_FIRST = f"COALESCE(handling_due_on, due_on, response_due_on) NULLS LAST, {_NEWEST_FIRST}"
_LEDGER = {
    name: f"""
SELECT {_COLUMNS} FROM cases
WHERE {_LEDGER_WHERE}
    {condition}
ORDER BY {_DUE_FIRST if name in ("due_soon", "overdue") else _NEWEST_FIRST}
LIMIT $4 OFFSET $5
"""
    for name, condition in _WORKLISTS.items()
}

_ADD_ENTRY = """
INSERT INTO timeline (event_id, demand_id, station_id, kind, occurred_at, detail)
VALUES ($1, $2, $3, $4, $5, $6)
"""
_TIMELINE = "SELECT kind, occurred_at, detail FROM timeline WHERE demand_id = $1 ORDER BY occurred_at, entry_id"


# The KPIs the city watches (domain.md §7, §9; README, "Logs are JSON lines…"), read from the cases at a scrape,
# so every replica reports the same whole. Per station with its district and city (STATION_TREE_SQL), so PromQL can
# roll up the tree. Each station with a case has every series, 0 included:
# a figure that drops to nothing reads 0 instead of vanishing. Today is the China date of the service's clock ($1),
# as for the ledger's work lists and GET /kpis, so all three agree.


_RESOLVED_ON = _china_date("resolved_at")
_ASSIGNED_ON = _china_date("first_assigned_at")
_RESOLVED_ON_TIME = f"{_RESOLVED_ON} <= {_HANDLING_DUE}"
_RESPONDED_IN_TIME = f"{_ASSIGNED_ON} <= response_due_on"


def _today() -> tuple[date]:
    return (china_today(utcnow()),)


OPEN = StoreCounter(
    "qs_demands_open", "Demands still being handled now (not resolved, ended or archived)", TREE_LABELS, kind="gauge"
)
OVERDUE = StoreCounter(
    "qs_demands_overdue",
    "Demands late now, as the ledger's overdue list: never assigned and past the response deadline, or past the"
    " handling deadline in force; paused ones are not late",
    (*TREE_LABELS, "deadline"),
    kind="gauge",
)
PAUSED = StoreCounter(
    "qs_demands_paused", "Demands still being handled whose clock is paused now (挂起)", TREE_LABELS, kind="gauge"
)
RESOLVED_ON_TIME = StoreCounter(
    "qs_demands_resolved_on_time_total",
    "Demands resolved on or before the handling deadline in force (按时办结: pauses and extensions counted)",
    TREE_LABELS,
)
RESPONDED_IN_TIME = StoreCounter(
    "qs_demands_responded_in_time_total",
    "Demands first assigned on or before the response deadline (及时响应)",
    TREE_LABELS,
)
RESPONDED = StoreCounter(
    "qs_demands_responded_total",
    "Demands first assigned (响应), in time or not: with the late ones never assigned, 响应率's denominator",
    TREE_LABELS,
)
RESOLVED = StoreCounter(
    "qs_demands_resolved_total", "Demands resolved (办结), by station and outcome", (*TREE_LABELS, "outcome")
)
# One reading of the cases for all the families above: one row per station.
CASE_KPIS = StoreQuery(
    f"""SELECT {STATION_TREE_SQL},
    count(*) FILTER (WHERE {_OPEN}),
    count(*) FILTER (WHERE {_RUNNING} AND {_late_response("$1")}),
    count(*) FILTER (WHERE {_RUNNING} AND {_late_handling("$1")}),
    count(*) FILTER (WHERE {_PAUSED}),
    count(*) FILTER (WHERE {_RESOLVED_ON_TIME}),
    count(*) FILTER (WHERE {_RESPONDED_IN_TIME}),
    count(*) FILTER (WHERE first_assigned_at IS NOT NULL),
    {", ".join(f"count(*) FILTER (WHERE resolved_at IS NOT NULL AND outcome = '{o}')" for o in Outcome)}
FROM cases
GROUP BY 1, 2, 3""",
    labels=len(TREE_LABELS),
    columns=(
        (OPEN, ()),
        (OVERDUE, ("response",)),
        (OVERDUE, ("handling",)),
        (PAUSED, ()),
        (RESOLVED_ON_TIME, ()),
        (RESPONDED_IN_TIME, ()),
        (RESPONDED, ()),
        *((RESOLVED, (o.value,)) for o in Outcome),
    ),
    params=_today,
)

COUNTERS = (
    CASE_KPIS,
    StoreCounter(
        "qs_demands_closed_total",
        "Demands ended without resolution (否定备案/并单/撤回), by station and how",
        ("station_id", "closed_as"),
        "SELECT station_id, closed_as, count(*) FROM cases WHERE closed_as IS NOT NULL GROUP BY 1, 2",
    ),
    *CLOCK_COUNTERS,
    *FOLLOWUP_COUNTERS,
    *SUPERVISION_COUNTERS,
    *TASK_COUNTERS,
)

# The supervisor's view (GET /kpis, services/tracking/kpis.py): per station in scope ($1, as the ledger's), the
# gauges' "now" figures by the gauges' own rules (today = $4), and the period's [$2, $3] (China dates, both
# included) by the counters' rules, per domain.md §9. 按时办结: of the cases whose handling deadline in force fell in
# the period, those resolved or late now (`due`) and those resolved by that deadline; 办结率's numerator
# (`resolved_in_period`) is the cases resolved in the period. 及时响应: of the cases whose response deadline fell in
# the period or that were first assigned in it, those assigned or never assigned and late now (`response_due`) and
# those assigned by that deadline. Paused and ended cases are not late (the gauges' rule): they count only once
# resolved or assigned.
_HANDLING_IN_PERIOD = f"{_HANDLING_DUE} BETWEEN $2 AND $3"
_RESPONSE_IN_PERIOD = f"(response_due_on BETWEEN $2 AND $3 OR {_ASSIGNED_ON} BETWEEN $2 AND $3)"
_LATE_HANDLING_NOW = f"{_RUNNING} AND {_late_handling('$4')}"
_LATE_RESPONSE_NOW = f"{_RUNNING} AND {_late_response('$4')}"
_KPIS = f"""
SELECT {STATION_TREE_SQL},
    count(*) FILTER (WHERE {_OPEN}) AS open,
    count(*) FILTER (WHERE {_LATE_RESPONSE_NOW}) AS overdue_response,
    count(*) FILTER (WHERE {_LATE_HANDLING_NOW}) AS overdue_handling,
    count(*) FILTER (WHERE {_PAUSED}) AS paused,
    count(*) FILTER (WHERE {_HANDLING_IN_PERIOD} AND (resolved_at IS NOT NULL OR ({_LATE_HANDLING_NOW}))) AS due,
    count(*) FILTER (WHERE {_RESOLVED_ON} BETWEEN $2 AND $3) AS resolved_in_period,
    count(*) FILTER (WHERE {_HANDLING_IN_PERIOD} AND {_RESOLVED_ON_TIME}) AS resolved_on_time,
    count(*) FILTER (
        WHERE {_RESPONSE_IN_PERIOD} AND (first_assigned_at IS NOT NULL OR ({_LATE_RESPONSE_NOW}))
    ) AS response_due,
    count(*) FILTER (WHERE {_RESPONSE_IN_PERIOD} AND {_RESPONDED_IN_TIME}) AS responded_in_time
FROM cases
WHERE qs_covers($1, station_id)
GROUP BY 1, 2, 3
ORDER BY 1
"""


class Store(ClockStore, FollowUpStore, SupervisionStore, TaskStore):
    """The tracking store: cases and the timeline here, the rest in each capability's mixin."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, demand_id: UUID, *, for_update: bool = False) -> Case | None:
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id)
        return Case(**row) if row else None

    async def save(self, case: Case) -> None:
        await self.conn.execute(_UPSERT, *(getattr(case, c) for c in CASE_FIELDS))

    async def get_visible(self, demand_id: UUID, scope: str, org: str, *, for_update: bool = False) -> Case | None:
        row = await self.conn.fetchrow(_GET_VISIBLE + (" FOR UPDATE" if for_update else ""), demand_id, scope, org)
        return Case(**row) if row else None

    async def ledger(
        self, scope: str, org: str, status: str | None, limit: int, offset: int, query: LedgerQuery = LedgerQuery()
    ) -> list[Case]:
        """The ledger in `scope` (an organization: what is assigned to `org`), filtered and paged; see _LEDGER."""
        s, listed = query.search, query.search.worklist
        start, end = worklists.submitted_between(s)
        params = [
            status,
            scope,
            org,
            limit,
            offset,
            like_pattern(s.q) if s.q is not None else None,
            s.item,
            s.handler,
            like_pattern(s.handler) if s.handler is not None else None,
            start,
            end,
        ]
        if listed is Worklist.mine:
            params.append(query.subject)
        elif listed is Worklist.due_soon:
            params += [query.today, query.due_soon_before, query.warn_days]
        elif listed is Worklist.overdue:
            params.append(query.today)
        rows = await self.conn.fetch(_LEDGER[listed.value if listed else None], *params)
        return [Case(**r) for r in rows]

    async def kpi_figures(self, scope: str, period: Period, today: date) -> list[kpis.StationFigures]:
        """The KPI figures of each station in `scope` that has a case, for `period`, late meaning late on `today`;
        see _KPIS."""
        rows = await self.conn.fetch(_KPIS, scope, period.start, period.end, today)
        return [
            kpis.StationFigures(
                station_id=r["station_id"],
                district=r["district"],
                city=r["city"],
                now=kpis.Now(r["open"], r["overdue_response"], r["overdue_handling"], r["paused"]),
                handling=kpis.Handling(r["due"], r["resolved_in_period"], r["resolved_on_time"]),
                response=kpis.Response(r["response_due"], r["responded_in_time"]),
            )
            for r in rows
        ]

    async def add_entry(self, event: Event, text: str) -> None:
        await self.conn.execute(
            _ADD_ENTRY,
            event.event_id,
            event.demand_id,
            event.station_id,
            event.routing_key,
            event.occurred_at,
            {"text": text, "event": event.model_dump(mode="json")},
        )

    async def timeline(self, demand_id: UUID) -> list[TimelineEntry]:
        rows = await self.conn.fetch(_TIMELINE, demand_id)
        return [TimelineEntry(kind=r["kind"], occurred_at=r["occurred_at"], text=r["detail"]["text"]) for r in rows]
