"""What the archive's exports show (issue 11): the service record form, the whole dossier, books. Pure: no I/O.

A sealed dossier's `content` (services/archive/domain.py `seal`) holds the submission (`demand`), one section per
kind of event (each entry the event as published), `outcome` and `rounds`. Everything here reads that content as it
was sealed, tolerant of sections it does not know (a later version may add some: they are shown as they are) and of
sections an older dossier lacks.

- The service record form (服务记录表, 000 附录E 表E.1, 002 附录C): the seeds' layout — enterprise and contact, the
  station's staff, the times, the categories ticked, the request, the organization and technicians, how it was
  solved, the satisfaction form (items 1–11) — with the five timestamps 受理, 派单, 办结, 评价, 归档 in China time.
- The dossier as one document: the form as submitted, then every section, round by round where the section keeps
  rounds, and what was attached later (supplements).
- Books (004 §6.6.2): 一企一册 by credit code, 一链一册 by industrial chain, 一镇一册 by specialised town, and
  一园一册 by park (园区; the seeds name the first three, a park's book is made as a town's is), as the
  enterprise's dossier at the station placed it when the demand was submitted (`enterprise_profile`); a summary
  (demands, categories, outcomes, satisfaction) and the dossiers, for a period of submission dates.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.calendar import CHINA
from shared.contracts import DEFAULT_SATISFIED_LEVELS, Channel, Overall, printed_tracking_no
from shared.errors import DomainError, Invalid, NotFound

NONE = "—"
DOSSIER_NOT_FOUND = NotFound("未找到该需求的档案", "no sealed dossier for this demand")


class Gone(DomainError):
    """A job's file that has expired (or a job that failed): nothing to download any more."""

    status = 410
    code = "gone"


class TooLarge(DomainError):
    """A book too large to answer in one request: make it a job."""

    status = 413
    code = "too_large"


# --------------------------------------------------------------------------- the sealed dossier, as read


@dataclass(frozen=True)
class Sealed:
    """A sealed dossier as the exports read it (explicit columns of `dossiers`, exports/store.py)."""

    demand_id: UUID
    station_id: str
    tracking_no: str
    archive_no: str
    sealed_at: datetime
    retain_until: date
    content: dict
    content_sha256: str
    outcome: str | None = None

    @property
    def demand(self) -> dict:
        return self.content.get("demand") or {}

    @property
    def enterprise(self) -> dict:
        return self.demand.get("enterprise") or {}

    @property
    def profile(self) -> dict:
        return self.demand.get("enterprise_profile") or {}

    def section(self, name: str) -> list[dict]:
        value = self.content.get(name)
        return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Attached:
    """A supplement: events attached to a sealed dossier afterwards."""

    supplement_no: int
    added_at: datetime
    content: dict
    content_sha256: str


# --------------------------------------------------------------------------- formatting


def parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def china_time(value: Any) -> str:
    """2026-11-18 09:05 in China time; an instant stored without zone is UTC, as the events carry it."""
    instant = parse_instant(value)
    return instant.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if instant else NONE


def china_date(value: Any) -> date | None:
    instant = parse_instant(value)
    return instant.astimezone(CHINA).date() if instant else None


def _day(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return value if isinstance(value, str) and value else NONE


OVERALL_LABELS = {o.value: o.label for o in Overall}
OUTCOME_LABELS = {"met": "需求已满足", "not_met": "需求未能满足，已分析研判并告知企业处理意见"}
ASSIGNEE_KIND_LABELS = {
    "first_responder": "首问负责人",
    "staff": "本站人员/科室",
    "organization": "服务机构",
    "department": "转办部门",
}
HANDLING_MODE_LABELS = {"independent": "独立办理", "joint": "共同办理", "coordinated": "协调办理"}
ENDING_LABELS = {"resolved": "办结", "refused": "否定备案", "merged": "已并单", "withdrawn": "已撤回"}
SOURCE_LABELS = {"online": "网上评价（一次性链接）", "paper": "纸质评价表，工作人员录入"}


def channel_label(code: str | None) -> str:
    try:
        return Channel(code).label
    except ValueError:
        return code or NONE


def stars(value: Any) -> str:
    if not isinstance(value, int) or not 1 <= value <= 5:
        return "未评"
    return "★" * value + "☆" * (5 - value) + f"（{value} 星）"


def yes_no(value: Any) -> str:
    return {True: "是", False: "否"}.get(value, NONE)


# --------------------------------------------------------------------------- the five timestamps


def by_time(entries: list[dict], key: str = "occurred_at") -> list[dict]:
    return sorted(entries, key=lambda e: parse_instant(e.get(key)) or datetime.min.replace(tzinfo=UTC))


def closing_rating(d: Sealed) -> dict | None:
    """The rating the record concluded with (outcome.rating_event_id), else the last rating."""
    ratings = by_time(d.section("ratings"))
    wanted = (d.content.get("outcome") or {}).get("rating_event_id")
    for r in ratings:
        if r.get("event_id") == wanted:
            return r
    return ratings[-1] if ratings else None


def closing_resolution(d: Sealed) -> dict | None:
    """The resolution that rating answers (its causation_id), else the last resolution."""
    resolutions = by_time(d.section("resolutions"))
    rating = closing_rating(d)
    cause = rating.get("causation_id") if rating else None
    for r in resolutions:
        if r.get("event_id") == cause:
            return r
    return resolutions[-1] if resolutions else None


def voided(d: Sealed, rating: dict | None) -> dict | None:
    """The void (申诉复核) of a rating, if it was voided."""
    if rating is None:
        return None
    return next((v for v in d.section("voids") if v.get("rated_event_id") == rating.get("event_id")), None)


@dataclass(frozen=True)
class Timestamps:
    """受理, 派单, 办结, 评价, 归档 as instants (None where the record has none, e.g. a refused demand's rating)."""

    accepted: datetime | None
    dispatched: datetime | None
    ended: datetime | None
    rated: datetime | None
    archived: datetime
    ended_label: str  # 办结, or how the demand ended otherwise (否定备案, 已并单, 已撤回)

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("受理时间", china_time(self.accepted)),
            ("派单时间", china_time(self.dispatched)),
            (f"{self.ended_label}时间", china_time(self.ended)),
            ("评价时间", china_time(self.rated)),
            ("归档时间", china_time(self.archived)),
        ]


