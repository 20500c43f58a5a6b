"""Demand request and response bodies.

The form (一表登记) as a clerk and as the enterprise online fill it in, the demand as it is
read back, and what the enterprise sees behind its status link.
"""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Channel, GreenChannel, StationId
from shared.validation import Line, ReceivedAt, RequestModel

from ..catalogue.schemas import CategoryOut
from ..schemas import CreditCode, InstrumentRow, OperatorExamRow, Phone, ProductRow, Short, SpecialEquipmentRow
from ..stations.domain import Station
from . import domain
from .domain import Demand


class EnterpriseIn(RequestModel):
    name: Short = Field(description="企业名称")
    credit_code: CreditCode = Field(description="统一社会信用代码（校验位不符的旧代码照收，但会标记）")


class ContactIn(RequestModel):
    name: Line = Field(min_length=1, max_length=100, description="企业联系人")
    phone: Phone = Field(description="联系电话（手机或带区号座机）")


class ItemIn(RequestModel):
    code: Line = Field(min_length=3, max_length=80, description="服务项目代码，见 GET /catalogue")
    remarks: str | None = Field(default=None, max_length=1000, description="备注")
    materials_received: list[Annotated[Line, Field(max_length=200)]] = Field(
        default_factory=list, max_length=30, description="已收到的材料（其余材料写入受理通知书，一次告知）"
    )


class DetailsIn(RequestModel):
    """The form's detail tables; each only with the categories it belongs to."""

    products: list[ProductRow] = Field(default_factory=list, max_length=200)
    instruments: list[InstrumentRow] = Field(default_factory=list, max_length=1000)
    special_equipment: list[SpecialEquipmentRow] = Field(default_factory=list, max_length=200)
    operator_exams: list[OperatorExamRow] = Field(default_factory=list, max_length=100)


class DemandIn(RequestModel):
    """一表登记: the demand as the station receives it."""

    station_id: StationId = Field(description="服务站编号，如 210100/210112/hunnan-01")
    enterprise: EnterpriseIn
    contact: ContactIn
    items: list[ItemIn] = Field(min_length=1, max_length=20, description="服务项目")
    description: str = Field(min_length=1, max_length=4000, description="需求描述")
    channel: Channel = Field(description="受理渠道")
    first_responder: Line | None = Field(
        default=None, min_length=1, max_length=100, description="首位工作人员；不填则为当前登录人"
    )
    received_at: ReceivedAt | None = Field(default=None, description="收到需求的时间（须带时区）；不填则为现在")
    green_channel: GreenChannel | None = Field(default=None, description="绿色通道申请")
    green_channel_reason: str | None = Field(default=None, max_length=1000, description="绿色通道理由")
    details: DetailsIn = Field(default_factory=DetailsIn)
    visit_id: UUID | None = Field(default=None, description="走访记录编号（主动进企业时收集的需求）")


