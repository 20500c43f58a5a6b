"""Tracking SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from datetime import date
from uuid import UUID

import asyncpg

from shared.calendar import china_today
from shared.contracts import Event, Outcome, utcnow
from shared.db.together import at_once
from shared.kpis import Period
from shared.observability.metrics import STATION_TREE_SQL, TREE_LABELS, StoreCounter, StoreQuery
from shared.validation import like_pattern

from . import kpis, worklists
from .casesql import awaiting_verification, still_handled
from .clock.store import COUNTERS as CLOCK_COUNTERS
from .clock.store import ClockStore
from .domain import CASE_FIELDS, Case, TimelineEntry
from .followups.store import COUNTERS as FOLLOWUP_COUNTERS
from .followups.store import FollowUpStore
from .revisits.store import COUNTERS as REVISIT_COUNTERS
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
    WHEN round > 1 AND assigned_round < round THEN 'reopened'
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
# 待核实 (Case.awaiting_verification): a 不满意 rating waiting for the head or the first responder to verify it.
_AWAITING_VERIFICATION = awaiting_verification("cases")


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
    # The station's: an organization verifies nothing, so its list is empty.
    "to_verify": f"AND $3 = '' AND {_AWAITING_VERIFICATION}",
}
_NEWEST_FIRST = "submitted_at DESC NULLS LAST, tracking_no DESC, demand_id"
_DUE_FIRST = f"COALESCE(handling_due_on, due_on, response_due_on) NULLS LAST, {_NEWEST_FIRST}"
_ORDER = {"due_soon": _DUE_FIRST, "overdue": _DUE_FIRST, "to_verify": f"verify_due_on NULLS LAST, {_NEWEST_FIRST}"}
_LEDGER = {
    name: f"""
SELECT {_COLUMNS} FROM cases
WHERE {_LEDGER_WHERE}
    {condition}
ORDER BY {_ORDER.get(name, _NEWEST_FIRST)}
LIMIT $4 OFFSET $5
"""
    for name, condition in _WORKLISTS.items()
}
# The same for staff and supervisors (no organization, $3 = ''): what they see lies in the stations their scope covers
# (listed_stations, shared migration 0006), so the page walks those, each for its first offset + limit cases (down
# cases_by_station_newest in the ledger's own order), and merges them: about a page per station, however many cases
# there are. An organization's cases lie anywhere, and it keeps the plain form.
_LEDGER_BY_STATION = {
    name: f"""
SELECT {_COLUMNS}
FROM (SELECT station_id AS listed FROM listed_stations WHERE qs_covers($2, station_id)) covered
CROSS JOIN LATERAL (
    SELECT {_COLUMNS} FROM cases
    WHERE station_id = covered.listed AND {_LEDGER_WHERE}
        {condition}
    ORDER BY {_ORDER.get(name, _NEWEST_FIRST)}
    LIMIT $4::bigint + $5::bigint) station_page
