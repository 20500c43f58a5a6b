"""Complaint request and response bodies: as staff record and move a complaint, as the enterprise files one online,
and what each reader is shown (the organization complained about: no complainant; the enterprise: no staff names and
no internal notes, the answer once given)."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.contracts import ComplaintChannel, ComplaintStage, ComplaintSubject, TrackingNo
from shared.validation import Line, RequestModel, Text

from ..schemas import Phone
from ..stations.domain import Station
from . import domain
from .domain import Complaint, Stage, SubjectCorrection

SubjectId = Annotated[Line, Field(min_length=1, max_length=100)]
SubjectName = Annotated[Line, Field(min_length=1, max_length=200)]
Content = Annotated[Text, Field(min_length=1, max_length=4000)]


class ComplaintIn(RequestModel):
    """投诉登记: a complaint received by phone, letter, at the window or by message, for the caller's own station."""

    channel: Literal["phone", "letter", "window", "im"] = Field(description="投诉渠道：电话/信函/窗口/微信等即时通讯")
    subject: ComplaintSubject = Field(description="投诉对象：station 服务站 / staff 工作人员 / organization 服务机构")
    subject_id: SubjectId | None = Field(
        default=None, description="工作人员账号或服务机构编号（服务机构库中的编号，处理前须填写）"
    )
    subject_name: SubjectName | None = Field(default=None, description="被投诉的工作人员姓名或服务机构名称")
    demand_id: UUID | None = Field(default=None, description="所涉本站需求的编号（可选）")
    tracking_no: TrackingNo | None = Field(default=None, description="所涉本站需求的跟踪单号，如 2026-000012（可选）")
    complainant_name: Annotated[Line, Field(min_length=1, max_length=100)] = Field(description="投诉人")
    complainant_contact: Annotated[Line, Field(min_length=1, max_length=200)] = Field(
        description="投诉人联系方式（电话、地址或邮箱）"
    )
    enterprise_name: SubjectName | None = Field(
        default=None, description="投诉人所在企业（涉及需求时默认为该需求的企业）"
    )
    content: Content = Field(description="投诉内容")


class PublicComplaintIn(RequestModel):
    """网上投诉 through the status link: about this demand, at its station."""

    subject: ComplaintSubject = Field(
        default=ComplaintSubject.station,
        description="投诉对象：station 服务站 / staff 工作人员 / organization 承办的服务机构",
    )
    subject_name: SubjectName | None = Field(
        default=None, description="被投诉的工作人员姓名或服务机构名称（投诉承办机构时可不填）"
    )
    content: Content = Field(description="投诉内容")
    contact_name: Annotated[Line, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="投诉人；不填则为需求的企业联系人"
    )
    contact_phone: Phone | None = Field(default=None, description="联系电话；不填则为需求的联系电话")


class StageIn(RequestModel):
    """The next stage, by the station's head: 确认, 调查, 处理 (with founded), 答复投诉人, 结案."""

    stage: Literal["acknowledged", "investigated", "resolved", "answered", "closed"] = Field(
        description="下一环节：acknowledged 确认 / investigated 调查 / resolved 处理 / answered 答复 / closed 结案"
    )
    note: Content = Field(description="本环节所做的工作；答复环节为给投诉人的答复（网上投诉的企业可在查询链接看到）")
    founded: bool | None = Field(default=None, description="处理环节必填：投诉是否属实")
    subject: ComplaintSubject | None = Field(default=None, description="更正投诉对象（处理环节及之前）")
    subject_id: SubjectId | None = Field(default=None, description="更正：工作人员账号或服务机构编号")
    subject_name: SubjectName | None = Field(default=None, description="更正：工作人员姓名或服务机构名称")

    def correction(self) -> SubjectCorrection | None:
        """The subject as corrected, if any field of it was given."""
        if self.subject is None and self.subject_id is None and self.subject_name is None:
            return None
        return SubjectCorrection(self.subject, self.subject_id, self.subject_name)


