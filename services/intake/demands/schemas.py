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


class DemandOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
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
    status: str
    progress: str
    archive_no: str | None
    archived_at: datetime | None

    @classmethod
    def of(cls, d: Demand) -> "DemandOut":
        # Not a plain copy: the items' catalogue code and version are `code` and `version` here.
        simple = {k: getattr(d, k) for k in cls.model_fields if k not in ("categories", "items")}
        return cls(
            **simple,
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


class SubmittedOut(DemandOut):
    status_url: str = Field(description="企业查询进度的专属链接（请转交企业，勿公开）")
    notice_url: str


class PublicSubmittedOut(BaseModel):
    tracking_no: str
    expected_on: date | None
    status_url: str
    notice_url: str


class StatusOut(BaseModel):
    """What the enterprise sees behind its private link: its demand's progress and nothing else."""

    tracking_no: str
    station_name: str
    station_phone: str | None
    items: list[str]
    progress: str
    progress_label: str
    submitted_at: datetime
    expected_on: date | None
    archive_no: str | None