ORDER BY {_ORDER.get(name, _NEWEST_FIRST)}
LIMIT $4 OFFSET $5
"""
    for name, condition in _WORKLISTS.items()
}

_ADD_ENTRY = """
INSERT INTO timeline (event_id, demand_id, station_id, kind, occurred_at, detail)
VALUES ($1, $2, $3, $4, $5, $6)
"""


def _entry_values(event: Event, text: str) -> tuple:
    return (
        event.event_id,
        event.demand_id,
        event.station_id,
        event.routing_key,
        event.occurred_at,
        {"text": text, "event": event.model_dump(mode="json")},
    )


_TIMELINE = "SELECT kind, occurred_at, detail FROM timeline WHERE demand_id = $1 ORDER BY occurred_at, entry_id"


# The KPIs the city watches (domain.md §7, §9; README, "Logs are JSON lines…"), read from the cases at a scrape,
# so every replica reports the same whole. Per station with its district and city (STATION_TREE_SQL), so PromQL can
# roll up the tree; per category and per organization in families of their own (a category or organization label
# on the station's families would make their sums count a demand twice), with the same rules: each rule below is
# written once and every family that counts it uses it. Each station (station and category, organization and
# station) with a case has every series, 0 included: a figure that drops to nothing reads 0 instead of vanishing.
# Today is the China date of the service's clock ($1), as for the ledger's work lists and GET /kpis, so all three
# agree.


# A demand is resolved once for these figures, by its first resolution: a re-handled one (重办) by its first
# round's (kept in first_* when it was reopened: its instant, outcome, deadline in force and working days), so a
# reopening never takes a resolved demand out of them nor moves it to another day; its re-handling shows in
# `reopened` (and while open, in the open and overdue gauges, by the round's deadline).
_FIRST_RESOLVED_AT = "COALESCE(first_resolved_at, resolved_at)"
_FIRST_HANDLING_DUE = f"COALESCE(first_handling_due_on, {_HANDLING_DUE})"
_FIRST_OUTCOME = "COALESCE(first_outcome, outcome)"
_RESOLVED_ON = _china_date(_FIRST_RESOLVED_AT)
_ASSIGNED_ON = _china_date("first_assigned_at")
_RESOLVED = f"{_FIRST_RESOLVED_AT} IS NOT NULL"
_RESOLVED_ON_TIME = f"{_RESOLVED_ON} <= {_FIRST_HANDLING_DUE}"
# 重办: reopened after a founded verification of a 不满意 rating (in round 2 or later), whatever happened since.
_REOPENED = "round > 1"
_RESPONDED = "first_assigned_at IS NOT NULL"
_RESPONDED_IN_TIME = f"{_ASSIGNED_ON} <= response_due_on"
_LATE_RESPONSE = f"{_RUNNING} AND {_late_response('$1')}"
_LATE_HANDLING = f"{_RUNNING} AND {_late_handling('$1')}"
# 办结用时: working days from acceptance to resolution, set with the resolution (clock/domain.py), pauses not
# deducted; NULL only while a resolved case's submission is unknown or before the start-up fill-in measured it.
_TOOK = "COALESCE(first_resolution_working_days, resolution_working_days)"
# Working days; a 0 bucket, because many demands are resolved on the day of acceptance: histogram_quantile then
# answers 0 for them instead of interpolating up to 1 within the first bucket.
RESOLUTION_BUCKETS = (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 60)

# Per category: a demand counts once in each category it names (one of two categories counts in both, so a
# station's categories add up to more than the station); a case whose submission tracking has not seen yet names
# none and is in no category's figures. The code is the label (the name may be reworded); GET /kpis adds the name.
_BY_CATEGORY = """cases CROSS JOIN LATERAL (
        SELECT DISTINCT ON (named->>'code') named->>'code' AS category, named->>'label' AS category_label
        FROM jsonb_array_elements(COALESCE(cases.categories, '[]'::jsonb)) AS named
        ORDER BY named->>'code', named->>'label'
    ) AS in_category"""
# Per organization: the cases whose current assignment an organization holds and did not give back (退单): being
# handled by it now, or resolved under its assignment (a case is resolved under the assignment it then has). A
# case it gave back waits for the head's rematch: the station's, no longer the organization's.
_HELD_BY_ORGANIZATION = "assignee_kind = 'organization' AND returned_no < assignment_no"
_ORGANIZATION_ID = "assignee_id AS organization_id"


def _today() -> tuple[date]:
    return (china_today(utcnow()),)


def _count(condition: str) -> str:
    return f"count(*) FILTER (WHERE {condition})"


# (the SQL of its values, the family it feeds, the family's further label values)
_Column = tuple[str, StoreCounter, tuple[str, ...]]


def _kpi_query(labels: str, width: int, source: str, columns: tuple[_Column, ...]) -> StoreQuery:
    """One reading of the cases feeding `columns`, a row per group of the first `width` selected `labels`."""
    values = ",\n    ".join(sql for sql, _, _ in columns)
    sql = f"SELECT {labels},\n    {values}\nFROM {source}\nGROUP BY {', '.join(map(str, range(1, width + 1)))}"
    return StoreQuery(
        sql,
        labels=width,
        columns=tuple((family, further) for _, family, further in columns),
        params=_today if "$1" in sql else lambda: (),  # today only where a figure is about now (overdue)
    )


def _outcomes(family: StoreCounter) -> tuple[_Column, ...]:
    return tuple((_count(f"{_RESOLVED} AND {_FIRST_OUTCOME} = '{o}'"), family, (o.value,)) for o in Outcome)


def _took(family: StoreCounter) -> _Column:
    return (family.histogram_sql(_TOOK, _RESOLVED), family, ())


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
    "qs_demands_resolved_total",
    "Demands resolved (办结), by station and outcome; a re-handled demand once, by its first resolution",
    (*TREE_LABELS, "outcome"),
)
REOPENED = StoreCounter(
    "qs_demands_reopened_total",
    "Demands reopened for re-handling (重办: round 2 or later) after a founded verification of a 不满意 rating;"
    " with qs_demands_resolved_total, 重办率",
    TREE_LABELS,
)
AWAITING_VERIFICATION = StoreCounter(
    "qs_demands_awaiting_verification",
    "Demands rated 不满意 (in a round before the final one) waiting for verification now (待核实): not verified, the"
    " rating not voided",
    TREE_LABELS,
    kind="gauge",
)
RESOLUTION_DAYS = StoreCounter(
    "qs_demand_resolution_working_days",
    "Working days from acceptance to resolution (办结用时) of the resolved demands: counted from the working day after"
    " acceptance (resolved the day it was accepted: 0), statutory holidays and make-up workdays counted, pauses not"
    " deducted",
    TREE_LABELS,
    kind="histogram",
    buckets=RESOLUTION_BUCKETS,
)
# One reading of the cases for all the families above: one row per station.
CASE_KPIS = _kpi_query(
    STATION_TREE_SQL,
    len(TREE_LABELS),
    "cases",
    (
        (_count(_OPEN), OPEN, ()),
        (_count(_LATE_RESPONSE), OVERDUE, ("response",)),
        (_count(_LATE_HANDLING), OVERDUE, ("handling",)),
        (_count(_PAUSED), PAUSED, ()),
        (_count(_RESOLVED_ON_TIME), RESOLVED_ON_TIME, ()),
        (_count(_RESPONDED_IN_TIME), RESPONDED_IN_TIME, ()),
        (_count(_RESPONDED), RESPONDED, ()),
        *_outcomes(RESOLVED),
        _took(RESOLUTION_DAYS),
        (_count(_REOPENED), REOPENED, ()),
        (_count(_AWAITING_VERIFICATION), AWAITING_VERIFICATION, ()),
    ),
)

CATEGORY_LABELS = (*TREE_LABELS, "category")
_OF_CATEGORY = "per station and category (a demand of two categories counts in both)"
CATEGORY_OPEN = StoreCounter(
    "qs_category_demands_open", f"qs_demands_open {_OF_CATEGORY}", CATEGORY_LABELS, kind="gauge"
)
CATEGORY_OVERDUE = StoreCounter(
    "qs_category_demands_overdue", f"qs_demands_overdue {_OF_CATEGORY}", (*CATEGORY_LABELS, "deadline"), kind="gauge"
)
CATEGORY_PAUSED = StoreCounter(
    "qs_category_demands_paused", f"qs_demands_paused {_OF_CATEGORY}", CATEGORY_LABELS, kind="gauge"
)
CATEGORY_RESOLVED_ON_TIME = StoreCounter(
    "qs_category_demands_resolved_on_time_total", f"qs_demands_resolved_on_time_total {_OF_CATEGORY}", CATEGORY_LABELS
)
CATEGORY_RESPONDED_IN_TIME = StoreCounter(
    "qs_category_demands_responded_in_time_total",
    f"qs_demands_responded_in_time_total {_OF_CATEGORY}",
    CATEGORY_LABELS,
)
CATEGORY_RESPONDED = StoreCounter(
    "qs_category_demands_responded_total", f"qs_demands_responded_total {_OF_CATEGORY}", CATEGORY_LABELS
)
CATEGORY_RESOLVED = StoreCounter(
    "qs_category_demands_resolved_total", f"qs_demands_resolved_total {_OF_CATEGORY}", (*CATEGORY_LABELS, "outcome")
)
CATEGORY_REOPENED = StoreCounter(
    "qs_category_demands_reopened_total",
    f"qs_demands_reopened_total {_OF_CATEGORY}; with qs_category_demands_resolved_total, 重办率",
    CATEGORY_LABELS,
)
CATEGORY_RESOLUTION_DAYS = StoreCounter(
    "qs_category_resolution_working_days",
    f"qs_demand_resolution_working_days {_OF_CATEGORY}",
    CATEGORY_LABELS,
    kind="histogram",
    buckets=RESOLUTION_BUCKETS,
)
CATEGORY_KPIS = _kpi_query(
    f"{STATION_TREE_SQL}, category",
    len(CATEGORY_LABELS),
    _BY_CATEGORY,
    (
        (_count(_OPEN), CATEGORY_OPEN, ()),
        (_count(_LATE_RESPONSE), CATEGORY_OVERDUE, ("response",)),
        (_count(_LATE_HANDLING), CATEGORY_OVERDUE, ("handling",)),
        (_count(_PAUSED), CATEGORY_PAUSED, ()),
        (_count(_RESOLVED_ON_TIME), CATEGORY_RESOLVED_ON_TIME, ()),
        (_count(_RESPONDED_IN_TIME), CATEGORY_RESPONDED_IN_TIME, ()),
        (_count(_RESPONDED), CATEGORY_RESPONDED, ()),
        *_outcomes(CATEGORY_RESOLVED),
        _took(CATEGORY_RESOLUTION_DAYS),
        (_count(_REOPENED), CATEGORY_REOPENED, ()),
    ),
)

ORGANIZATION_LABELS = ("organization_id", *TREE_LABELS)
_OF_ORGANIZATION = (
    "per service organization and station, of the cases whose current assignment the organization holds (not given"
    " back), resolved ones under its assignment"
)
ORGANIZATION_OPEN = StoreCounter(
    "qs_organization_demands_open", f"qs_demands_open {_OF_ORGANIZATION}", ORGANIZATION_LABELS, kind="gauge"
)
ORGANIZATION_OVERDUE = StoreCounter(
    "qs_organization_demands_overdue",
    "Demands late now for the handling deadline in force (qs_demands_overdue's handling deadline) " + _OF_ORGANIZATION,
    ORGANIZATION_LABELS,
    kind="gauge",
)
ORGANIZATION_PAUSED = StoreCounter(
    "qs_organization_demands_paused", f"qs_demands_paused {_OF_ORGANIZATION}", ORGANIZATION_LABELS, kind="gauge"
)
ORGANIZATION_RESOLVED_ON_TIME = StoreCounter(
    "qs_organization_demands_resolved_on_time_total",
    f"qs_demands_resolved_on_time_total {_OF_ORGANIZATION}",
    ORGANIZATION_LABELS,
)
ORGANIZATION_RESOLVED = StoreCounter(
    "qs_organization_demands_resolved_total",
    f"qs_demands_resolved_total {_OF_ORGANIZATION}",
    (*ORGANIZATION_LABELS, "outcome"),
)
ORGANIZATION_REOPENED = StoreCounter(
    "qs_organization_demands_reopened_total",
    f"qs_demands_reopened_total {_OF_ORGANIZATION}; with qs_organization_demands_resolved_total, 重办率",
    ORGANIZATION_LABELS,
)
ORGANIZATION_RESOLUTION_DAYS = StoreCounter(
    "qs_organization_resolution_working_days",
    f"qs_demand_resolution_working_days {_OF_ORGANIZATION}",
    ORGANIZATION_LABELS,
    kind="histogram",
    buckets=RESOLUTION_BUCKETS,
)
# Response is the station's (its head dispatches), so an organization has no response figures; nor is a case it
# holds ever late to respond (it was assigned). What is open, overdue or paused counts for the organization holding
# the case now; a resolution counts, for good, for the organization that resolved the case first (first_assignee_*,
# kept when the case is reopened): a round 2 given to another organization must not take a counter down.
ORGANIZATION_HELD_KPIS = _kpi_query(
    f"{_ORGANIZATION_ID}, {STATION_TREE_SQL}",
    len(ORGANIZATION_LABELS),
    f"cases WHERE {_HELD_BY_ORGANIZATION}",
    (
        (_count(_OPEN), ORGANIZATION_OPEN, ()),
        (_count(_LATE_HANDLING), ORGANIZATION_OVERDUE, ()),
        (_count(_PAUSED), ORGANIZATION_PAUSED, ()),
    ),
)
ORGANIZATION_RESOLVED_KPIS = _kpi_query(
    f"COALESCE(first_assignee_id, assignee_id) AS organization_id, {STATION_TREE_SQL}",
    len(ORGANIZATION_LABELS),
    f"cases WHERE {_RESOLVED} AND COALESCE(first_assignee_kind, assignee_kind) = 'organization'",
    (
        (_count(_RESOLVED_ON_TIME), ORGANIZATION_RESOLVED_ON_TIME, ()),
        *_outcomes(ORGANIZATION_RESOLVED),
        _took(ORGANIZATION_RESOLUTION_DAYS),
        (_count(_REOPENED), ORGANIZATION_REOPENED, ()),
    ),
)

COUNTERS = (
    CASE_KPIS,
    CATEGORY_KPIS,
    ORGANIZATION_HELD_KPIS,
    ORGANIZATION_RESOLVED_KPIS,
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
    *REVISIT_COUNTERS,
)

# The supervisor's view (GET /kpis, services/tracking/kpis.py): per station in scope ($1, as the ledger's), per
# category and per organization of the scope, the gauges' "now" figures by the gauges' own rules (today = $4), and
# the period's [$2, $3] (China dates, both included) by the counters' rules, per domain.md §9. 按时办结: of the cases
# whose handling deadline in force fell in the period, those resolved or late now (`due`) and those resolved by that
# deadline; 办结率's numerator (`resolved_in_period`) is the cases resolved in the period. 及时响应: of the cases whose
# response deadline fell in the period or that were first assigned in it, those assigned or never assigned and late
# now (`response_due`) and those assigned by that deadline. Paused and ended cases are not late (the gauges' rule):
# they count only once resolved or assigned. 办结用时: the working days of each case resolved in the period (the
# cases of resolved_in_period that were measured), in increasing order, for the average and the 90th percentile.
# A re-handled demand counts by its first resolution and the deadline it met; 重办率's numerator (`reopened`) is the
# cases of resolved_in_period that were reopened (domain.md §9).
_HANDLING_IN_PERIOD = f"{_FIRST_HANDLING_DUE} BETWEEN $2 AND $3"
_RESPONSE_IN_PERIOD = f"(response_due_on BETWEEN $2 AND $3 OR {_ASSIGNED_ON} BETWEEN $2 AND $3)"
_RESOLVED_IN_PERIOD = f"{_RESOLVED_ON} BETWEEN $2 AND $3"
_LATE_HANDLING_NOW = f"{_RUNNING} AND {_late_handling('$4')}"
_LATE_RESPONSE_NOW = f"{_RUNNING} AND {_late_response('$4')}"
_KPI_FIGURES = f"""count(*) FILTER (WHERE {_OPEN}) AS open,
    count(*) FILTER (WHERE {_LATE_RESPONSE_NOW}) AS overdue_response,
    count(*) FILTER (WHERE {_LATE_HANDLING_NOW}) AS overdue_handling,
    count(*) FILTER (WHERE {_PAUSED}) AS paused,
    count(*) FILTER (WHERE {_HANDLING_IN_PERIOD} AND ({_RESOLVED} OR ({_LATE_HANDLING_NOW}))) AS due,
    count(*) FILTER (WHERE {_RESOLVED_IN_PERIOD}) AS resolved_in_period,
    count(*) FILTER (WHERE {_HANDLING_IN_PERIOD} AND {_RESOLVED_ON_TIME}) AS resolved_on_time,
    count(*) FILTER (WHERE {_RESOLVED_IN_PERIOD} AND {_REOPENED}) AS reopened,
    count(*) FILTER (
        WHERE {_RESPONSE_IN_PERIOD} AND (first_assigned_at IS NOT NULL OR ({_LATE_RESPONSE_NOW}))
    ) AS response_due,
    count(*) FILTER (WHERE {_RESPONSE_IN_PERIOD} AND {_RESPONDED_IN_TIME}) AS responded_in_time,
    COALESCE(array_agg({_TOOK} ORDER BY {_TOOK}) FILTER (WHERE {_RESOLVED_IN_PERIOD} AND {_TOOK} IS NOT NULL),
        '{{}}') AS took"""
_KPIS = f"""
SELECT {STATION_TREE_SQL},
    {_KPI_FIGURES}