def timestamps(d: Sealed) -> Timestamps:
    assignments = by_time(d.section("assignments"))
    outcome = d.content.get("outcome") or {}
    kind = outcome.get("kind") or d.outcome or "resolved"
    if kind == "resolved":
        resolution = closing_resolution(d)
        ended = parse_instant(resolution.get("resolved_at")) if resolution else None
    else:
        ended = parse_instant(outcome.get("closed_at"))
    rating = closing_rating(d) if kind == "resolved" else None
    return Timestamps(
        accepted=parse_instant(d.demand.get("submitted_at")),
        dispatched=parse_instant(assignments[0].get("occurred_at")) if assignments else None,
        ended=ended,
        rated=parse_instant(rating.get("rated_at")) if rating else None,
        archived=d.sealed_at,
        ended_label=ENDING_LABELS.get(kind, "办结"),
    )


# --------------------------------------------------------------------------- the service record form (服务记录表)

# The categories the seeds' form ticks (000 表E.1, 002 附录C), and the catalogue's categories under each.
FORM_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("质量教育培训服务", ("training",)),
    ("质量管理服务", ("quality_mgmt", "diagnosis", "brand", "innovation")),
    ("标准化服务", ("standardization",)),
    ("计量服务", ("metrology",)),
    ("产品检验检测服务", ("testing", "equipment_sharing")),
    ("特种设备服务", ("special_equipment",)),
    ("认证认可服务", ("certification",)),
    ("知识产权服务", ("ip",)),
    ("市场准入服务", ("market_access",)),
    ("其他服务", ("other",)),
)
RATING_ITEMS: tuple[tuple[int, str, str], ...] = (
    (1, "station_service", "您对本次服务站的服务的满意程度"),
    (2, "station_timeliness", "您对本次服务站的及时性的满意程度"),
    (3, "station_professionalism", "您对本次服务站的专业性的满意程度"),
    (4, "station_civility", "您对本次服务站的文明性的满意程度"),
    (5, "problem_solved", "您的问题是否得到了解决"),
    (6, "technician_professionalism", "您对本次服务的技术人员的专业性的满意程度"),
    (7, "technician_timeliness", "您对本次服务的技术人员的及时性的满意程度"),
    (8, "technician_civility", "您对本次服务的技术人员的文明性的满意程度"),
    (9, "facilities", "您对本次服务的技术设施的满意程度"),
)


def categories_of(d: Sealed) -> list[dict]:
    """The demand's categories as sealed: the submission's, or the last correction's (更正登记 before dispatch)."""
    corrections = by_time(d.section("corrections"))
    source = corrections[-1] if corrections else d.demand
    return [c for c in source.get("categories") or [] if isinstance(c, dict)]


def items_of(d: Sealed) -> list[dict]:
    corrections = by_time(d.section("corrections"))
    if corrections and corrections[-1].get("items"):
        return corrections[-1]["items"]
    return d.demand.get("items") or []


def description_of(d: Sealed) -> str:
    corrections = by_time(d.section("corrections"))
    source = corrections[-1] if corrections else d.demand
    return source.get("description") or d.demand.get("description") or NONE


def _ticks(codes: set[str]) -> list[dict]:
    ticked = {label for label, members in FORM_CATEGORIES if codes & set(members)}
    known = {c for _, members in FORM_CATEGORIES for c in members}
    if codes - known:
        ticked.add("其他服务")
    return [{"label": label, "ticked": label in ticked} for label, _ in FORM_CATEGORIES]


def _assignee(a: dict) -> str:
    kind = ASSIGNEE_KIND_LABELS.get(a.get("assignee_kind", ""), a.get("assignee_kind") or "")
    name = a.get("assignee_name") or a.get("assignee_id") or NONE
    if a.get("assignee_kind") == "department" and isinstance(a.get("referral"), dict):
        name = a["referral"].get("department") or name
    text = f"{name}（{kind}）" if kind else name
    if a.get("department"):
        text += f"，牵头科室 {a['department']}"
    return text


