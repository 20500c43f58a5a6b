"""SQL: re-visit tasks (回访任务) and re-visits (回访), and the figures read from them.

Bound to the transaction's connection like the tracking store's mixins; both tables carry station_id, so row-level
security guards them, and every read asks `qs_covers(scope, station_id)` in SQL all the same. Whether a task is done
is derived here, never stored (the rule of domain.completes): both tables are append-only, so a task once done
stays done and the counters read from them only go up.
"""

from datetime import date
from uuid import UUID

import asyncpg

from shared.calendar import china_today
from shared.contracts import RevisitMethod, utcnow
from shared.kpis import Period
from shared.observability.metrics import STATION_TREE_SQL, TREE_LABELS, StoreCounter, StoreQuery

from .domain import Revisit, Task, TaskKind

_TASK_COLUMNS = (
    "demand_id",
    "station_id",
    "round",
    "kind",
    "trigger_event_id",
    "triggered_at",
    "appears_on",
    "due_on",
    "sample_rate",
)
_T = ", ".join(f"t.{c}" for c in _TASK_COLUMNS)
# A task is done by the first re-visit that reached the enterprise at or after the minute of what made the task, in
# its round or a later one (domain.completes); its attempts are every re-visit recorded for it so far.
_FOR_TASK = """FROM revisits r WHERE r.demand_id = t.demand_id AND r.round >= t.round
        AND r.revisited_at >= date_trunc('minute', t.triggered_at)"""
_DONE = f"""CROSS JOIN LATERAL (
    SELECT (SELECT min(r.revisited_at) {_FOR_TASK} AND r.reached) AS done_at,
        (SELECT count(*) {_FOR_TASK}) AS attempts
) x"""


def _status(today: str) -> str:
    """Where a task stands on `today` (a SQL date): Task.status."""
    return f"""CASE WHEN x.done_at IS NOT NULL THEN 'done' WHEN t.appears_on > {today} THEN 'upcoming'
        WHEN t.due_on < {today} THEN 'overdue' ELSE 'due' END"""


_ADD_TASK = f"""
INSERT INTO revisit_tasks ({", ".join(_TASK_COLUMNS)})
VALUES ({", ".join(f"${n}" for n in range(1, len(_TASK_COLUMNS) + 1))})
ON CONFLICT DO NOTHING
"""
_TASKS_OF = f"""
SELECT {_T}, x.done_at, x.attempts FROM revisit_tasks t {_DONE}
WHERE t.demand_id = $1
ORDER BY t.round, t.triggered_at, t.kind
"""
# The station's list (GET /revisits): the tasks that have appeared by $2 (today) in scope $1, by status $3 and kind
# $4 when asked; open ones first, by due date.
_LIST = f"""
SELECT {_T}, x.done_at, x.attempts, c.tracking_no, c.enterprise_name, c.contact_phone
FROM revisit_tasks t JOIN cases c ON c.demand_id = t.demand_id {_DONE}
WHERE qs_covers($1, t.station_id) AND t.appears_on <= $2
    AND ($3::text IS NULL OR ({_status("$2")}) = $3) AND ($4::text IS NULL OR t.kind = $4)
ORDER BY x.done_at IS NOT NULL, t.due_on, t.station_id, c.tracking_no, t.round, t.kind
LIMIT $5 OFFSET $6
"""

_REVISIT_COLUMNS = (
    "revisit_id",
    "demand_id",
    "station_id",
    "round",
    "method",
    "revisited_at",
    "reached",
    "contact",
    "enterprise_said",
    "need_met",
    "voluntary",
    "recorded_by",
    "recorded_at",
    "event_id",
)
_ADD_REVISIT = f"""
INSERT INTO revisits ({", ".join(_REVISIT_COLUMNS)}, recorded_by_id)
VALUES ({", ".join(f"${n}" for n in range(1, len(_REVISIT_COLUMNS) + 2))})
"""
_REVISITS_OF = f"""
SELECT {", ".join(_REVISIT_COLUMNS)} FROM revisits WHERE demand_id = $1 ORDER BY revisited_at, recorded_at, revisit_id
"""
_REVISIT = f"SELECT {', '.join(_REVISIT_COLUMNS)} FROM revisits WHERE revisit_id = $1"

