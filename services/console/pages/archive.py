"""档案 and 周报: the sealed dossiers of the caller's scope (list and search — the archive searches and pages —, one
dossier in Chinese sections, its service record and whole-dossier PDFs passed through from the archive), the weekly
report (figures, visits made, special tasks) with the head's plan for next week, and the books (一企一册 / 一链一册 /
一镇一册): small ones download at once, large ones become a job the page follows.

The archive decides who may read what (its every read is in its access log): out of scope is 404, a role it refuses
403, as on every page. Files come through the console with the signed-in person's token, never a link to a service.
"""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role
from shared.calendar import CHINA, china_today
from shared.contracts import Channel, FollowUpKind, GreenChannel

from ..client import Document, ServiceError, Services
from ..forms import STAR_ITEMS, Errors, FormData, Pager, place_errors, text
from ..web import Api, Caller, allowed, flash, redirect, render
from .demands import DOCUMENT_CSP, FormState, blank

router = APIRouter()

# --- pure: search, sections, weeks, books ---

# The archive's GET /dossiers searches itself (q: a tracking number by its start, or digits only by its serial's end,
# or any part of an archive number, an enterprise's name or credit code; sealed_from/sealed_to: China dates, both
# included), within the caller's scope; each row names the enterprise as sealed (none once disposed of).
SEARCH_FIELDS = ("q", "sealed_from", "sealed_to")
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{9,10}$")


def dossier_search(query: Mapping[str, Any]) -> dict[str, str]:
    """The search as the archive takes it: what was typed, trimmed; left empty is not sent (the archive checks the
    rest and names the field it refuses)."""
    return {n: v.strip() for n in SEARCH_FIELDS if isinstance(v := query.get(n), str) and v.strip()}


def named_enterprise(q: str | None, rows: list[dict]) -> str | None:
    """The enterprise a search by its whole credit code found, when the rows carry its name as sealed."""
    code = (q or "").strip().upper()
    if not _CREDIT_CODE.match(code):
        return None
    return next((r["enterprise_name"] for r in rows if r.get("enterprise_name") and r.get("credit_code") == code), None)