def _fee(resolution: dict | None) -> str:
    fee = (resolution or {}).get("fee")
    if not isinstance(fee, dict):
        return "未记录"
    if fee.get("free_service"):
        return "免费（公益）服务"
    text = f"{fee.get('amount_yuan', 0):.2f} 元"
    if fee.get("payer"):
        text += f"，付费方：{fee['payer']}"
    if fee.get("note"):
        text += f"（{fee['note']}）"
    return text


def follow_up_text(f: dict) -> str:
    kinds = {"contact": "联系企业", "appointment": "预约", "problem": "发现问题", "coordination": "协调"}
    kinds["explanation"] = "解释说明"
    text = f"{kinds.get(f.get('kind', ''), f.get('kind', ''))}：{f.get('text', '')}"
    appointment = f.get("appointment")
    if isinstance(appointment, dict):
        at = f" {appointment['at'][:5]}" if appointment.get("at") else ""
        text += (
            f"（{appointment.get('on', '')}{at}，{appointment.get('place', '')}，{appointment.get('attendees', '')}）"
        )
    return f"{text}（{f.get('recorded_by', '')}）"


def record_view(d: Sealed, station_name: str | None, printed_at: datetime) -> dict:
    """The service record form's every line, as plain text (the template escapes it)."""
    demand, outcome = d.demand, d.content.get("outcome") or {}
    kind = outcome.get("kind") or d.outcome or "resolved"
    rating = closing_rating(d) if kind == "resolved" else None
    resolution = closing_resolution(d) if kind == "resolved" else None
    answers = (rating or {}).get("answers") or {}
    assignments = by_time(d.section("assignments"))
    contact = demand.get("contact") or {}
    codes = {c.get("code", "") for c in categories_of(d)}
    staff = list((resolution or {}).get("staff_involved") or [])
    if not staff and resolution and resolution.get("resolved_by"):
        staff = [resolution["resolved_by"]]
    process = [
        f"{china_time(f.get('recorded_at') or f.get('occurred_at'))} {follow_up_text(f)}"
        for f in by_time(d.section("follow_ups"))
    ]
    if kind == "resolved" and resolution:
        result = OUTCOME_LABELS.get(resolution.get("outcome", ""), resolution.get("outcome") or "")
        result += f"。服务小结：{resolution.get('summary', '')}"
        deliverables = [
            f"{x.get('title', '')}（{x.get('reference', '')}）" for x in resolution.get("deliverables") or []
        ]
        if deliverables:
            result += "。交付资料：" + "；".join(deliverables)
    elif kind != "resolved":
        result = f"{ENDING_LABELS.get(kind, kind)}：{outcome.get('reason', '')}"
    else:
        result = NONE
    void = voided(d, rating)
    overall = answers.get("overall")
    return {
        "title": "服务记录表",
        "station_name": station_name or d.station_id.rsplit("/", 1)[-1],
        "tracking_no": printed_tracking_no(d.station_id, d.tracking_no),
        "archive_no": d.archive_no,
        "enterprise_name": d.enterprise.get("name") or NONE,
        "credit_code": d.enterprise.get("credit_code") or NONE,
        "contact_name": contact.get("name") or NONE,
        "contact_phone": contact.get("phone") or NONE,
        "first_responder": demand.get("first_responder") or NONE,
        "channel": channel_label(demand.get("channel")),
        "timestamps": timestamps(d).rows(),
        "categories": _ticks(codes),
        "description": description_of(d),
        "items": [
            {"label": i.get("label", ""), "remarks": i.get("remarks") or "", "days": i.get("time_limit_days")}
            for i in items_of(d)
        ],
        "assignees": [_assignee(a) for a in assignments] or [NONE],
        "technicians": "、".join(staff) or NONE,
        "planned": [
            f"第 {a.get('assignment_no', '')} 次派单：承诺办结日期 {_day(a.get('due_on'))}"
            + (f"（{HANDLING_MODE_LABELS.get(a.get('handling_mode', ''), '')}）" if a.get("handling_mode") else "")
            for a in assignments
        ],
        "process": process,
        "result": result,
        "fee": _fee(resolution) if kind == "resolved" else NONE,
        "rated": rating is not None,
        "rating_items": [
            {
                "no": no,
                "text": text,
                "value": yes_no(answers.get(key)) if key == "problem_solved" else stars(answers.get(key)),
            }
            for no, key, text in RATING_ITEMS
        ],
        "overall": [{"label": label, "ticked": code == overall} for code, label in OVERALL_LABELS.items()],
        "overall_label": OVERALL_LABELS.get(overall or "", NONE),
        "comments": answers.get("comments") or "",
        "rating_source": SOURCE_LABELS.get((rating or {}).get("source", ""), NONE),
        "rating_round": (rating or {}).get("round") or 1,
        "void": (
            f"该评价已经申诉复核作废（{void.get('voided_by', '')}，{china_time(void.get('voided_at'))}）："
            f"{void.get('reason', '')}"
            if void
            else ""
        ),
        "unrated": "" if rating else f"本需求以“{ENDING_LABELS.get(kind, kind)}”结束，未进行满意度评价。",
        "printed_at": china_time(printed_at),
    }


# --------------------------------------------------------------------------- the whole dossier