# GET /kpis (services/tracking/kpis.py, Revisits): per station in scope $1, the tasks due in the period [$2, $3]
# (China dates) that have appeared by today ($4), those of them done (by now), the same for 差评回访, the tasks
# overdue today (as the gauge), and the voluntary re-visits that reached the enterprise on a day of the period.
_DUE_IN_PERIOD = "t.appears_on <= $4 AND t.due_on BETWEEN $2 AND $3"
_DISSATISFIED = f"t.kind = '{TaskKind.dissatisfied.value}'"
_KPIS = f"""
SELECT {STATION_TREE_SQL},
    count(*) FILTER (WHERE {_DUE_IN_PERIOD}) AS due,
    count(*) FILTER (WHERE {_DUE_IN_PERIOD} AND x.done_at IS NOT NULL) AS done,
    count(*) FILTER (WHERE {_DUE_IN_PERIOD} AND {_DISSATISFIED}) AS dissatisfied_due,
    count(*) FILTER (WHERE {_DUE_IN_PERIOD} AND {_DISSATISFIED} AND x.done_at IS NOT NULL) AS dissatisfied_done,
    count(*) FILTER (WHERE t.appears_on <= $4 AND t.due_on < $4 AND x.done_at IS NULL) AS overdue
FROM revisit_tasks t {_DONE}
WHERE qs_covers($1, t.station_id)
GROUP BY 1, 2, 3
"""
_VOLUNTARY = """
SELECT station_id, count(*) AS voluntary FROM revisits
WHERE qs_covers($1, station_id) AND voluntary AND reached
    AND (revisited_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $2 AND $3
GROUP BY 1
"""


# --- the metrics (README: 回访率 / 差评回访率) -------------------------------------------------------------------
# Read at a scrape, per station with its district and city (STATION_TREE_SQL), with a `kind` label (dissatisfied,
# not_met, sample): each task is one kind for good, so per kind and in sum the counters only go up. A station with a
# task has every kind's series, 0 included. Today is the China date of the service's clock, as for the cases' KPIs.

_KIND_LABELS = (*TREE_LABELS, "kind")
DUE = StoreCounter(
    "qs_revisits_due_total",
    "Re-visit tasks (回访任务) that have appeared (from the working day after the resolution or 不满意 rating that"
    " made them), by station and kind: dissatisfied (差评回访, every 不满意 rating), not_met (need not met), sample"
    " (drawn at the station's revisit_sample_rate); 回访率's denominator",
    _KIND_LABELS,
)
DONE = StoreCounter(
    "qs_revisits_done_total",
    "Re-visit tasks that have appeared and are done: a re-visit reached the enterprise after what made the task"
    " (attempts that did not reach it do not count); 回访率's numerator",
    _KIND_LABELS,
)
OVERDUE = StoreCounter(
    "qs_revisits_overdue",
    "Re-visit tasks past their due date (revisit_days working days) and not done now",
    _KIND_LABELS,
    kind="gauge",
)
RECORDED = StoreCounter(
    "qs_revisits_recorded_total",
    "Re-visits recorded (回访记录), by station, whether they reached the enterprise, and whether voluntary (the"
    " demand had no task: not in the task counters)",
    (*TREE_LABELS, "reached", "voluntary"),
)


def _today() -> tuple[date]:
    return (china_today(utcnow()),)


def _kind_columns() -> tuple[str, tuple[tuple[StoreCounter, tuple[str, ...]], ...]]:
    sql, columns = [], []
    for kind in TaskKind:
        of_kind = f"t.appears_on <= $1 AND t.kind = '{kind.value}'"
        for counter, condition in (
            (DUE, of_kind),
            (DONE, f"{of_kind} AND x.done_at IS NOT NULL"),
            (OVERDUE, f"{of_kind} AND x.done_at IS NULL AND t.due_on < $1"),
        ):
            sql.append(f"count(*) FILTER (WHERE {condition})")
            columns.append((counter, (kind.value,)))
    return ",\n    ".join(sql), tuple(columns)