class StageOut(BaseModel):
    stage: ComplaintStage
    stage_label: str
    at: datetime
    by: str = Field(description="经办人")
    note: str | None = Field(description="所做的工作（受理环节为空，投诉内容见 content）")
    due_on: date | None = Field(description="本环节的时限（工作日计算）；受理环节无")
    late: bool = Field(description="超过时限才完成")
    founded: bool | None = Field(description="处理环节：投诉是否属实")
    subject: ComplaintSubject
    subject_id: str | None
    subject_name: str | None

    @classmethod
    def of(cls, s: Stage) -> "StageOut":
        return cls(
            stage=s.stage,
            stage_label=s.stage.label,
            at=s.at,
            by=s.by,
            note=s.note,
            due_on=s.due_on,
            late=s.late,
            founded=s.founded,
            subject=s.subject.kind,
            subject_id=s.subject.id,
            subject_name=s.subject.name,
        )


class ComplaintOut(BaseModel):
    complaint_id: UUID
    complaint_no: str = Field(description="投诉编号：T + 年份 + 本站当年流水号，如 T2026-000012")
    station_id: str
    channel: ComplaintChannel
    channel_label: str
    subject: ComplaintSubject
    subject_label: str
    subject_id: str | None
    subject_name: str | None
    demand_id: UUID | None
    tracking_no: str | None
    complainant_name: str | None = Field(description="投诉人（服务机构查看时不显示）")
    complainant_contact: str | None = Field(description="投诉人联系方式（服务机构查看时不显示）")
    enterprise_name: str | None
    content: str = Field(description="投诉内容")
    recorded_by: str = Field(description="登记人；网上投诉为“网上投诉”")
    received_at: datetime
    stage: ComplaintStage
    stage_label: str
    next_stage: ComplaintStage | None = Field(description="下一环节；结案后为空")
    due_on: date | None = Field(description="下一环节的时限（工作日计算，不含当日）；结案后为空")
    overdue: bool = Field(description="下一环节已超过时限")
    founded: bool | None = Field(description="投诉是否属实（处理后）")
    stages: list[StageOut] = Field(description="已完成的各环节：何人、何时、做了什么")

    @classmethod
    def of(cls, c: Complaint, today: date, *, for_organization: bool = False) -> "ComplaintOut":
        return cls(
            complaint_id=c.complaint_id,
            complaint_no=c.complaint_no,
            station_id=c.station_id,
            channel=c.channel,
            channel_label=c.channel.label,
            subject=c.subject.kind,
            subject_label=c.subject.kind.label,
            subject_id=c.subject.id,
            subject_name=c.subject.name,
            # GB/T 19012: the complainant's identity is kept from the one complained about, and so is the demand, which
            # would name the enterprise to the organization that handled it.
            demand_id=None if for_organization else c.demand_id,
            tracking_no=None if for_organization else c.tracking_no,
            complainant_name=None if for_organization else c.complainant_name,
            complainant_contact=None if for_organization else c.complainant_contact,
            enterprise_name=None if for_organization else c.enterprise_name,
            content=c.content,
            recorded_by=c.received.by,
            received_at=c.received.at,
            stage=c.stage,
            stage_label=c.stage.label,
            next_stage=c.next_stage,
            due_on=c.due_on,
            overdue=c.overdue(today),
            founded=c.founded,
            stages=[StageOut.of(s) for s in c.stages],
        )


class PublicStageOut(BaseModel):
    stage: ComplaintStage
    stage_label: str
    at: datetime


class PublicComplaintOut(BaseModel):
    """An online complaint as its complainant follows it: where it stands and, once answered, the answer."""

    complaint_no: str
    station_name: str
    station_phone: str | None
    subject: ComplaintSubject
    subject_label: str
    content: str
    received_at: datetime
    stage: ComplaintStage
    progress_label: str = Field(description="办理情况的中文说明")
    stages: list[PublicStageOut] = Field(description="已完成的环节及时间（不含经办人）")
    answered_at: datetime | None
    answer: str | None = Field(description="服务站的答复（答复后才有）")
    founded: bool | None = Field(description="经调查投诉是否属实（答复后才有）")

    @classmethod
    def of(cls, c: Complaint, station: Station) -> "PublicComplaintOut":
        answer = c.answer
        return cls(
            complaint_no=c.complaint_no,
            station_name=station.name,
            station_phone=station.phone,
            subject=c.subject.kind,
            subject_label=c.subject.kind.label,
            content=c.content,
            received_at=c.received.at,
            stage=c.stage,
            progress_label=domain.stage_label_for_complainant(c),
            stages=[PublicStageOut(stage=s.stage, stage_label=s.stage.label, at=s.at) for s in c.stages],
            answered_at=answer.at if answer else None,
            answer=answer.note if answer else None,
            founded=c.founded if answer else None,
        )