ENVELOPE = {"event_id", "correlation_id", "causation_id", "schema_version", "station_id", "demand_id", "tracking_no"}
FIELD_LABELS = {
    "occurred_at": "时间",
    "round": "轮次",
    "assignment_no": "派单序号",
    "assignment_count": "此前派单数",
    "assignee_kind": "承办方类型",
    "assignee_id": "承办方编号",
    "assignee_name": "承办方",
    "handling_mode": "办理方式",
    "due_on": "期限",
    "assigned_by": "派单人",
    "note": "备注",
    "department": "牵头科室",
    "co_handlers": "协办方",
    "referral": "转办",
    "reason": "理由",
    "returned_by": "退单人",
    "returned_at": "退单时间",
    "outcome": "办理结果",
    "summary": "服务小结",
    "resolved_by": "办结人",
    "resolved_at": "办结时间",
    "fee": "收费情况",
    "deliverables": "交付资料",
    "staff_involved": "参与人员",
    "answers": "评价内容",
    "source": "评价来源",
    "recorded_by": "记录人",
    "recorded_by_org": "记录机构",
    "recorded_at": "记录时间",
    "rated_at": "评价时间",
    "rated_event_id": "所评价的评价事件",
    "finding": "核实结论",
    "evidence": "核实依据",
    "verified_by": "核实人",
    "verified_at": "核实时间",
    "verification_id": "核实事件",
    "reopened_by": "重办发起人",
    "reopened_at": "重办时间",
    "previous_assignee_name": "上一轮承办方",
    "voided_by": "作废人",
    "voided_at": "作废时间",
    "closed_by": "办理人",
    "closed_at": "时间",
    "basis": "依据",
    "merged_into_tracking_no": "并入需求跟踪单号",
    "by_enterprise": "企业撤回",
    "corrected_by": "更正人",
    "corrected_at": "更正时间",
    "changed": "更正字段",
    "follow_up_id": "跟进编号",
    "kind": "类别",
    "text": "内容",
    "appointment": "预约",
    "reason_kind": "原因类别",
    "paused_by": "挂起人",
    "paused_at": "挂起时间",
    "resumed_by": "恢复人",
    "resumed_at": "恢复时间",
    "paused_working_days": "挂起工作日",
    "handling_due_on": "办结期限（调整后）",
    "requested_by": "申请人",
    "requested_at": "申请时间",
    "new_due_on": "申请延至",
    "approved": "是否批准",
    "decided_by": "审批人",
    "decided_at": "审批时间",
    "comment": "意见",
    "deadline": "时限类别",
    "working_days_left": "剩余工作日",
    "warned_on": "预警日期",
    "notify": "通知对象",
    "chased_on": "催办日期",
    "chased_by": "催办人",
    "level": "督办级别",
    "supervisor_scope": "督办单位范围",
    "issued_by": "督办人",
    "issued_at": "发出时间",
    "reply_due_on": "回复期限",
    "answered_by": "回复人",
    "answered_at": "回复时间",
    "answer": "回复内容",
    "method": "回访方式",
    "revisited_at": "回访时间",
    "reached": "是否联系上",
    "contact": "联系人",
    "enterprise_said": "企业意见",
    "need_met": "需求是否满足",
    "complaint_no": "投诉编号",
    "subject": "投诉对象类型",
    "subject_name": "投诉对象",
    "channel": "渠道",
    "stage": "环节",
    "stage_at": "环节时间",
    "stage_by": "经办人",
    "founded": "是否属实",
    "supervision_id": "督办编号",
    "escalated_from": "升级自",
    "pause_id": "挂起编号",
    "extension_id": "延期编号",
    "revisit_id": "回访编号",
    "complaint_id": "投诉编号（内部）",
    "categories": "服务类别",
    "items": "服务项目",
    "description": "需求描述",
    "time_limit_days": "承诺时限（工作日）",
    "expected_on": "预计办结日期",
    "address": "企业地址",
    "details": "明细表",
    "name": "名称",
    "roles": "参与事项",
    "resolution_event_id": "办结事件",
    "amount_yuan": "金额（元）",
    "free_service": "免费服务",
    "payer": "付费方",
    "title": "资料名称",
    "reference": "编号/位置",
    "printed_tracking_no": "跟踪单号",
    "enterprise": "企业",
    "first_responder": "首问负责人",
    "green_channel": "绿色通道",
    "issued": "出具",
    "reissued": "重新出具",
    "materials_needed": "尚需材料",
    "label": "名称",
    "code": "编码",
    "credit_code": "统一社会信用代码",
    "phone": "电话",
    "remarks": "备注",
    "materials": "所需材料",
    "materials_received": "已收材料",
    "version": "版本",
    "category": "类别",
    "handled_by": "承办方式",
    "not_in_events": "未随事件传递的内容",
}
VALUE_LABELS = {
    "outcome": OUTCOME_LABELS,
    "assignee_kind": ASSIGNEE_KIND_LABELS,
    "handling_mode": HANDLING_MODE_LABELS,
    "source": SOURCE_LABELS,
    "finding": {"founded": "情况属实，重新办理", "unfounded": "情况不属实", "unreachable": "无法联系企业"},
    "deadline": {"response": "响应时限", "handling": "办结时限", "reply": "督办回复时限", "verification": "核实时限"},
    "level": {"district": "区县督办", "city": "市级督办"},
    "method": {"phone": "电话回访", "visit": "上门回访", "message": "留言回访"},
    "stage": {
        "received": "已受理",
        "acknowledged": "已确认",
        "investigated": "已调查",
        "resolved": "已处理",
        "answered": "已答复投诉人",
        "closed": "已结案",
    },
    "subject": {"station": "服务站", "staff": "工作人员", "organization": "服务机构"},
    "channel": {c.value: c.label for c in Channel},
}
ANSWER_LABELS = {key: f"{no}. {text.removeprefix('您对本次')}" for no, key, text in RATING_ITEMS} | {
    "overall": "10. 总体评价",
    "comments": "11. 意见或建议",
}