FROM cases
WHERE qs_covers($1, station_id)
GROUP BY 1, 2, 3
ORDER BY 1
"""
_KPIS_BY_CATEGORY = f"""
SELECT category, min(category_label) AS category_label,
    {_KPI_FIGURES}
FROM {_BY_CATEGORY}
WHERE qs_covers($1, station_id)
GROUP BY 1
ORDER BY 1
"""
_KPIS_BY_ORGANIZATION = f"""
SELECT {_ORGANIZATION_ID}, min(assignee_name) AS organization_name,
    {_KPI_FIGURES}
FROM cases
WHERE qs_covers($1, station_id) AND {_HELD_BY_ORGANIZATION}
GROUP BY 1
ORDER BY 1
"""


def _kpis_of(r: asyncpg.Record) -> dict:
    """The figures of a row of the _KPIS queries, as kpis.Figures' fields."""
    return {
        "now": kpis.Now(r["open"], r["overdue_response"], r["overdue_handling"], r["paused"]),
        "handling": kpis.Handling(r["due"], r["resolved_in_period"], r["resolved_on_time"], r["reopened"]),
        "response": kpis.Response(r["response_due"], r["responded_in_time"]),
        "resolution": kpis.ResolutionTime(tuple(r["took"])),
    }


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
        rows = await self.conn.fetch(
            (_LEDGER if org else _LEDGER_BY_STATION)[listed.value if listed else None], *params
        )
        return [Case(**r) for r in rows]

    async def kpi_figures(self, scope: str, period: Period, today: date) -> list[kpis.StationFigures]:
        """The KPI figures of each station in `scope` that has a case, for `period`, late meaning late on `today`;
        see _KPIS."""
        rows = await self.conn.fetch(_KPIS, scope, period.start, period.end, today)
        return [
            kpis.StationFigures(station_id=r["station_id"], district=r["district"], city=r["city"], **_kpis_of(r))
            for r in rows
        ]

    async def kpi_breakdowns(
        self, scope: str, period: Period, today: date
    ) -> tuple[list[kpis.CategoryFigures], list[kpis.OrganizationFigures]]:
        """The same figures for the whole of `scope`, per category and per organization; see _KPIS."""
        args = (scope, period.start, period.end, today)
        categories = [
            kpis.CategoryFigures(category=r["category"], label=r["category_label"] or "", **_kpis_of(r))
            for r in await self.conn.fetch(_KPIS_BY_CATEGORY, *args)
        ]
        organizations = [
            kpis.OrganizationFigures(
                organization_id=r["organization_id"], name=r["organization_name"] or "", **_kpis_of(r)
            )
            for r in await self.conn.fetch(_KPIS_BY_ORGANIZATION, *args)
        ]
        return categories, organizations

    async def add_entry(self, event: Event, text: str) -> None:
        await self.conn.execute(_ADD_ENTRY, *_entry_values(event, text))

    async def save_with_entry(self, case: Case, event: Event, text: str) -> None:
        """save and add_entry in one statement, for an event handler (system scope: the timeline's organization
        policy, which looks the case up, would not see a case this same statement creates)."""
        await at_once(
            self.conn, (_UPSERT, tuple(getattr(case, c) for c in CASE_FIELDS)), (_ADD_ENTRY, _entry_values(event, text))
        )

    async def timeline(self, demand_id: UUID) -> list[TimelineEntry]:
        rows = await self.conn.fetch(_TIMELINE, demand_id)
        return [TimelineEntry(kind=r["kind"], occurred_at=r["occurred_at"], text=r["detail"]["text"]) for r in rows]
