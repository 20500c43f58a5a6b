"""The printed tracking sheet (需求处理跟踪单, 004 附录C 表C.1): one template, HTML and PDF.

The seed's layout: 服务对象 and 跟踪单号 above a table 序号 / 企业需求 / 牵头科室 / 责任人 / 开始时间 / 结束时间 /
处理过程及结果 / 备注 (the seed prints 开始时间/结束时间 in one column; here they are two, so each is read on its
own). One demand is one row; its 处理过程及结果 lists every line of the case's timeline in order — follow-ups,
assignments, pauses, warnings… each with its China time — and then the result. Above the table: the station,
the tracking number as printed (with the station's code), the enterprise, the catalogue items, every deadline, and
the round (办理轮次: a re-handled demand is in round 2, 重办) with the verification of its 不满意 rating.

`templates/sheet.html` gives both outputs (shared.documents); the values here are plain text, the template
escapes them. Pure apart from reading the template: no database, no HTTP.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from shared.calendar import CHINA
from shared.contracts import AssigneeKind, Finding, printed_tracking_no
from shared.documents import Documents

from ..domain import STATUS_LABELS, Case, TimelineEntry

TITLE = "需求处理跟踪单"
TEMPLATE = "sheet.html"
NONE = "—"
_OVERALL = {"very_satisfied": "非常满意", "satisfied": "满意", "average": "一般", "dissatisfied": "不满意"}


@dataclass(frozen=True)
class TrackingSheet:
    """What the print shows: the case, its timeline in order, the station's name, and when it was printed."""

    case: Case
    entries: list[TimelineEntry]
    station_name: str | None
    printed_at: datetime
    today: date


def china_time(dt: datetime | None) -> str:
    """2026-11-18 09:05, in China time (Asia/Shanghai); a naive value is taken to be UTC, as stored."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _day(d: date | None) -> str:
    return d.isoformat() if d else NONE


def lead(case: Case) -> tuple[str, str]:
    """牵头科室 and 责任人 of the case as it stands: the current assignment, or the first responder before one."""
    if not case.assignment_no:
        return NONE, f"{case.first_responder}（首问负责）" if case.first_responder else NONE
    kind = case.assignee_kind
    if kind == AssigneeKind.organization:
        return f"{case.assignee_name}（服务机构）", case.assignee_name or NONE
    if kind == AssigneeKind.department:
        referral = case.referral or {}
        department = referral.get("department") or case.assignee_name
        contact = referral.get("contact_name") or NONE
        return f"{department}（转办）", contact
    if kind == AssigneeKind.first_responder:
        return case.department or "本站（首问负责）", case.assignee_name or NONE
    return case.department or NONE, case.assignee_name or NONE


def result(case: Case) -> str:
    """The last line of 处理过程及结果: how the demand ended, or that it is still being handled."""
    if case.closed_as:
        reason = (case.closing or {}).get("reason")
        return f"{STATUS_LABELS[case.closed_as]}" + (f"：{reason}" if reason else "")
    if case.resolved_at:
        met = "需求已满足" if case.outcome == "met" else "需求无法满足，已分析研判并向企业说明处理意见"
        text = f"{met}（{case.resolved_by}，{china_time(case.resolved_at)}）"
        if case.summary:
            text += f"。服务小结：{case.summary}"
        if case.overall:
            text += f"。企业评价：{_OVERALL.get(case.overall, case.overall)}"
        return text
    return f"{STATUS_LABELS[case.status]}，尚未办结"


def round_text(case: Case) -> str:
    """办理轮次: the first handling, or a re-handling (重办) since when."""
    if case.round <= 1:
        return "第 1 轮（首次办理）"
    since = f"，{china_time(case.reopened_at)} 起" if case.reopened_at else ""
    return f"第 {case.round} 轮（核实属实后重办{since}）"


def verification_text(case: Case) -> str:
    """核实 of the current round's 不满意 rating: awaited, done (the finding), or ended by an appeal; else none."""
    if not case.needs_verification:
        return NONE
    if case.rating_voided_at is not None and case.verified_at is None:
        return f"评价已经申诉复核作废（{china_time(case.rating_voided_at)}），无需核实"
    if case.verified_at is not None and case.finding:
        return f"{Finding(case.finding).label}（{china_time(case.verified_at)}）"
    return f"待核实，核实时限 {_day(case.verify_due_on)}"


def _remarks(case: Case, today: date) -> list[str]:
    notes = [case.status_label]
    if case.paused_since:
        notes.append(f"挂起中（自 {china_time(case.paused_since)}）")
    if case.overdue(today):
        notes.append("已超期")
    if case.round > 1:
        notes.append(f"第 {case.round} 轮办理（重办）")
    if case.awaiting_verification:
        notes.append(f"待核实（{_day(case.verify_due_on)} 前）")
    if case.archive_no:
        notes.append(f"档案号 {case.archive_no}")
    return notes


def view(sheet: TrackingSheet) -> dict:
    case = sheet.case
    department, person = lead(case)
    items = "、".join(i.get("label", "") for i in case.items or []) or "、".join(
        c.get("label", "") for c in case.categories or []
    )
    return {
        "title": TITLE,
        "station_name": sheet.station_name or case.station_id.rsplit("/", 1)[-1],
        "tracking_no": printed_tracking_no(case.station_id, case.tracking_no),
        "enterprise_name": case.enterprise_name or NONE,
        "credit_code": case.credit_code or NONE,
        "items": items or NONE,
        "first_responder": case.first_responder or NONE,
        "submitted_at": china_time(case.submitted_at) or NONE,
        "deadlines": [
            ("响应期限", _day(case.response_due_on)),
            ("重办期限（现行）" if case.round > 1 else "办结期限（现行）", _day(case.handling_deadline)),
            ("重办承诺日期" if case.round > 1 else "承诺办结日期", _day(case.due_on)),
        ],
        "round": round_text(case),
        "verification": verification_text(case),
        "row": {
            "no": 1,
            "need": case.description or NONE,
            "department": department,
            "person": person,
            "started": china_time(case.submitted_at),
            "ended": china_time(case.resolved_at or case.closed_at),
            "process": [{"at": china_time(e.occurred_at), "text": e.text} for e in sheet.entries],
            "result": result(case),
            "remarks": _remarks(case, sheet.today),
        },
        "printed_at": china_time(sheet.printed_at),
    }


_documents = Documents("services.tracking")


def render_html(sheet: TrackingSheet) -> str:
    """A standalone printable page (A4 landscape); every value from the case is HTML-escaped."""
    return _documents.html(TEMPLATE, v=view(sheet))


def render_pdf(sheet: TrackingSheet) -> bytes:
    """The same page printed to PDF by WeasyPrint, Chinese text kept as text with the system's font embedded."""
    return _documents.pdf(TEMPLATE, v=view(sheet))