def value_text(key: str, value: Any) -> str:
    """One field of an event, for people: labels for codes, China time for instants, nested values compact."""
    if value is None or value == [] or value == {}:
        return NONE
    if isinstance(value, bool):
        return "是" if value else "否"
    if key.endswith("_at") and isinstance(value, str):
        return china_time(value)
    if key == "answers" and isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if v is None:
                continue
            shown = OVERALL_LABELS.get(v, v) if k == "overall" else (yes_no(v) if isinstance(v, bool) else v)
            parts.append(f"{ANSWER_LABELS.get(k, k)}：{shown}")
        return "；".join(parts) or NONE
    if key == "fee" and isinstance(value, dict):
        return _fee({"fee": value})
    if isinstance(value, str) and key in VALUE_LABELS:
        return VALUE_LABELS[key].get(value, value)
    if isinstance(value, dict):
        return "；".join(
            f"{FIELD_LABELS.get(k, k)}：{value_text(k, v)}" for k, v in value.items() if v not in (None, "", [], {})
        )
    if isinstance(value, list):
        return "；".join(value_text(key, v) for v in value)
    return str(value)


def entry_rows(entry: dict) -> list[tuple[str, str]]:
    """An event's fields as (label, text) lines, its envelope left out (the ids stay in the integrity part)."""
    return [
        (FIELD_LABELS.get(k, k), value_text(k, v))
        for k, v in entry.items()
        if k not in ENVELOPE and v not in (None, "", [], {})
    ]


# The dossier's sections in the order a reader follows a case, with their titles; any other section of the content
# (one a later version adds) follows under its own name.
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
    ("deliverables", "交付资料（按编号或位置保存）"),
    ("staff", "参与人员"),
)
NOT_SECTIONS = {"demand", "notice", "outcome", "rounds", "events"}
TIME_KEYS = ("occurred_at", "stage_at", "recorded_at")


def _entries(entries: list[dict]) -> list[dict]:
    return [
        {"at": china_time(e.get("occurred_at") or e.get("stage_at")), "round": e.get("round"), "rows": entry_rows(e)}
        for e in by_time(entries)
    ]


def form_rows(d: Sealed) -> list[tuple[str, str]]:
    """The demand form as submitted (一表登记): enterprise, profile, contact, items, details."""
    demand, profile = d.demand, d.profile
    rows = [
        ("企业名称", d.enterprise.get("name") or NONE),
        ("统一社会信用代码", d.enterprise.get("credit_code") or NONE),
        ("企业地址", demand.get("address") or NONE),
        ("产业链", (profile.get("chain") or NONE) + ("（链主企业）" if profile.get("chain_leader") else "")),
        ("专业镇", profile.get("town") or NONE),
        ("园区", profile.get("park_name") or ("不在园区" if profile.get("in_park") is False else NONE)),
        ("联系人", value_text("contact", demand.get("contact"))),
        ("受理渠道", channel_label(demand.get("channel"))),
        ("首问负责人", demand.get("first_responder") or NONE),
        ("受理时间", china_time(demand.get("submitted_at"))),
        ("服务类别", "、".join(c.get("label", "") for c in demand.get("categories") or []) or NONE),
        ("需求描述", demand.get("description") or NONE),
        ("承诺时限", f"{demand.get('time_limit_days', NONE)} 个工作日"),
        ("预计办结日期（受理通知书）", _day(demand.get("expected_on"))),
    ]
    if demand.get("green_channel"):
        rows.append(("绿色通道", str(demand["green_channel"])))
    if demand.get("visit_id"):
        rows.append(("走访记录", str(demand["visit_id"])))
    for n, item in enumerate(demand.get("items") or [], start=1):
        text = (
            f"{item.get('label', '')}（{item.get('code', '')}，第 {item.get('version', '')} 版，"
            f"{item.get('time_limit_days', '')} 个工作日）"
        )
        if item.get("remarks"):
            text += f"；备注：{item['remarks']}"
        if item.get("materials"):
            text += "；所需材料：" + "、".join(item["materials"])
        if item.get("materials_received"):
            text += "；已收材料：" + "、".join(item["materials_received"])
        rows.append((f"服务项目 {n}", text))
    details = demand.get("details") or {}
    names = {"products": "产品及执行标准", "instruments": "计量器具", "special_equipment": "特种设备"}
    names["operator_exams"] = "作业人员考试需求"
    for key, table in details.items():
        for n, row in enumerate(table if isinstance(table, list) else [table], start=1):
            rows.append((f"{names.get(key, key)} {n}", value_text(key, row)))
    return rows