SECTION_TITLES: tuple[tuple[str, str], ...] = (
    ("corrections", "更正登记"),
    ("assignments", "派单、改派与转办"),
    ("returns", "退单"),
    ("follow_ups", "跟进记录与预约"),
    ("pauses", "挂起"),
    ("resumptions", "恢复计时"),
    ("extension_requests", "延期申请"),
    ("extension_decisions", "延期审批"),
    ("warnings", "预警"),
    ("chases", "催办"),
    ("supervisions", "督办"),
    ("supervision_answers", "督办回复"),
    ("resolutions", "办结与服务小结"),
    ("ratings", "满意度评价"),
    ("verifications", "不满意评价核实"),
    ("reopenings", "重办"),
    ("voids", "申诉复核（评价作废）"),
    ("revisits", "回访"),
    ("complaints", "投诉"),
    ("refusals", "否定备案"),
    ("merges", "并单"),
    ("withdrawals", "撤回"),
    ("fees", "收费情况"),
    ("deliverables", "交付资料"),
    ("staff", "参与人员"),
)
# Shown elsewhere on the page (the registration, the outcome) or only for machines (rounds, the raw events).
_NOT_SECTIONS = {"demand", "notice", "outcome", "rounds", "events"}
_ENVELOPE = {"event_id", "correlation_id", "causation_id", "schema_version", "station_id", "demand_id", "tracking_no"}
FIELD_LABELS = {
    "occurred_at": "时间",
    "round": "轮次",
    "assignee_name": "承办方",
    "assignee_kind": "承办方类型",
    "handling_mode": "办理方式",
    "due_on": "期限",
    "assigned_by": "派单人",
    "reason": "理由",
    "outcome": "办理结果",
    "summary": "服务小结",
    "resolved_by": "办结人",
    "fee": "收费情况",
    "deliverables": "交付资料",
    "staff_involved": "参与人员",
    "answers": "评价内容",
    "source": "评价来源",
    "recorded_by": "记录人",
    "finding": "核实结论",
    "comment": "意见",
    "text": "内容",
    "kind": "类别",
    "answer": "回复内容",
    "method": "回访方式",
    "enterprise_said": "企业意见",
    "need_met": "需求是否满足",
    "stage": "环节",
    "basis": "依据",
    "name": "名称",
    "title": "资料名称",
    "reference": "编号/位置",
    "amount_yuan": "金额（元）",
    "free_service": "免费服务",
    "payer": "付费方",
    "roles": "参与事项",
    "enterprise": "企业",
    "credit_code": "统一社会信用代码",
    "description": "需求描述",
    "items": "服务项目",
    "categories": "服务类别",
    "channel": "渠道",
    "contact": "联系人",
    "phone": "电话",
    "first_responder": "首问负责人",
    "time_limit_days": "承诺时限（工作日）",
    "expected_on": "预计办结日期",
    "received_at": "受理时间",
    "label": "名称",
    "code": "编码",
    "materials": "所需材料",
    "submitted_at": "提交时间",
    "resolved_at": "办结时间",
    "rated_at": "评价时间",
    "assignment_no": "派单序号",
    "enterprise_profile": "企业所属（登记时）",
    "chain": "产业链",
    "chain_leader": "链主企业",
    "town": "专业镇",
    "in_park": "园区内",
    "park_name": "园区",
    "counts_as_satisfied": "计为满意",
    "green_channel": "绿色通道",
    "green_channel_reason": "绿色通道理由",
    "overall": "总体评价",
    "comments": "意见建议",
    "problem_solved": "问题是否解决",
}
# The satisfaction form's items in its order and words: 1–4 and 6–9 in stars, 5 solved, 10 overall, 11 comments.
ANSWER_LABELS = dict(
    sorted(
        {
            **{name: (number, question.removeprefix("您对本次")) for name, number, question in STAR_ITEMS},
            "problem_solved": (5, "问题是否解决"),
            "overall": (10, "总体评价"),
            "comments": (11, "意见建议"),
        }.items(),
        key=lambda item: item[1][0],
    )
)
# Only for machines (ids that a name beside them says for people, versions, event references): not shown.
_MACHINE_FIELDS = {
    "version",
    "handled_by",
    "category",
    "first_responder_id",
    "assignee_id",
    "rating_event_id",
    "responsible_id",
}
ENDINGS = {"resolved": "办结", "refused": "否定备案", "merged": "已并单", "withdrawn": "已撤回"}
VALUE_LABELS = {
    "outcome": {"met": "需求已满足", "not_met": "需求未能满足"},
    "assignee_kind": {"organization": "服务机构", "department": "站内科室", "staff": "工作人员"},
    "source": {"online": "网上评价", "paper": "纸质评价表"},
    "finding": {"founded": "情况属实，重新办理", "unfounded": "情况不属实", "unreachable": "无法联系企业"},
    "overall": {"very_satisfied": "非常满意", "satisfied": "满意", "basically_satisfied": "基本满意",
                "dissatisfied": "不满意"},
    "channel": {c.value: c.label for c in Channel},
    "green_channel": {g.value: g.label for g in GreenChannel},
    "handling_mode": {"independent": "独立办理", "joint": "共同办理", "coordinated": "协调办理"},
    "kind": {**{k.value: k.label for k in FollowUpKind}, **ENDINGS},
}  # fmt: skip


