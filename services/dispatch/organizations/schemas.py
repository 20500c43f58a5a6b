"""Registry request and response bodies."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field
from stdnum.cn import uscc

from shared import validation
from shared.errors import Invalid
from shared.validation import DueDate, Line, Phone, RecordDate, RequestModel, Text, rule

from .domain import (
    CATEGORY_LABELS,
    ROUTE_LABELS,
    STATUS_LABELS,
    Agreement,
    Contact,
    Organization,
    Qualification,
    Record,
    Status,
)

ORG_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"
# A service area: a city or district division-code prefix ("210100", "210100/210112") or a station id.
AREA_PATTERN = r"^[0-9]{6}(/[0-9]{6}){0,3}(/[a-z0-9][a-z0-9-]{0,39})?$"
CATEGORY_PATTERN = r"^[a-z_]{2,40}$"
ITEM_PATTERN = r"^[a-z_]+\.[a-z_]+$"


def org_credit_code(value: str) -> str:
    """An organization's 统一社会信用代码: the standard's layout and a check character that verifies (unlike an
    enterprise's legacy code, which intake accepts with a flag, a registered organization's must be right)."""
    code = validation.credit_code(value)
    if not uscc.is_valid(code):
        raise Invalid("统一社会信用代码校验位错误", "unified social credit code has a wrong check character")
    return code


CreditCode = Annotated[str, rule(org_credit_code)]
Short = Annotated[Line, Field(min_length=1, max_length=200)]
CategoryCode = Annotated[str, Field(pattern=CATEGORY_PATTERN, description="服务类别代码，如 metrology")]
ItemCode = Annotated[str, Field(pattern=ITEM_PATTERN, description="服务项目代码，如 metrology.calibration")]
Area = Annotated[str, Field(pattern=AREA_PATTERN, description="服务区域：城市/区县代码前缀（如 210100）或服务站编号")]


class ContactIn(RequestModel):
    name: Annotated[Line, Field(min_length=1, max_length=100)] = Field(description="联系人")
    phone: Phone = Field(description="联系电话（手机或带区号的固定电话）")
    role: Annotated[Line, Field(max_length=100)] | None = Field(default=None, description="职务或分工")


class QualificationIn(RequestModel):
    kind: Short = Field(description="资质类别，如 检验检测机构资质认定证书（CMA）")
    certificate_no: Annotated[Line, Field(min_length=1, max_length=100)] = Field(description="证书编号")
    issuer: Short = Field(description="发证机关")
    scope: Annotated[Text, Field(min_length=1, max_length=2000)] = Field(description="资质范围")
    valid_from: RecordDate = Field(description="有效期起")
    valid_until: RecordDate = Field(description="有效期至（含当日）")
    file_ref: Annotated[Line, Field(max_length=500)] | None = Field(default=None, description="扫描件引用")
    categories: list[CategoryCode] = Field(
        default_factory=list, max_length=len(CATEGORY_LABELS), description="所支撑的服务类别；空 = 机构全部类别"
    )

    def domain(self) -> Qualification:
        return Qualification(**{**self.model_dump(), "categories": tuple(dict.fromkeys(self.categories))})


class AgreementIn(RequestModel):
    party: Short = Field(description="协议签订方，如 沈阳市市场监督管理局 或某服务站")
    number: Annotated[Line, Field(min_length=1, max_length=100)] = Field(description="协议编号")
    valid_until: RecordDate = Field(description="协议有效期至（含当日）")


class OrganizationIn(RequestModel):
    """准入或修改服务机构档案（001 §7.2.2.1）。"""

    name: Short = Field(description="机构名称")
    credit_code: CreditCode = Field(description="统一社会信用代码")
    contacts: list[ContactIn] = Field(min_length=1, max_length=20, description="联系人")
    categories: list[CategoryCode] = Field(min_length=1, max_length=len(CATEGORY_LABELS), description="承接的服务类别")
    items: list[ItemCode] = Field(
        default_factory=list, max_length=200, description="限定承接的服务项目；某类别未列项目即承接该类全部项目"
    )
    qualifications: list[QualificationIn] = Field(min_length=1, max_length=50, description="资质")
    agreement: AgreementIn = Field(description="入驻协议")
    areas: list[Area] = Field(min_length=1, max_length=50, description="服务区域；全市机构填城市代码，如 210100")

    def domain(self, org_id: str) -> Organization:
        return Organization(
            org_id=org_id,
            name=self.name,
            credit_code=self.credit_code,
            contacts=tuple(Contact(**c.model_dump()) for c in self.contacts),
            categories=tuple(dict.fromkeys(self.categories)),
            items=tuple(dict.fromkeys(self.items)),
            qualifications=tuple(q.domain() for q in self.qualifications),
            agreement=Agreement(**self.agreement.model_dump()),
            areas=tuple(dict.fromkeys(self.areas)),
        )


class StatusIn(RequestModel):
    status: Status = Field(description="admitted 恢复/准入，suspended 暂停，exited 退出（终态）")
    reason: Annotated[Text, Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="原因（暂停、退出必填）"
    )
    until: DueDate | None = Field(default=None, description="暂停至（含当日），不填则直至恢复")


class QualificationOut(BaseModel):
    kind: str
    certificate_no: str
    issuer: str
    scope: str
    valid_from: date
    valid_until: date
    file_ref: str | None
    categories: list[str]
    valid_today: bool


class ReviewOut(BaseModel):
    """复核提示 (issue 10): whether the registry flags the organization for review, and why; the head still decides."""

    flagged: bool = Field(description="是否提示复核（是否暂停仍由站长或上级单位决定）/ flagged for review")
    reasons: list[str] = Field(description="提示原因（中文），未提示时为空 / why, in Chinese; empty when not flagged")
    since: date = Field(
        description="统计窗口起日（北京日期，含；至今天止，DISPATCH_REVIEW_WINDOW_MONTHS 个月）/ the window's first day"
    )

    @classmethod
    def of(cls, r) -> "ReviewOut":
        return cls(flagged=r.flagged, reasons=list(r.reasons), since=r.since)


class OrganizationOut(BaseModel):
    org_id: str
    name: str
    credit_code: str
    contacts: list[dict]
    categories: list[str]
    category_labels: list[str]
    items: list[str]
    qualifications: list[QualificationOut]
    agreement: dict
    areas: list[str]
    status: Status = Field(description="登记的状态")
    status_label: str
    status_today: Status = Field(description="今天的状态：暂停期满（截止日之后）即恢复")
    status_reason: str | None
    suspended_until: date | None
    review: ReviewOut | None = Field(
        default=None,
        description="复核提示：近期满意率、按时办结率或属实投诉达到阈值（见 README「Scorecards」）；在机构库列表与"
        "机构档案中给出，机构本身查看时及保存、变更状态的答复中为 null / the review flag, on the registry's list and"
        " an organization's profile; null for the organization itself and in the replies of a change",
    )

    @classmethod
    def of(cls, o: Organization, today: date, review=None) -> "OrganizationOut":
        return cls(
            org_id=o.org_id,
            name=o.name,
            credit_code=o.credit_code,
            contacts=[{"name": c.name, "phone": c.phone, "role": c.role} for c in o.contacts],
            categories=list(o.categories),
            category_labels=[CATEGORY_LABELS.get(c, c) for c in o.categories],
            items=list(o.items),
            qualifications=[
                QualificationOut(
                    kind=q.kind,
                    certificate_no=q.certificate_no,
                    issuer=q.issuer,
                    scope=q.scope,
                    valid_from=q.valid_from,
                    valid_until=q.valid_until,
                    file_ref=q.file_ref,
                    categories=list(q.categories),
                    valid_today=q.valid_on(today),
                )
                for q in o.qualifications
            ],
            agreement={
                "party": o.agreement.party,
                "number": o.agreement.number,
                "valid_until": o.agreement.valid_until,
            },
            areas=list(o.areas),
            status=o.status,
            status_label=STATUS_LABELS[o.status],
            status_today=o.status_on(today),
            status_reason=o.status_reason,
            suspended_until=o.suspended_until,
            review=ReviewOut.of(review) if review is not None else None,
        )


class RecordOut(BaseModel):
    """动态评价 (001 §7.2.2.2), counted from resolutions and ratings."""

    completed: int = Field(description="办结数")
    on_time: int = Field(description="按时办结数")
    on_time_rate: float | None = Field(description="按时办结率")
    rated: int = Field(description="评价数")
    satisfied: int = Field(
        description="满意（按评价服务的满意等级设置）：评价时计为满意的评价数 / ratings counted as satisfied under"
        " evaluation's EVALUATION_SATISFIED_LEVELS when recorded"
    )
    satisfaction_rate: float | None = Field(description="满意率 = satisfied / rated")
    open_load: int = Field(description="在办数")
    complaints: int = Field(default=0, description="收到的投诉数（机构本人查看时只计已答复投诉人的）")
    complaints_founded: int = Field(default=0, description="其中经处理认定属实的投诉数")
    score: float = Field(description="排序分（0–100），见 domain.Record.score")

    @classmethod
    def of(cls, r: Record) -> "RecordOut":
        return cls(
            completed=r.completed,
            on_time=r.on_time,
            on_time_rate=r.on_time_rate,
            rated=r.rated,
            satisfied=r.satisfied,
            satisfaction_rate=r.satisfaction_rate,
            open_load=r.open_load,
            complaints=r.complaints,
            complaints_founded=r.complaints_founded,
            score=r.score,
        )


class OrganizationProfileOut(OrganizationOut):
    record: RecordOut


class AuditOut(BaseModel):
    id: int
    action: Literal["admitted", "edited", "suspended", "reinstated", "exited"]
    actor: str
    actor_name: str
    actor_role: str
    at: datetime
    reason: str | None
    before: dict | None
    after: dict


class ExpiringOut(BaseModel):
    org_id: str
    name: str
    what: Literal["qualification", "agreement"] = Field(description="资质或服务协议")
    kind: str
    number: str = Field(description="证书或协议编号")
    valid_until: date
    days_left: int


class CandidateOut(RecordOut):
    rank: int
    org_id: str
    name: str
    contacts: list[dict]
    agreement_valid_until: date
    previous_assignee: bool = Field(default=False, description="重办：上一轮的承办机构")


class NotEligibleOut(BaseModel):
    org_id: str
    name: str
    reason: str
    reason_en: str
    previous_assignee: bool = Field(default=False, description="重办：上一轮的承办机构")


class RouteOut(BaseModel):
    code: str
    label: str | None
    handled_by: str | None


class CandidatesOut(BaseModel):
    demand_id: UUID
    station_id: str
    round: int = Field(description="轮次：2 为重办")
    due_on: date = Field(description="按此办结期限核对资质与协议（重办时为重办期限）")
    previous_assignee: dict | None = Field(description="重办：上一轮承办方 {kind, id, name}，可派回，也可另派")
    categories: list[str]
    item_codes: list[str]
    suggested_route: str | None = Field(description="organization / station / department，依目录的“通常承办”")
    suggested_route_label: str | None
    routes: list[RouteOut]
    candidates: list[CandidateOut] = Field(description="可派的服务机构，按动态评价排序")
    not_eligible: list[NotEligibleOut] = Field(description="服务本站、承接相关类别但暂不能派的机构及原因")
    departments: list[dict] = Field(description="本站承办这些类别的科室及人员")


def route_label(route: str | None) -> str | None:
    return ROUTE_LABELS.get(route) if route else None