def outcome_rows(d: Sealed) -> list[tuple[str, str]]:
    outcome = d.content.get("outcome") or {}
    rows = [("结束方式", ENDING_LABELS.get(outcome.get("kind", ""), outcome.get("label") or NONE))]
    for key in (
        "round",
        "outcome",
        "summary",
        "resolved_by",
        "resolved_at",
        "overall",
        "reason",
        "closed_by",
        "closed_at",
    ):
        if outcome.get(key) not in (None, ""):
            label = "总体评价" if key == "overall" else FIELD_LABELS.get(key, key)
            value = (
                OVERALL_LABELS.get(outcome[key], outcome[key]) if key == "overall" else value_text(key, outcome[key])
            )
            rows.append((label, value))
    if isinstance(outcome.get("verification"), dict):
        rows.append(("核实", value_text("verification", outcome["verification"])))
    if isinstance(outcome.get("void"), dict):
        rows.append(("申诉复核", value_text("void", outcome["void"])))
    return rows


def dossier_view(d: Sealed, supplements: list[Attached], station_name: str | None, printed_at: datetime) -> dict:
    """Everything the sealed dossier holds, section by section, and what was attached later."""
    known = [name for name, _ in SECTION_TITLES]
    others = [k for k in d.content if k not in NOT_SECTIONS and k not in known and isinstance(d.content[k], list)]
    sections = [
        {"title": title, "entries": _entries(d.section(name))}
        for name, title in [*SECTION_TITLES, *((k, k) for k in others)]
        if d.section(name)
    ]
    rounds = d.content.get("rounds") or []
    return {
        "title": "服务档案",
        "station_name": station_name or d.station_id.rsplit("/", 1)[-1],
        "archive_no": d.archive_no,
        "tracking_no": printed_tracking_no(d.station_id, d.tracking_no),
        "enterprise_name": d.enterprise.get("name") or NONE,
        "sealed_at": china_time(d.sealed_at),
        "retain_until": d.retain_until.isoformat(),
        "sha256": d.content_sha256,
        "rounds": len(rounds) or 1,
        "timestamps": timestamps(d).rows(),
        "form": form_rows(d),
        "notice": entry_rows(d.content["notice"]) if isinstance(d.content.get("notice"), dict) else [],
        "outcome": outcome_rows(d),
        "sections": sections,
        "supplements": [
            {
                "no": s.supplement_no,
                "added_at": china_time(s.added_at),
                "sha256": s.content_sha256,
                "entries": [
                    {
                        "at": china_time((e.get("payload") or {}).get("occurred_at")),
                        "type": e.get("type", ""),
                        "rows": entry_rows(e.get("payload") or {}),
                    }
                    for e in s.content.get("events") or []
                ],
            }
            for s in supplements
        ],
        "event_count": len(d.content.get("events") or []),
        "printed_at": china_time(printed_at),
    }


# ----------------------------------------------------------------- books (一企一册, 一链一册, 一镇一册, 一园一册)


class BookKind(StrEnum):
    enterprise = "enterprise"  # 一企一册: by 统一社会信用代码
    chain = "chain"  # 一链一册: by 产业链
    town = "town"  # 一镇一册: by 专业镇
    park = "park"  # 一园一册: by 园区 (made as 一镇一册 is; the seeds' 004 §6.6.2 names no park book)

    @property
    def label(self) -> str:
        return {
            BookKind.enterprise: "一企一册",
            BookKind.chain: "一链一册",
            BookKind.town: "一镇一册",
            BookKind.park: "一园一册",
        }[self]

    @property
    def key_label(self) -> str:
        return {
            BookKind.enterprise: "统一社会信用代码",
            BookKind.chain: "产业链",
            BookKind.town: "专业镇",
            BookKind.park: "园区",
        }[self]


class ExportFormat(StrEnum):
    pdf = "pdf"
    xlsx = "xlsx"

    @property
    def media_type(self) -> str:
        return {
            ExportFormat.pdf: "application/pdf",
            ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }[self]


