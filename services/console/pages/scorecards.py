"""评分卡 (issue 10): one table per dimension (服务站 / 工作人员 / 服务机构 / 服务类别) for a period, joined from the
scorecards of tracking (handling), evaluation (ratings) and intake (complaints), and the same table as an XLSX file.

Each service answers GET /scorecards?by=&from=&to=[&station_id=] in one shape (/work/notes/scorecard-contract.md):
rows keyed by station id, first responder, organization id or category code, with their figures; the console joins
the rows on the key and lays the figures side by side under Chinese headers. A service that answers no row for a key
counted nothing for it (0; a rate without a denominator is shown as —). A service that cannot answer (down, or not
offering scorecards yet) leaves its columns empty with a note, never the page. The scope is the services': the head
sees the station, a supervisor its area or one station of it; a station outside it is 404.
"""

import asyncio
import io
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from shared.auth import Role

from ..client import SERVICE_LABELS, ServiceError, Services
from ..web import Api, Caller, allowed, render
from .care_forms import period_query
from .supervisor import in_scope

router = APIRouter()

DIMENSIONS = {"station": "服务站", "staff": "工作人员", "organization": "服务机构", "category": "服务类别"}
# (service, field, 中文 header), in the table's order; a field ending in _rate is a share in [0, 1].
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("tracking", "received", "受理数"),
    ("tracking", "responded", "已响应"),
    ("tracking", "responded_in_time", "及时响应"),
    ("tracking", "response_rate", "响应率"),
    ("tracking", "resolved", "办结数"),
    ("tracking", "resolved_on_time", "按时办结"),
    ("tracking", "on_time_rate", "按时办结率"),
    ("tracking", "reopened", "重办数"),
    ("tracking", "reopen_rate", "重办率"),
    ("tracking", "revisits_due", "应回访"),
    ("tracking", "revisits_done", "已回访"),
    ("tracking", "revisit_rate", "回访率"),
    ("evaluation", "ratings", "有效评价"),
    ("evaluation", "voided", "作废评价"),
    ("evaluation", "very_satisfied", "非常满意"),
    ("evaluation", "satisfied", "满意"),
    ("evaluation", "basically_satisfied", "基本满意"),
    ("evaluation", "dissatisfied", "不满意"),
    ("evaluation", "very_dissatisfied", "非常不满意"),
    ("evaluation", "satisfied_count", "满意数"),
    ("evaluation", "satisfaction_rate", "满意率"),
    ("evaluation", "solved", "已解决"),
    ("intake", "complaints", "投诉数"),
    ("intake", "complaints_open", "未结投诉"),
    ("intake", "complaints_overdue", "超期投诉"),
)
SOURCES = ("tracking", "evaluation", "intake")


def is_rate(name: str) -> bool:
    return name.endswith("_rate")


@dataclass
class Table:
    by: str
    start: str | None
    end: str | None
    station_id: str | None
    rows: list[dict] = field(default_factory=list)  # {key, label, values: {(service, field): value}}
    missing: dict[str, str] = field(default_factory=dict)  # service -> why its columns are empty

    @property
    def dimension(self) -> str:
        return DIMENSIONS[self.by]


def join(by: str, replies: dict[str, dict | None], names: dict[str, str]) -> list[dict]:
    """The services' rows joined on `key`. A service that answered but has no row for a key counted nothing for
    it: counts 0, rates None. A service that did not answer (None): its values stay None. Pure."""
    rows: dict[str, dict] = {}
    for service in SOURCES:
        for r in (replies.get(service) or {}).get("rows") or []:
            key = str(r.get("key"))
            row = rows.setdefault(key, {"key": key, "label": "", "values": {}})
            row["label"] = row["label"] or str(r.get("label") or "")
            for svc, name, _ in COLUMNS:
                if svc == service and name in r:
                    row["values"][(svc, name)] = r[name]
    for row in rows.values():
        if by == "station" and row["key"] in names:
            row["label"] = names[row["key"]]
        row["label"] = row["label"] or row["key"]
        for svc, name, _ in COLUMNS:
            if (svc, name) not in row["values"] and replies.get(svc) is not None:
                row["values"][(svc, name)] = None if is_rate(name) else 0
    return sorted(rows.values(), key=lambda r: (r["label"], r["key"]))


def shown(value: Any, name: str) -> str:
    if value is None:
        return "—"
    if is_rate(name):
        return f"{float(value) * 100:.1f}%"
    return str(value)