class PublicDemandIn(RequestModel):
    """Online submission by the enterprise: station, channel and status come from the system, not the caller."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    enterprise: EnterpriseIn
    contact: ContactIn
    items: list[ItemIn] = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1, max_length=4000)
    details: DetailsIn = Field(default_factory=DetailsIn)


class DemandItemOut(BaseModel):
    code: str
    version: int
    label: str
    category: str
    time_limit_days: int
    materials: list[str]
    materials_needed: list[str]
    remarks: str | None


class HandlingOut(BaseModel):
    """What intake knows of the handling (from dispatch's events): the latest assignment, the latest given back."""

    model_config = ConfigDict(from_attributes=True)
    assignment_no: int = Field(description="已知的最新派单序号（改派时递增）")
    assignee_kind: str | None
    assignee_name: str | None
    referred_to: str | None = Field(description="转办的部门")
    returned_no: int = Field(description="已知的最新退单所退派单序号")
    round: int


class ClosureOut(BaseModel):
    """How the demand ended without being resolved: 否定备案, 并单 or 撤回."""

    model_config = ConfigDict(from_attributes=True)
    kind: str = Field(description="refused 否定备案 / merged 并单 / withdrawn 撤回")
    reason: str
    basis: str | None = Field(description="否定备案的法律或政策依据")
    merged_into: UUID | None
    merged_into_tracking_no: str | None
    merged_into_printed_tracking_no: str | None = Field(default=None, description="并入需求的打印跟踪单号")
    closed_by: str
    closed_at: datetime
    by_enterprise: bool = Field(description="企业经查询链接撤回")


class RehandlingOut(BaseModel):
    """重办: a 不满意 rating verified founded, the demand handled again as a new round to its own deadline."""

    model_config = ConfigDict(from_attributes=True)
    round: int = Field(description="重办的轮次（第 2 轮）")
    reopened_at: datetime = Field(description="重新进入办理的时间")
    due_on: date = Field(description="重办期限（重办时限按工作日计算）；延期或暂停后恢复计时的新日期见 expected_on")


class VerificationOut(BaseModel):
    """核实 of a 不满意 rating: what was found (the reason and who verified it stay in the station's record)."""

    model_config = ConfigDict(from_attributes=True)
    round: int = Field(description="被核实的评价所属轮次")
    finding: str = Field(description="founded 情况属实（重办）/ unfounded 情况不属实 / unreachable 无法联系企业")
    finding_label: str = Field(description="核实结论的中文")
    verified_at: datetime


class CorrectionOut(BaseModel):
    """One audited correction: who, when, why, and the changed fields before and after."""

    model_config = ConfigDict(from_attributes=True)
    correction_id: UUID
    corrected_by: str
    corrected_at: datetime
    reason: str
    changed: list[str]
    before: dict
    after: dict


class DemandOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    printed_tracking_no: str = Field(description="打印的跟踪单号：服务站编码在前，全市唯一，如 hunnan-01-2026-000001")
    enterprise_name: str
    credit_code: str
    credit_code_flag: str | None
    contact_name: str
    contact_phone: str
    categories: list[CategoryOut]
    items: list[DemandItemOut]
    description: str
    channel: Channel
    first_responder: str
    received_at: datetime | None
    time_limit_days: int
    expected_on: date | None
    green_channel: GreenChannel | None
    green_channel_reason: str | None
    details: dict
    visit_id: UUID | None
    possible_duplicate_of: UUID | None
    submitted_at: datetime
    status: str = Field(description="open 办理中 / closed 已终止（否定备案、并单、撤回）/ archived 已归档")
    progress: str = Field(description="企业看到的进度：" + " / ".join(domain.STAGES))
    progress_label: str = Field(description="进度的中文说明，与企业查询链接所示相同")
    archive_no: str | None
    archived_at: datetime | None
    address: str | None = Field(description="企业地址（登记时取自企业档案）")
    handling: HandlingOut
    closure: ClosureOut | None
    corrected_at: datetime | None = Field(description="最近一次更正登记内容的时间")
    corrections: list[CorrectionOut] = Field(description="更正记录（仅单个需求的详情中列出）")
    round: int = Field(description="当前办理轮次：1；不满意评价经核实属实、重新办理后为 2")
    rehandling: RehandlingOut | None = Field(description="重办（第 2 轮）：开始时间与重办期限")
    verification: VerificationOut | None = Field(description="不满意评价的核实结论")

    @classmethod
    def of(cls, d: Demand) -> "DemandOut":
        # Not a plain copy: the items' catalogue code and version are `code` and `version` here, and the
        # progress is the stage derived from what intake knows.
        derived = (
            *("categories", "items", "progress", "progress_label", "handling", "closure", "corrections"),
            *("round", "rehandling", "verification"),
        )
        simple = {k: getattr(d, k) for k in cls.model_fields if k not in derived}
        return cls(
            **simple,
            progress=domain.stage(d),
            progress_label=domain.stage_label(d),
            handling=HandlingOut.model_validate(d.handling),
            closure=(
                ClosureOut.model_validate(d.closure).model_copy(
                    update={"merged_into_printed_tracking_no": domain.merged_into_printed_no(d)}
                )
                if d.closure
                else None
            ),
            corrections=[CorrectionOut.model_validate(c) for c in d.corrections],
            **_rounds(d),
            categories=[CategoryOut.model_validate(c) for c in d.categories],
            items=[
                DemandItemOut(
                    code=i.item_code,
                    version=i.item_version,
                    label=i.label,
                    category=i.category,
                    time_limit_days=i.time_limit_days,
                    materials=list(i.materials),
                    materials_needed=list(i.materials_needed),
                    remarks=i.remarks,
                )
                for i in d.items
            ],
        )


def _rounds(d: Demand) -> dict:
    """The round, its re-handling and the verification, the same for the staff and behind the status link."""
    return {
        "round": d.progress_round,
        "rehandling": RehandlingOut.model_validate(d.reopening) if d.reopening else None,
        "verification": VerificationOut.model_validate(d.verification) if d.verification else None,
    }


class SubmittedOut(DemandOut):
    status_url: str = Field(description="企业查询进度的专属链接（请转交企业，勿公开）")
    notice_url: str


class PublicSubmittedOut(BaseModel):
    tracking_no: str
    printed_tracking_no: str = Field(description="打印的跟踪单号（服务站编码在前）")
    expected_on: date | None
    status_url: str
    notice_url: str


class EndingOut(BaseModel):
    """How the demand ended, as the enterprise is told it (who at the station decided is not shown)."""

    kind: str = Field(description="refused 未予受理（否定备案）/ merged 合并办理 / withdrawn 已撤回")
    reason: str
    basis: str | None = Field(description="否定备案的依据")
    merged_into_tracking_no: str | None = Field(description="合并办理的跟踪单号")
    merged_into_printed_tracking_no: str | None = Field(description="合并办理的跟踪单号（打印的，服务站编码在前）")
    by_enterprise: bool
    closed_at: datetime


class PauseOut(BaseModel):
    """挂起 as the enterprise is told it: why and since when (not who paused it)."""

    reason_kind: str = Field(description="materials / sample / site_date / third_party / other")
    reason_label: str = Field(description="暂停原因类别的中文，如 等待企业补充材料")
    reason: str = Field(description="暂停的具体原因")
    paused_at: datetime
    resumed_at: datetime | None = Field(description="恢复计时的时间；仍在暂停时为空")
    paused_working_days: int | None = Field(description="暂停的工作日数（恢复计时后才有）")

    @classmethod
    def of(cls, p: domain.Pause) -> "PauseOut":
        return cls(
            reason_kind=p.reason_kind or "other",
            reason_label=p.reason_label or "",
            reason=p.reason or "",
            paused_at=p.paused_at,  # type: ignore[arg-type]  # pauses_told lists only pauses seen paused
            resumed_at=p.resumed_at,
            paused_working_days=p.paused_working_days,
        )


class ExtensionOut(BaseModel):
    """An approved 延期: the new date and why (who asked and who approved are not shown)."""

    model_config = ConfigDict(from_attributes=True)
    due_on: date = Field(description="原定办结日期")
    new_due_on: date = Field(description="延期后的办结日期")
    reason: str = Field(description="延期理由")
    decided_at: datetime


class StatusOut(BaseModel):
    """What the enterprise sees behind its private link: its demand's progress and nothing else.

    Never the station's internal business: no staff names, departments, co-handlers, return reasons or
    referral contacts; an organization or the department it was referred to is named, the station's own
    staff are 本站. Of the clock it sees why it stands still and an approved extension's date and reason
    (行政许可法 §45 and §42 patterns), never who paused, resumed, asked or decided.
    """

    tracking_no: str
    printed_tracking_no: str = Field(description="打印的跟踪单号（服务站编码在前，与受理通知书一致）")
    station_name: str
    station_phone: str | None
    items: list[str]
    progress: str = Field(description=" / ".join(domain.STAGES))
    progress_label: str = Field(description="进度的中文说明")
    handled_by: str | None = Field(description="承办单位（服务机构、转办部门，或“本站”）")
    ending: EndingOut | None = Field(description="未予受理、合并办理或撤回时的说明")
    can_withdraw: bool = Field(description="尚可经本链接撤回需求")
    submitted_at: datetime
    expected_on: date | None = Field(description="预计办结日期：受理通知书所定，延期获批或暂停后恢复计时则为新的日期")
    paused: PauseOut | None = Field(description="正在暂停计时（挂起）时：原因与起始时间")
    clock_label: str | None = Field(description="计时情况的中文说明：暂停原因，或最近一次延期、恢复计时后的日期")
    pauses: list[PauseOut] = Field(description="历次暂停计时")
    extensions: list[ExtensionOut] = Field(description="获批的延期（未获批的不影响办结日期，不列出）")
    notice_reissued_at: datetime | None = Field(description="登记内容更正后受理通知书重新出具的时间")
    archive_no: str | None
    round: int = Field(description="办理轮次：1；不满意评价经核实属实、重新办理（重办）时为 2")
    rehandling: RehandlingOut | None = Field(description="重办中：第几轮、何时开始、重办期限")
    verification: VerificationOut | None = Field(
        description="对不满意评价的核实结论：属实则重办；不属实或无法联系企业则即将办结归档"
    )

    @classmethod
    def of(cls, d: Demand, station: Station) -> "StatusOut":
        c = d.closure
        pause = domain.pause_now(d)
        return cls(
            tracking_no=d.tracking_no,
            printed_tracking_no=d.printed_tracking_no,
            station_name=station.name,
            station_phone=station.phone,
            items=[i.label for i in d.items],
            progress=domain.stage(d),
            progress_label=domain.stage_label(d),
            handled_by=domain.handler_for_enterprise(d.handling),
            ending=(
                EndingOut(
                    kind=c.kind,
                    reason=c.reason,
                    basis=c.basis,
                    merged_into_tracking_no=c.merged_into_tracking_no,
                    merged_into_printed_tracking_no=domain.merged_into_printed_no(d),
                    by_enterprise=c.by_enterprise,
                    closed_at=c.closed_at,
                )
                if c
                else None
            ),
            can_withdraw=domain.withdrawable(d),
            submitted_at=d.submitted_at,
            expected_on=domain.due_on(d),
            paused=PauseOut.of(pause) if pause else None,
            clock_label=domain.clock_label(d),
            pauses=[PauseOut.of(p) for p in domain.pauses_told(d)],
            extensions=[
                ExtensionOut.model_validate(e)
                for e in sorted(d.extensions, key=lambda e: (e.decided_at, e.extension_id))
            ],
            notice_reissued_at=d.corrected_at,
            archive_no=d.archive_no,
            **_rounds(d),
        )
