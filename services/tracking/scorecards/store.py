"""Scorecard SQL: the handling figures of a period per station, first responder, organization or category.

Bound to the transaction's connection like the tracking store's mixins. The rules are GET /kpis' (services/tracking/
store.py, `_KPI_FIGURES`; domain.md §9), written again here over the rows of a dimension rather than of a station:

- a case contributes "facts" on three sides, each keyed by the dimension: its response (received, responded,
  response_due, responded_in_time), its (first) resolution (resolved, handling_due, resolved_on_time, reopened), and
  each of its re-visit tasks (revisits_due, revisits_done);
- for a station, a first responder or a category the three sides have the same key; for an organization the
  response side is the organization first assigned, the resolution side the one whose assignment the first
  resolution answered (the Resolved's cause, read back from the case's timeline, so a demand reassigned for
  re-handling stays credited to the organization that resolved its first round), a re-visit task the one whose
  assignment its round's resolution answered; a case late now, never resolved, is its current holder's;
- rows only for keys with something in the period.

$1 the scope (qs_covers; '*' for the whole), $2 and $3 the period's first and last China dates, $4 today (China date
of the service's clock, as the ledger's overdue list and GET /kpis), $5 one key only (an organization's own row) or
NULL.
"""

from datetime import date

import asyncpg

from shared.kpis import Period

from ..casesql import still_handled
from ..revisits.store import _DONE  # the one rule of a task done (revisits/domain.completes)
from .domain import By, Figures, Row


def _china_date(instant: str) -> str:
    return f"({instant} AT TIME ZONE 'Asia/Shanghai')::date"


def _in_period(day: str) -> str:
    return f"{day} BETWEEN $2 AND $3"


# The rules of GET /kpis (services/tracking/store.py), over the case `c`.
_RUNNING = f"{still_handled('c')} AND c.paused_since IS NULL"
_HANDLING_DUE = "COALESCE(c.handling_due_on, c.due_on)"
_FIRST_RESOLVED_AT = "COALESCE(c.first_resolved_at, c.resolved_at)"
_FIRST_HANDLING_DUE = f"COALESCE(c.first_handling_due_on, {_HANDLING_DUE})"
_RESOLVED = f"{_FIRST_RESOLVED_AT} IS NOT NULL"
_RESOLVED_ON = _china_date(_FIRST_RESOLVED_AT)
_ASSIGNED_ON = _china_date("c.first_assigned_at")
_LATE_HANDLING_NOW = f"{_RUNNING} AND {_HANDLING_DUE} < $4"
_LATE_RESPONSE_NOW = f"{_RUNNING} AND c.first_assigned_at IS NULL AND c.response_due_on < $4"
_RESPONSE_IN_PERIOD = f"(c.response_due_on BETWEEN $2 AND $3 OR {_in_period(_ASSIGNED_ON)})"
_HANDLING_IN_PERIOD = _in_period(_FIRST_HANDLING_DUE)

_RESPONSE_FIGURES = f"""({_in_period(_china_date("c.submitted_at"))})::int AS received,
        ({_in_period(_ASSIGNED_ON)})::int AS responded,
        ({_RESPONSE_IN_PERIOD} AND (c.first_assigned_at IS NOT NULL OR ({_LATE_RESPONSE_NOW})))::int AS response_due,
        ({_RESPONSE_IN_PERIOD} AND {_ASSIGNED_ON} <= c.response_due_on)::int AS responded_in_time,
        0, 0, 0, 0, 0, 0"""
_RESOLUTION_FIGURES = f"""0, 0, 0, 0,
        ({_in_period(_RESOLVED_ON)})::int AS resolved,
        ({_HANDLING_IN_PERIOD} AND ({_RESOLVED} OR ({_LATE_HANDLING_NOW})))::int AS handling_due,
        ({_HANDLING_IN_PERIOD} AND {_RESOLVED_ON} <= {_FIRST_HANDLING_DUE})::int AS resolved_on_time,
        ({_in_period(_RESOLVED_ON)} AND c.round > 1)::int AS reopened,
        0, 0"""
# A re-visit task due on a day of the period that has appeared by today, and whether it is done by now (GET /kpis).
_REVISIT_FIGURES = """0, 0, 0, 0, 0, 0, 0, 0,
        1 AS revisits_due,
        (x.done_at IS NOT NULL)::int AS revisits_done"""
_REVISIT_DUE = "t.appears_on <= $4 AND t.due_on BETWEEN $2 AND $3"
_FIGURES = tuple(Figures.__dataclass_fields__)

# --- the keys of each dimension: a LATERAL subquery over the case `c` giving (key, label) rows ----------------------
_STATION = """SELECT c.station_id AS key,
        COALESCE((SELECT st.name FROM station_tree st WHERE st.station_id = c.station_id), c.station_id) AS label"""