_TASK_VALUES, _TASK_FAMILIES = _kind_columns()
TASK_KPIS = StoreQuery(
    f"SELECT {STATION_TREE_SQL},\n    {_TASK_VALUES}\nFROM revisit_tasks t {_DONE}\nGROUP BY 1, 2, 3",
    labels=len(TREE_LABELS),
    columns=_TASK_FAMILIES,
    params=_today,
)
_COMBINATIONS = tuple((reached, voluntary) for reached in (True, False) for voluntary in (True, False))
RECORDED_KPIS = StoreQuery(
    f"SELECT {STATION_TREE_SQL},\n    "
    + ",\n    ".join(
        f"count(*) FILTER (WHERE reached = {str(r).upper()} AND voluntary = {str(v).upper()})" for r, v in _COMBINATIONS
    )
    + "\nFROM revisits\nGROUP BY 1, 2, 3",
    labels=len(TREE_LABELS),
    columns=tuple((RECORDED, (str(r).lower(), str(v).lower())) for r, v in _COMBINATIONS),
)
COUNTERS: tuple[StoreQuery, ...] = (TASK_KPIS, RECORDED_KPIS)


def _task(r: asyncpg.Record) -> Task:
    return Task(
        **{c: r[c] for c in _TASK_COLUMNS if c != "kind"},
        kind=TaskKind(r["kind"]),
        done_at=r["done_at"],
        attempts=r["attempts"],
    )


def _revisit(r: asyncpg.Record) -> Revisit:
    return Revisit(**{c: r[c] for c in _REVISIT_COLUMNS if c != "method"}, method=RevisitMethod(r["method"]))


class RevisitStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_task(self, task: Task) -> bool:
        """Kept once: a second task of the same demand, round and kind (or a second of a resolution) is ignored."""
        status = await self.conn.execute(_ADD_TASK, *(getattr(task, c) for c in _TASK_COLUMNS))
        return status.split()[-1] != "0"

    async def tasks_of(self, demand_id: UUID) -> list[Task]:
        return [_task(r) for r in await self.conn.fetch(_TASKS_OF, demand_id)]

    async def task_list(
        self, scope: str, today: date, status: str | None, kind: str | None, limit: int, offset: int
    ) -> list[tuple[Task, asyncpg.Record]]:
        """Each task with its case's tracking number, enterprise and contact phone."""
        rows = await self.conn.fetch(_LIST, scope, today, status, kind, limit, offset)
        return [(_task(r), r) for r in rows]

    async def add_revisit(self, revisit: Revisit, recorded_by_id: str) -> None:
        values = [getattr(revisit, c) for c in _REVISIT_COLUMNS]
        values[_REVISIT_COLUMNS.index("method")] = revisit.method.value
        await self.conn.execute(_ADD_REVISIT, *values, recorded_by_id)

    async def revisits_of(self, demand_id: UUID) -> list[Revisit]:
        return [_revisit(r) for r in await self.conn.fetch(_REVISITS_OF, demand_id)]

    async def revisit(self, revisit_id: UUID) -> Revisit | None:
        row = await self.conn.fetchrow(_REVISIT, revisit_id)
        return _revisit(row) if row else None

    async def kpi_rows(self, scope: str, period: Period, today: date) -> tuple[list[asyncpg.Record], dict[str, int]]:
        """The period's task figures per station in scope (see _KPIS) and its voluntary re-visits per station."""
        rows = await self.conn.fetch(_KPIS, scope, period.start, period.end, today)
        voluntary = await self.conn.fetch(_VOLUNTARY, scope, period.start, period.end)
        return rows, {r["station_id"]: r["voluntary"] for r in voluntary}