@dataclass(frozen=True)
class BookQuery:
    """Which book: its kind and key, the period of submission dates (China, both ends included, either open)."""

    kind: BookKind
    key: str
    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The period as instants: from China midnight of `start` to China midnight after `end`."""
        low = datetime.combine(self.start, datetime.min.time(), CHINA) if self.start else None
        high = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), CHINA) if self.end else None
        return low, high

    def period_text(self) -> str:
        if not self.start and not self.end:
            return "全部"
        return f"{self.start.isoformat() if self.start else '最早'} 至 {self.end.isoformat() if self.end else '今'}"

    def parameters(self) -> dict:
        return {
            "book": self.kind.value,
            "key": self.key,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }

    @classmethod
    def of(cls, parameters: dict) -> "BookQuery":
        return cls(
            kind=BookKind(parameters["book"]),
            key=parameters["key"],
            start=date.fromisoformat(parameters["from"]) if parameters.get("from") else None,
            end=date.fromisoformat(parameters["to"]) if parameters.get("to") else None,
        )


def book_query(kind: BookKind, key: str, start: date | None, end: date | None) -> BookQuery:
    """Refused (422, naming the field) when the key is blank or the period ends before it starts."""
    key = key.strip()
    if not key:
        raise Invalid(f"请填写{kind.key_label}", "key is required", field="key")
    if kind is BookKind.enterprise:
        key = key.upper()
    if start and end and end < start:
        raise Invalid(
            f"截止日期 {end} 早于起始日期 {start}，请检查期间", f"'to' ({end}) is before 'from' ({start})", field="to"
        )
    return BookQuery(kind, key, start, end)


# 满意 is evaluation's setting (EVALUATION_SATISFIED_LEVELS): each Rated says whether its rating counted as satisfied
# when it was recorded (counts_as_satisfied), and the books count by that. A Rated sealed before the flag counts by
# the default definition (shared.contracts' DEFAULT_SATISFIED_LEVELS: 非常满意 + 满意).


def counts_as_satisfied(rating: dict) -> bool:
    """Whether a sealed Rated payload counts as 满意: as evaluation said, else by the default definition."""
    flag = rating.get("counts_as_satisfied")
    if isinstance(flag, bool):
        return flag
    return (rating.get("answers") or {}).get("overall") in DEFAULT_SATISFIED_LEVELS


@dataclass(frozen=True)
class Summary:
    """A book's summary table (004 §6.6.1: 分类登记, 统计分析)."""

    demands: int
    enterprises: int
    by_category: list[tuple[str, int]]  # (label, demands naming it): a demand naming two counts in both
    by_outcome: list[tuple[str, int]]
    by_overall: list[tuple[str, int]]  # the valid final ratings
    rated: int  # valid final ratings (voided ones excluded)
    voided: int
    satisfied: int  # valid final ratings counted as 满意 (counts_as_satisfied: evaluation's satisfied levels)
    rehandled: int  # demands handled in a second round (重办)
    fees_yuan: float
    by_enterprise: list[dict] = field(default_factory=list)

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    def rate_text(self) -> str:
        rate = self.satisfaction_rate
        return NONE if rate is None else f"{rate * 100:.1f}%"

    def as_dict(self) -> dict:
        return {
            "demands": self.demands,
            "enterprises": self.enterprises,
            "by_category": [{"label": k, "count": v} for k, v in self.by_category],
            "by_outcome": [{"label": k, "count": v} for k, v in self.by_outcome],
            "by_overall": [{"label": k, "count": v} for k, v in self.by_overall],
            "rated": self.rated,
            "voided": self.voided,
            "satisfied": self.satisfied,
            "satisfaction_rate": self.satisfaction_rate,
            "rehandled": self.rehandled,
            "fees_yuan": round(self.fees_yuan, 2),
            "by_enterprise": self.by_enterprise,
        }


def outcome_label(d: Sealed) -> str:
    """How the demand ended, for a table: 办结（需求已满足 / 未能满足）, 否定备案, 已并单, 已撤回."""
    kind = (d.content.get("outcome") or {}).get("kind") or d.outcome or "resolved"
    if kind != "resolved":
        return ENDING_LABELS.get(kind, kind)
    resolution = closing_resolution(d)
    return "办结（需求已满足）" if (resolution or {}).get("outcome") == "met" else "办结（需求未能满足）"


OUTCOME_ORDER = ("办结（需求已满足）", "办结（需求未能满足）", "否定备案", "已并单", "已撤回")


def summarize(dossiers: list[Sealed]) -> Summary:
    categories: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    overall: Counter[str] = Counter()
    rated = voided_count = rehandled = satisfied = 0
    fees = 0.0
    enterprises: dict[str, dict] = {}
    for d in dossiers:
        for c in {(c.get("code"), c.get("label")) for c in categories_of(d)}:
            categories[c[1] or c[0] or "其他"] += 1
        outcomes[outcome_label(d)] += 1
        if len(d.content.get("rounds") or []) > 1:
            rehandled += 1
        kind = (d.content.get("outcome") or {}).get("kind") or d.outcome or "resolved"
        rating = closing_rating(d) if kind == "resolved" else None
        if rating is not None:
            if voided(d, rating) is not None or (d.content.get("outcome") or {}).get("void"):
                voided_count += 1
            else:
                rated += 1
                overall[(rating.get("answers") or {}).get("overall", "")] += 1
                satisfied += counts_as_satisfied(rating)
        for r in d.section("resolutions"):
            fee = r.get("fee")
            if isinstance(fee, dict) and not fee.get("free_service"):
                fees += float(fee.get("amount_yuan") or 0)
        code = d.enterprise.get("credit_code") or NONE
        row = enterprises.setdefault(
            code,
            {
                "credit_code": code,
                "name": d.enterprise.get("name") or NONE,
                "chain_leader": bool(d.profile.get("chain_leader")),
                "demands": 0,
            },
        )
        row["demands"] += 1
    return Summary(
        demands=len(dossiers),
        enterprises=len(enterprises),
        by_category=sorted(categories.items(), key=lambda kv: (-kv[1], kv[0])),
        by_outcome=[(label, outcomes[label]) for label in OUTCOME_ORDER if outcomes[label]]
        + [(k, v) for k, v in outcomes.items() if k not in OUTCOME_ORDER],
        by_overall=[(label, overall[code]) for code, label in OVERALL_LABELS.items()],
        rated=rated,
        voided=voided_count,
        satisfied=satisfied,
        rehandled=rehandled,
        fees_yuan=fees,
        by_enterprise=sorted(enterprises.values(), key=lambda e: (not e["chain_leader"], -e["demands"], e["name"])),
    )


