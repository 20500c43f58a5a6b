"""The supervisor's view (市局 / 区局): every station of its area in one table with its KPIs, red where a rate is below
its target; a station's page with the same figures and its ledger (overdue, awaiting verification, search), from
which each demand opens (and, on the demand's page, 申诉复核 of a rating).

The figures are tracking's GET /kpis (now: open, overdue, paused; over the period: 响应率, 按时办结率, 重办率, time to
resolve, 回访率, 差评回访率) and evaluation's GET /kpis (满意率, 解决率, valid ratings), joined by station; the
definitions are theirs (domain.md §9), the console only lays them side by side. A station of the area with nothing to
count shows dashes. The APIs decide the scope: a station outside it is 404 here as there.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role

from ..client import ServiceError, Services
from ..forms import Pager
from ..web import Api, Caller, allowed, render
from .care_forms import period_query

router = APIRouter()


@dataclass(frozen=True)
class Cell:
    text: str
    below: bool = False  # shown red: below its target, or overdue work
    title: str = ""  # the numerator and denominator behind a rate


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _rate(value: float | None, below: bool | None, num: int | None = None, den: int | None = None) -> Cell:
    title = f"{num}/{den}" if num is not None and den is not None else ""
    return Cell(pct(value), bool(below), title)


def _count(value: int | None, red_when_positive: bool = False) -> Cell:
    if value is None:
        return Cell("—")
    return Cell(str(value), red_when_positive and value > 0)


# The table's columns, in order: (key, 中文 header, what it means).
COLUMNS = (
    ("open", "办理中", "现在仍在办理的需求"),
    ("overdue_response", "响应超期", "从未派单、已过响应期限"),
    ("overdue_handling", "办理超期", "已过现行办结期限"),
    ("paused", "挂起中", "现在挂起的需求"),
    ("response_rate", "响应率", "期内应响应的需求中按时派单的比例"),
    ("on_time_rate", "按时办结率", "期内应办结的需求中按期办结的比例"),
    ("resolved", "期内办结", "办结日期在期内的需求"),
    ("reopen_rate", "重办率", "期内办结的需求中经核实重新办理的比例"),
    ("average_days", "平均办结用时", "期内办结需求的平均工作日数"),
    ("revisit_rate", "回访率", "期内到期的回访任务中已回访的比例"),
    ("dissatisfied_revisit_rate", "差评回访率", "不满意评价的回访完成比例，目标 100%"),
    ("satisfaction_rate", "满意率", "有效评价中满意的比例"),
    ("solution_rate", "解决率", "回答了问题是否解决的评价中答是的比例"),
    ("valid_ratings", "有效评价", "期内有效评价数（申诉复核作废的不计）"),
)


def figures(tracking: dict | None, evaluation: dict | None, targets: dict) -> dict[str, Cell]:
    """One row's cells from a station's (or the total's) figures of each service; dashes where a service has none."""
    t, e = tracking or {}, evaluation or {}
    now, handling, response = t.get("now") or {}, t.get("handling") or {}, t.get("response") or {}
    resolution, visits = t.get("resolution") or {}, t.get("revisits") or {}
    satisfaction, solution = e.get("satisfaction") or {}, e.get("solution") or {}
    revisit_rate = visits.get("revisit_rate")
    dissatisfied_rate = visits.get("dissatisfied_revisit_rate")
    average = resolution.get("average_working_days")
    target_revisit = targets.get("revisit_rate")
    return {
        "open": _count(now.get("open")),
        "overdue_response": _count(now.get("overdue_response"), True),
        "overdue_handling": _count(now.get("overdue_handling"), True),
        "paused": _count(now.get("paused")),
        "response_rate": _rate(
            response.get("response_rate"),
            response.get("below_target"),
            response.get("responded_in_time"),
            response.get("due"),
        ),
        "on_time_rate": _rate(
            handling.get("on_time_rate"),
            handling.get("below_target"),
            handling.get("resolved_on_time"),
            handling.get("due"),
        ),
        "resolved": _count(handling.get("resolved_in_period")),
        "reopen_rate": _rate(
            handling.get("reopen_rate"), False, handling.get("reopened"), handling.get("resolved_in_period")
        ),
        "average_days": Cell("—" if average is None else f"{average:.1f} 天"),
        "revisit_rate": _rate(
            revisit_rate,
            revisit_rate is not None and target_revisit is not None and revisit_rate < target_revisit,
            visits.get("done"),
            visits.get("due"),
        ),
        "dissatisfied_revisit_rate": _rate(
            dissatisfied_rate,
            dissatisfied_rate is not None and dissatisfied_rate < 1,
            visits.get("dissatisfied_done"),
            visits.get("dissatisfied_due"),
        ),
        "satisfaction_rate": _rate(
            satisfaction.get("satisfaction_rate"),
            satisfaction.get("below_target"),
            satisfaction.get("satisfied"),
            satisfaction.get("valid"),
        ),
        "solution_rate": _rate(
            solution.get("solution_rate"),
            False,
            solution.get("yes"),
            None if not solution else solution.get("yes", 0) + solution.get("no", 0),
        ),
        "valid_ratings": _count(satisfaction.get("valid")),
    }


def in_scope(station_id: str, scope: str) -> bool:
    return station_id == scope or station_id.startswith(scope + "/")


@dataclass(frozen=True)
class Row:
    station_id: str
    name: str
    cells: dict[str, Cell]


def station_rows(registry: list[dict], scope: str | None, tracking: dict | None, evaluation: dict | None) -> list[Row]:
    """Every station of the area (the registry's, within `scope`) and any station a service counted, by id."""
    by_t = {s["station_id"]: s for s in (tracking or {}).get("stations") or []}
    by_e = {s["station_id"]: s for s in (evaluation or {}).get("stations") or []}
    names = {s["station_id"]: s["name"] for s in registry}
    ids = {sid for sid in names if scope and in_scope(sid, scope)} | set(by_t) | set(by_e)
    targets = (tracking or {}).get("targets") or {}
    return [
        Row(sid, names.get(sid, sid), figures(by_t.get(sid), by_e.get(sid), targets))
        for sid in sorted(ids, key=lambda s: (names.get(s, s), s))
    ]


async def _read(call) -> tuple[Any, ServiceError | None]:
    try:
        return await call, None
    except ServiceError as exc:
        if exc.status in (401, 403):
            raise
        return None, exc


def _period_problem(*errors: ServiceError | None) -> tuple[dict[str, str], list[str]]:
    """A 422 on the period goes next to its field (from / to); any other problem above the table."""
    fields: dict[str, str] = {}
    general: list[str] = []
    for exc in errors:
        if exc is None:
            continue
        if exc.status == 422 and exc.field_errors():
            for name, text in exc.field_errors().items():
                fields.setdefault(name if name in ("from", "to") else "from", text)
        else:
            general.append(f"{exc.message}")
    return fields, list(dict.fromkeys(general))


async def _kpis(
    api: Services, caller: Caller, query: dict
) -> tuple[dict | None, dict | None, ServiceError | None, ServiceError | None]:
    (tracking, t_err), (evaluation, e_err) = await asyncio.gather(
        _read(api.kpis("tracking", caller.token, **query)), _read(api.kpis("evaluation", caller.token, **query))
    )
    if any(err is not None and err.status == 404 for err in (t_err, e_err)):
        # A station outside the caller's area: the page does not exist for them either.
        raise next(err for err in (t_err, e_err) if err is not None and err.status == 404)
    return tracking, evaluation, t_err, e_err


@router.get("/supervision")
async def stations(
    request: Request,
    api: Api,
    caller=allowed(*READERS),
    start: str | None = None,
    end: str | None = None,
) -> Response:
    query = period_query(start, end)
    (tracking, evaluation, t_err, e_err), registry = await asyncio.gather(
        _kpis(api, caller, query), api.stations(caller.token)
    )
    field_errors, problems = _period_problem(t_err, e_err)
    period = tracking or evaluation or {}
    return render(
        request,
        "supervision.html",
        rows=station_rows(registry, caller.station, tracking, evaluation),
        total=figures(
            (tracking or {}).get("total"), (evaluation or {}).get("total"), (tracking or {}).get("targets") or {}
        ),
        columns=COLUMNS,
        targets=(tracking or {}).get("targets") or {},
        satisfaction_target=((evaluation or {}).get("targets") or {}).get("satisfaction_rate"),
        start=start or "",
        end=end or "",
        period_from=period.get("from"),
        period_to=period.get("to"),
        field_errors=field_errors,
        problems=problems,
        pct=pct,
        is_supervisor=caller.role is Role.supervisor,
    )


_TABS = {"": "全部", "overdue": "已超期", "due_soon": "即将到期", "to_verify": "待核实（不满意评价）"}


@router.get("/supervision/stations/{station_id:path}")
async def station(
    request: Request,
    station_id: str,
    api: Api,
    caller=allowed(*READERS),
    start: str | None = None,
    end: str | None = None,
    list: str | None = None,
    q: str | None = None,
    page: str | None = None,
) -> Response:
    query = period_query(start, end) | {"station_id": station_id}
    current = list if list in _TABS else ""
    words = (q or "").strip()[:100]
    pager = Pager.of(page)
    tracking, evaluation, t_err, e_err = await _kpis(api, caller, query)
    rows, ledger_problem = [], None
    try:
        rows = await api.ledger(
            caller.token, station_id=station_id, list=current or None, q=words or None, **pager.params
        )
    except ServiceError as exc:
        if exc.status != 422:
            raise
        ledger_problem = "；".join(exc.field_errors().values()) or exc.message
    rows, more = pager.cut(rows)
    registry = await api.stations(caller.token)
    name = next((s["name"] for s in registry if s["station_id"] == station_id), station_id)
    field_errors, problems = _period_problem(t_err, e_err)
    t_row = next((s for s in (tracking or {}).get("stations") or [] if s["station_id"] == station_id), None)
    e_row = next((s for s in (evaluation or {}).get("stations") or [] if s["station_id"] == station_id), None)
    period = tracking or evaluation or {}
    return render(
        request,
        "supervision_station.html",
        station_id=station_id,
        station_name=name,
        cells=figures(t_row, e_row, (tracking or {}).get("targets") or {}),
        columns=COLUMNS,
        tabs=_TABS,
        current=current,
        q=words,
        rows=rows,
        pager=pager,
        more=more,
        ledger_problem=ledger_problem,
        start=start or "",
        end=end or "",
        period_from=period.get("from"),
        period_to=period.get("to"),
        field_errors=field_errors,
        problems=problems,
        is_supervisor=caller.role is Role.supervisor,
    )