def xlsx(table: Table) -> bytes:
    """The table as an Excel workbook: the same rows and figures, Chinese headers, rates as percentages."""
    book = Workbook()
    sheet = book.active
    sheet.title = f"评分卡-{table.dimension}"
    period = f"统计期间：{table.start or ''} 至 {table.end or ''}（北京时间）"
    if table.station_id:
        period += f"；服务站：{table.station_id}"
    sheet.append([f"评分卡（按{table.dimension}）", period])
    headers = ["编号", table.dimension, *(label for _, _, label in COLUMNS)]
    sheet.append(headers)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE7F3")
    for cell in sheet[2]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in table.rows:
        sheet.append([row["key"], row["label"], *(row["values"].get((s, n)) for s, n, _ in COLUMNS)])
        for offset, (_, name, _) in enumerate(COLUMNS):
            if is_rate(name):
                sheet.cell(row=sheet.max_row, column=3 + offset).number_format = "0.0%"
    for missing, why in table.missing.items():
        sheet.append([f"{SERVICE_LABELS.get(missing, missing)}的数字暂缺：{why}"])
    sheet.freeze_panes = "C3"
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 30
    for index in range(3, len(headers) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 11
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _read(api: Services, service: str, caller: Caller, query: dict) -> tuple[dict | None, ServiceError | None]:
    try:
        return await api.scorecard(service, caller.token, **query), None
    except ServiceError as exc:
        if exc.status in (401, 403):
            raise
        return None, exc


async def table_of(
    api: Services, caller: Caller, by: str, start: str | None, end: str | None, station_id: str | None
) -> tuple[Table, dict[str, str]]:
    """The joined table, and the period's field errors (from/to) if the services refused the period."""
    query = period_query(start, end) | {"by": by, "station_id": station_id or None}
    found = await asyncio.gather(*(_read(api, s, caller, query) for s in SOURCES))
    replies = {s: reply for s, (reply, _) in zip(SOURCES, found, strict=True)}
    errors = {s: err for s, (_, err) in zip(SOURCES, found, strict=True) if err is not None}
    if station_id and errors and len(errors) == len(SOURCES) and all(e.status == 404 for e in errors.values()):
        raise next(iter(errors.values()))  # a station outside the caller's area: no such page for them
    field_errors: dict[str, str] = {}
    missing: dict[str, str] = {}
    for service, exc in errors.items():
        if exc.status == 422:
            for name, text in exc.field_errors().items():
                field_errors.setdefault(name if name in ("from", "to") else "from", text)
            missing[service] = exc.message
        elif exc.status == 404:
            missing[service] = "该服务暂未提供评分卡"
        else:
            missing[service] = exc.message
    answered = next((r for r in replies.values() if r), {})
    names = {s["station_id"]: s["name"] for s in await api.stations(caller.token)}
    table = Table(
        by=by,
        start=answered.get("from") or query.get("from"),
        end=answered.get("to") or query.get("to"),
        station_id=station_id,
        rows=join(by, replies, names),
        missing=missing,
    )
    return table, field_errors


def _choices(by: str | None) -> str:
    return by if by in DIMENSIONS else "station"


@router.get("/scorecards")
async def scorecards(
    request: Request,
    api: Api,
    caller=allowed(Role.head, Role.supervisor),
    by: str | None = None,
    start: str | None = None,
    end: str | None = None,
    station_id: str | None = None,
) -> Response:
    by = _choices(by)
    station_id = (station_id or "").strip() or None if caller.role is Role.supervisor else None
    table, field_errors = await table_of(api, caller, by, start, end, station_id)
    registry = await api.stations(caller.token)
    area = [s for s in registry if caller.station and in_scope(s["station_id"], caller.station)]
    return render(
        request,
        "scorecards.html",
        table=table,
        columns=COLUMNS,
        sources=SOURCES,
        service_labels=SERVICE_LABELS,
        dimensions=DIMENSIONS,
        by=by,
        start=start or "",
        end=end or "",
        station_id=station_id or "",
        stations=area if caller.role is Role.supervisor else [],
        field_errors=field_errors,
        shown=shown,
        download="/scorecards.xlsx?"
        + "&".join(
            f"{k}={quote(v)}"
            for k, v in (("by", by), ("start", start or ""), ("end", end or ""), ("station_id", station_id or ""))
            if v
        ),
    )


@router.get("/scorecards.xlsx")
async def scorecards_xlsx(
    api: Api,
    caller=allowed(Role.head, Role.supervisor),
    by: str | None = None,
    start: str | None = None,
    end: str | None = None,
    station_id: str | None = None,
) -> Response:
    by = _choices(by)
    station_id = (station_id or "").strip() or None if caller.role is Role.supervisor else None
    table, field_errors = await table_of(api, caller, by, start, end, station_id)
    if field_errors:
        raise ServiceError(422, "；".join(field_errors.values()), "the period was refused", code="validation_error")
    name = f"评分卡-{table.dimension}-{table.start or ''}-{table.end or ''}.xlsx"
    ascii_name = f"scorecard-{by}-{table.start or ''}-{table.end or ''}.xlsx"
    return Response(
        xlsx(table),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"},
    )