_STAFF = """SELECT COALESCE(c.first_responder_id, c.first_responder) AS key,
        COALESCE(c.first_responder, c.first_responder_id) AS label
    WHERE COALESCE(c.first_responder_id, c.first_responder) IS NOT NULL"""
# A demand counts once in each category it names; a case whose submission tracking has not seen names none.
_CATEGORY = """SELECT DISTINCT ON (named->>'code') named->>'code' AS key, named->>'label' AS label
    FROM jsonb_array_elements(COALESCE(c.categories, '[]'::jsonb)) AS named
    ORDER BY named->>'code', named->>'label'"""
# Organizations, from the case's timeline (each entry keeps its event's JSON): the first assignment, and the
# assignment a round's resolution answered (the Resolved names it as its cause). A case late now and never resolved
# is held by its current assignee (not given back).
_FIRST_ASSIGNED_ORGANIZATION = """SELECT ae->>'assignee_id' AS key, ae->>'assignee_name' AS label
    FROM (SELECT a.detail->'event' AS ae, a.occurred_at FROM timeline a
          WHERE a.demand_id = c.demand_id AND a.kind = 'demand.assigned'
          ORDER BY COALESCE((a.detail->'event'->>'round')::int, 1), (a.detail->'event'->>'assignment_no')::int,
              a.occurred_at
          LIMIT 1) AS first
    WHERE ae->>'assignee_kind' = 'organization'"""


def _resolving_organization(round_: str) -> str:
    return f"""SELECT COALESCE(answered.key, held.key) AS key, COALESCE(answered.label, held.label) AS label
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT a.detail->'event'->>'assignee_kind' AS kind, a.detail->'event'->>'assignee_id' AS key,
            a.detail->'event'->>'assignee_name' AS label
        FROM timeline r JOIN timeline a
            ON a.event_id = (r.detail->'event'->>'causation_id')::uuid AND a.kind = 'demand.assigned'
        WHERE r.demand_id = c.demand_id AND r.kind = 'demand.resolved'
            AND COALESCE((r.detail->'event'->>'round')::int, 1) = {round_}
        ORDER BY r.occurred_at DESC
        LIMIT 1
    ) AS answered ON true
    LEFT JOIN LATERAL (
        SELECT c.assignee_id AS key, c.assignee_name AS label
        WHERE answered.kind IS NULL AND c.assignee_kind = 'organization' AND c.returned_no < c.assignment_no
    ) AS held ON true
    WHERE COALESCE(answered.kind, 'organization') = 'organization' AND COALESCE(answered.key, held.key) IS NOT NULL"""


# (response side, resolution side, re-visit side)
_KEYS = {
    By.station: (_STATION, _STATION, _STATION),
    By.staff: (_STAFF, _STAFF, _STAFF),
    By.category: (_CATEGORY, _CATEGORY, _CATEGORY),
    By.organization: (_FIRST_ASSIGNED_ORGANIZATION, _resolving_organization("1"), _resolving_organization("t.round")),
}


def _scorecard(by: By) -> str:
    response, resolution, revisit = _KEYS[by]
    sums = ",\n    ".join(f"sum({f})::int AS {f}" for f in _FIGURES)
    return f"""
SELECT key, min(label) AS label,
    {sums}
FROM (
    SELECT k.key, k.label, {_RESPONSE_FIGURES}
    FROM cases c CROSS JOIN LATERAL ({response}) AS k
    WHERE qs_covers($1, c.station_id)
    UNION ALL
    SELECT k.key, k.label, {_RESOLUTION_FIGURES}
    FROM cases c CROSS JOIN LATERAL ({resolution}) AS k
    WHERE qs_covers($1, c.station_id)
    UNION ALL
    SELECT k.key, k.label, {_REVISIT_FIGURES}
    FROM revisit_tasks t JOIN cases c ON c.demand_id = t.demand_id {_DONE}
        CROSS JOIN LATERAL ({revisit}) AS k
    WHERE qs_covers($1, t.station_id) AND {_REVISIT_DUE}
) AS facts ({", ".join(("key", "label", *_FIGURES))})
WHERE key IS NOT NULL AND ($5::text IS NULL OR key = $5)
GROUP BY key
HAVING {" + ".join(f"sum({f})" for f in _FIGURES)} > 0
ORDER BY key
"""


_SCORECARDS = {by: _scorecard(by) for by in By}


class ScorecardStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def rows(self, by: By, scope: str, period: Period, today: date, key: str | None = None) -> list[Row]:
        """The rows of dimension `by` in `scope` for `period`, late meaning late on `today`; only `key`'s if given."""
        records = await self.conn.fetch(_SCORECARDS[by], scope, period.start, period.end, today, key)
        return [
            Row(key=r["key"], label=r["label"] or r["key"], figures=Figures(**{f: r[f] for f in _FIGURES}))
            for r in records
        ]