def catalogue_row(d: Sealed, station_name: str | None) -> dict:
    """One dossier as a line of the book's catalogue (and of its XLSX)."""
    t = timestamps(d)
    rating = closing_rating(d)
    overall = ((rating or {}).get("answers") or {}).get("overall") if t.rated else None
    resolutions = d.section("resolutions")
    fee = sum(
        float(r["fee"].get("amount_yuan") or 0)
        for r in resolutions
        if isinstance(r.get("fee"), dict) and not r["fee"].get("free_service")
    )
    return {
        "demand_id": str(d.demand_id),
        "archive_no": d.archive_no,
        "tracking_no": printed_tracking_no(d.station_id, d.tracking_no),
        "station_id": d.station_id,
        "station_name": station_name or d.station_id,
        "enterprise_name": d.enterprise.get("name") or NONE,
        "credit_code": d.enterprise.get("credit_code") or NONE,
        "chain": d.profile.get("chain") or "",
        "chain_leader": bool(d.profile.get("chain_leader")),
        "town": d.profile.get("town") or "",
        "park_name": d.profile.get("park_name") or "",
        "categories": "、".join(c.get("label", "") for c in categories_of(d)),
        "items": "、".join(i.get("label", "") for i in items_of(d)),
        "channel": channel_label(d.demand.get("channel")),
        "accepted": china_time(t.accepted),
        "dispatched": china_time(t.dispatched),
        "ended": china_time(t.ended),
        "rated": china_time(t.rated),
        "archived": china_time(t.archived),
        "outcome": outcome_label(d),
        "overall": OVERALL_LABELS.get(overall or "", NONE) + ("（已作废）" if voided(d, rating) and t.rated else ""),
        "rounds": len(d.content.get("rounds") or []) or 1,
        "fee_yuan": round(fee, 2),
    }


def book_view(
    query: BookQuery,
    dossiers: list[Sealed],
    station_names: dict[str, str],
    scope_name: str,
    printed_at: datetime,
    supplements: dict[UUID, list[Attached]] | None = None,
) -> dict:
    """The book: cover, summary table, catalogue, then every dossier in full (ordered by submission)."""
    summary = summarize(dossiers)
    supplements = supplements or {}
    return {
        "title": f"{query.kind.label}：{_subject(query, dossiers)}",
        "kind": query.kind.label,
        "key_label": query.kind.key_label,
        "key": query.key,
        "subject": _subject(query, dossiers),
        "scope": scope_name,
        "period": query.period_text(),
        "summary": summary.as_dict() | {"rate_text": summary.rate_text()},
        "by_enterprise": query.kind is not BookKind.enterprise,
        "catalogue": [catalogue_row(d, station_names.get(d.station_id)) for d in dossiers],
        "dossiers": [
            dossier_view(d, supplements.get(d.demand_id, []), station_names.get(d.station_id), printed_at)
            for d in dossiers
        ],
        "printed_at": china_time(printed_at),
    }


def _subject(query: BookQuery, dossiers: list[Sealed]) -> str:
    if query.kind is BookKind.enterprise and dossiers:
        # The name on the latest submission (an enterprise may be renamed; its code stays).
        return f"{dossiers[-1].enterprise.get('name') or query.key}（{query.key}）"
    return query.key


def filename(query: BookQuery, fmt: ExportFormat) -> str:
    """ASCII only (a Content-Disposition header): the kind and the dates; the key is in the document."""
    period = f"{query.start or 'all'}_{query.end or 'now'}"
    return f"book-{query.kind.value}-{period}.{fmt.value}"


# --------------------------------------------------------------------------- background jobs


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"

    @property
    def label(self) -> str:
        return {
            JobState.queued: "排队中",
            JobState.running: "生成中",
            JobState.done: "已完成",
            JobState.failed: "失败",
        }[self]


@dataclass(frozen=True)
class Job:
    job_id: UUID
    station_id: str  # the scope it reads in
    kind: str
    parameters: dict
    requested_by: str
    requester_name: str
    requester_role: str
    state: JobState
    progress_done: int
    progress_total: int | None
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    file_name: str | None
    media_type: str | None
    file_size: int | None
    file_sha256: str | None
    dossiers: list = field(default_factory=list)

    def expired(self, now: datetime) -> bool:
        return self.state is JobState.done and self.expires_at is not None and self.expires_at <= now

    @property
    def query(self) -> BookQuery:
        return BookQuery.of(self.parameters)

    @property
    def format(self) -> ExportFormat:
        return ExportFormat(self.parameters["format"])


def job_failed_text(error: BaseException) -> str:
    """What the requester is told of a failure: bilingual, no internals."""
    if isinstance(error, DomainError):
        return f"{error.zh} / {error.en}"
    return "生成失败，请稍后重试或联系运维 / the export failed; try again later"