def value_text(key: str, value: Any) -> str:
    """One field for people: codes as labels, instants in China time, nested values compact."""
    if value is None or value in ("", [], {}):
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        if key.endswith("_at"):
            try:
                return datetime.fromisoformat(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
            except ValueError:
                return value
        return VALUE_LABELS.get(key, {}).get(value, value)
    if isinstance(value, dict):
        if key == "answers":  # the form's order and numbers (items 1–11), not the stored order
            return "；".join(
                f"{number}. {label}：{value_text(name, value[name])}"
                for name, (number, label) in ANSWER_LABELS.items()
                if value.get(name) not in (None, "")
            )
        return "；".join(
            f"{FIELD_LABELS.get(k, k)}：{value_text(k, v)}"
            for k, v in value.items()
            if v not in (None, "", [], {}) and k not in _MACHINE_FIELDS
        )
    if isinstance(value, list):
        return "；".join(value_text(key, v) for v in value)
    return str(value)


def entry_rows(entry: Any) -> list[tuple[str, str]]:
    if not isinstance(entry, dict):
        return [("", value_text("", entry))]
    return [
        (FIELD_LABELS.get(k, k), value_text(k, v))
        for k, v in entry.items()
        if k not in _ENVELOPE and k not in _MACHINE_FIELDS and v not in (None, "", [], {})
    ]


def sections(content: dict | None) -> list[dict]:
    """The sealed content's sections that hold something, in the order a reader follows a case, with Chinese
    titles; a section a later archive version adds follows under its own name."""
    if not content:
        return []
    known = dict(SECTION_TITLES)
    order = [k for k, _ in SECTION_TITLES] + sorted(k for k in content if k not in known and k not in _NOT_SECTIONS)
    out = []
    for key in order:
        value = content.get(key)
        if value in (None, [], {}):
            continue
        entries = value if isinstance(value, list) else [value]
        out.append({"key": key, "title": known.get(key, key), "entries": [entry_rows(e) for e in entries]})
    return out


def by_station(report: dict) -> bool:
    """Whether the weekly report's lists name each row's station: a supervisor's subtree, or a station's report
    that holds rows of more than one station (its service points)."""
    if report.get("subtree"):
        return True
    figures = report.get("figures") or {}
    named = {s.get("station_id") for s in (figures.get("visits") or {}).get("by_station") or []}
    tasks = figures.get("special_tasks") or {}
    named |= {r.get("station_id") for r in [*(tasks.get("open") or []), *(tasks.get("reports") or [])]}
    return len(named) > 1


def week_text(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_week(now: datetime) -> str:
    """The week before the one of today in China: the newest finished week, what a Monday's report is about."""
    return week_text(china_today(now) - timedelta(days=7))


def week_input(raw: str | None, now: datetime) -> str:
    """The week picker's value (`<input type=week>` sends 2026-W47); anything else is last week."""
    typed = (raw or "").strip().upper()
    m = re.fullmatch(r"(\d{4})-W(\d{1,2})", typed)
    if m:
        try:
            return week_text(date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
        except ValueError:
            pass
    return last_week(now)


def shift_week(week: str, weeks: int) -> str:
    year, number = week.split("-W")
    return week_text(date.fromisocalendar(int(year), int(number), 1) + timedelta(weeks=weeks))


BOOK_KINDS = {"enterprise": "一企一册", "chain": "一链一册", "town": "一镇一册", "park": "一园一册"}
BOOK_KEYS = {"enterprise": "统一社会信用代码", "chain": "产业链", "town": "专业镇", "park": "园区名称"}
BOOK_FIELDS = ("kind", "key", "from", "to", "format")


def book_query(form: FormData | dict) -> dict:
    """The book's query as the archive takes it; left empty is not sent (the archive names what is missing)."""
    return {n: v.strip() for n in ("key", "from", "to") if isinstance(v := form.get(n), str) and v.strip()}


# --- the list and one dossier ---


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/archive")
async def archive_list(request: Request, api: Api, caller=allowed(*READERS), page: str | None = None) -> Response:
    """The newest dossiers of the caller's scope, or those a search finds; the archive searches and pages (its every
    list, with what was searched for, is in its access log)."""
    search = dossier_search(request.query_params)
    pager = Pager.of(page)
    rows: list[dict] = []
    more = False
    errors = Errors()
    status = 200
    try:
        rows, more = pager.cut(await api.dossiers(caller.token, **search, **pager.params))
    except ServiceError as exc:
        if exc.status != 422:
            raise
        errors = place_errors(exc.field_errors(), SEARCH_FIELDS, exc.message)
        status = 422
    return render(
        request,
        "archive_list.html",
        status_code=status,
        rows=rows,
        values=search,
        errors=errors,
        searched=bool(search),
        enterprise=named_enterprise(search.get("q"), rows),
        with_enterprise=any("enterprise_name" in r for r in rows),
        pager=pager,
        more=more,
        endings=ENDINGS,
    )


@router.get("/archive/{demand_id}")
async def dossier_page(request: Request, demand_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    d = await api.dossier(caller.token, demand_id)
    content = d.get("content") or {}
    demand = content.get("demand") or {}
    return render(
        request,
        "archive_dossier.html",
        d=d,
        demand_rows=entry_rows({k: v for k, v in demand.items() if k != "details"}) if demand else [],
        outcome_rows=entry_rows(content.get("outcome")) if content.get("outcome") else [],
        sections=sections(content),
        supplements=[
            {"no": s["supplement_no"], "at": s["added_at"], "rows": entry_rows(s.get("content"))}
            for s in d.get("supplements") or []
        ],  # fmt: skip
        endings=ENDINGS,
    )


def _file(doc: Document, *, attachment: bool = False) -> Response:
    """The archive's file as it came; `attachment`: saved rather than shown (a book asked for with a form)."""
    headers = {"Content-Security-Policy": DOCUMENT_CSP, "Cache-Control": "no-store"}
    if doc.disposition:
        disposition = doc.disposition
        if attachment:
            disposition = re.sub(r"^\s*inline", "attachment", disposition)
        headers["Content-Disposition"] = disposition
    return Response(doc.content, media_type=doc.media_type, headers=headers)


_DOCUMENTS = {
    "service-record": "service-record",
    "service-record.pdf": "service-record.pdf",
    "dossier.html": "dossier.html",
    "dossier.pdf": "dossier.pdf",
}


@router.get("/archive/{demand_id}/{document}")
async def dossier_document(demand_id: UUID, document: str, api: Api, caller=allowed(*READERS)) -> Response:
    """服务记录表 (HTML to print, PDF) and the whole dossier (HTML, PDF), streamed from the archive as it printed."""
    if document not in _DOCUMENTS:
        raise ServiceError(404, "未找到该页面", "no such document", code="not_found")
    return _file(await api.archive_file(caller.token, f"/dossiers/{demand_id}/{_DOCUMENTS[document]}"))


# --- 周报 ---


async def weekly_view(
    request: Request, api: Services, caller: Caller, week: str, form: FormState | None = None, status_code: int = 200
) -> Response:
    report = await api.weekly_report(caller.token, week)
    own = next((p for p in report.get("plans") or [] if p.get("station") == caller.station), None)
    plan_form = form or blank(plan=(own or {}).get("text", ""))
    return render(
        request,
        "archive_weekly.html",
        status_code=status_code,
        report=report,
        by_station=by_station(report),
        week=week,
        previous=shift_week(week, -1),
        following=shift_week(week, 1),
        may_plan=caller.role is Role.head,
        form=plan_form,
    )


@router.get("/weekly-reports")
async def weekly_page(request: Request, api: Api, caller=allowed(*READERS), week: str | None = None) -> Response:
    return await weekly_view(request, api, caller, week_input(week, _now()))


@router.post("/weekly-reports/{week}/plan")
async def weekly_plan(request: Request, week: str, api: Api, caller=allowed(Role.head)) -> Response:
    week = week_input(week, _now())
    form = await request.form()
    plan = text(form, "plan")
    try:
        await api.weekly_plan(caller.token, week, {"plan": plan} if plan else {})
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        state = FormState(
            {"plan": str(form.get("plan") or "")}, place_errors(exc.field_errors(), ("plan",), exc.message)
        )
        return await weekly_view(request, api, caller, week, state, exc.status)
    flash(request, "ok", f"已保存 {week} 周报中的下周工作计划。")
    return redirect(request, f"/weekly-reports?week={week}")


@router.get("/weekly-reports/{week}/report.pdf")
async def weekly_pdf(week: str, api: Api, caller=allowed(*READERS)) -> Response:
    return _file(await api.archive_file(caller.token, f"/weekly-reports/{week_input(week, _now())}/report.pdf"))


# --- 档案册 ---


@router.get("/archive-books")
async def books_page(request: Request, api: Api, caller=allowed(*READERS), kind: str | None = None) -> Response:
    values = {"kind": kind if kind in BOOK_KINDS else "enterprise", "format": "pdf"}
    return render(request, "archive_books.html", form=FormState(values), kinds=BOOK_KINDS, keys=BOOK_KEYS)


@router.post("/archive-books")
async def make_book(request: Request, api: Api, caller=allowed(*READERS)) -> Response:
    """A book small enough comes back at once; past the archive's direct limit (413) it becomes a job."""
    form = await request.form()
    kind = str(form.get("kind") or "")
    fmt = "xlsx" if form.get("format") == "xlsx" else "pdf"
    query = book_query(form)
    values = {n: str(form.get(n) or "") for n in BOOK_FIELDS}
    try:
        if kind not in BOOK_KINDS:
            raise ServiceError(
                422, "请选择档案册类型", "choose a kind", errors=[{"field": "kind", "message": "请选择档案册类型"}]
            )
        try:
            return _file(await api.archive_file(caller.token, f"/books/{kind}/book.{fmt}", **query), attachment=True)
        except ServiceError as exc:
            if exc.status != 413:
                raise
        body = {"book": kind, "format": fmt, **query}
        job = await api.archive_job(caller.token, body)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        errors = place_errors(exc.field_errors(), BOOK_FIELDS, exc.message)
        return render(
            request,
            "archive_books.html",
            status_code=422,
            form=FormState(values, errors),
            kinds=BOOK_KINDS,
            keys=BOOK_KEYS,
        )
    flash(request, "ok", "档案册较大，已转为后台生成，完成后可在此页下载。")
    return redirect(request, f"/archive-jobs/{job['job_id']}")


@router.get("/archive-jobs/{job_id}")
async def job_page(request: Request, job_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    job = await api.archive_job_state(caller.token, job_id)
    waiting = job.get("state") in ("queued", "running")
    page = render(request, "archive_job.html", job=job, waiting=waiting, kinds=BOOK_KINDS)
    if waiting:  # the browser reloads the page until the job is done: no script needed
        page.headers["Refresh"] = "3"
    return page


@router.get("/archive-jobs/{job_id}/file")
async def job_file(job_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    return _file(await api.archive_file(caller.token, f"/jobs/{job_id}/file"))
