"""Around a resolved demand: the re-visit (回访) and complaints (投诉) (domain.md §6, §8; 000 §服务质量监督,
001 §6.6, 002 §8.1; GB/T 19012 stages).

Tracking publishes RevisitRecorded (it owns the case and keeps the re-visit tasks). Intake publishes ComplaintUpdated at
every stage of a complaint (it owns the public channel and the station registry); a complaint need not concern a demand,
so it is an Envelope of its own, locked per complaint. Dispatch counts complaints about an organization in its record;
the archive keeps those tied to a demand in its dossier.
"""

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from .envelope import Envelope, Event, StationId, TrackingNo
from .events import Name, Text


class RevisitMethod(StrEnum):
    phone = "phone"  # 电话回访
    visit = "visit"  # 上门回访
    message = "message"  # 短信、微信等留言回访

    @property
    def label(self) -> str:
        return {RevisitMethod.phone: "电话回访", RevisitMethod.visit: "上门回访", RevisitMethod.message: "留言回访"}[
            self
        ]


class RevisitRecorded(Event):
    """回访: the station asked the enterprise, after the resolution of `round`, how it went."""

    routing_key = "demand.revisited"

    round: int = Field(default=1, ge=1)
    revisit_id: UUID
    method: RevisitMethod
    revisited_at: datetime  # when the enterprise was reached (or tried)
    reached: bool = True  # False: tried and not reached; the task stays open
    contact: Name | None = None  # whom the station spoke to
    enterprise_said: Text | None = None
    need_met: bool | None = None  # the enterprise confirms its need was met (解决率 by 回访, domain.md §9)
    recorded_by: Name


class ComplaintSubject(StrEnum):
    station = "station"  # 服务站
    staff = "staff"  # 工作人员
    organization = "organization"  # 服务机构

    @property
    def label(self) -> str:
        return {
            ComplaintSubject.station: "服务站",
            ComplaintSubject.staff: "工作人员",
            ComplaintSubject.organization: "服务机构",
        }[self]


class ComplaintStage(StrEnum):
    """GB/T 19012 stages, in order."""

    received = "received"  # 受理
    acknowledged = "acknowledged"  # 确认（告知投诉人已受理）
    investigated = "investigated"  # 调查
    resolved = "resolved"  # 处理
    answered = "answered"  # 答复投诉人
    closed = "closed"  # 结案

    @property
    def label(self) -> str:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    ComplaintStage.received: "已受理",
    ComplaintStage.acknowledged: "已确认",
    ComplaintStage.investigated: "已调查",
    ComplaintStage.resolved: "已处理",
    ComplaintStage.answered: "已答复投诉人",
    ComplaintStage.closed: "已结案",
}


class ComplaintChannel(StrEnum):
    online = "online"  # 企业通过公开链接提交
    phone = "phone"
    letter = "letter"
    window = "window"
    im = "im"  # 微信等

    @property
    def label(self) -> str:
        return {
            ComplaintChannel.online: "网上",
            ComplaintChannel.phone: "电话",
            ComplaintChannel.letter: "信函",
            ComplaintChannel.window: "窗口",
            ComplaintChannel.im: "微信/即时通讯",
        }[self]


class ComplaintUpdated(Envelope):
    """A complaint reached `stage` (each stage once, in order). Carries what consumers need at every stage, so a
    consumer that missed one still knows the complaint."""

    routing_key = "complaint.updated"

    complaint_id: UUID
    complaint_no: str  # e.g. "T2026-000012", per station and year, for people
    station_id: StationId
    demand_id: UUID | None = None
    tracking_no: TrackingNo | None = None
    subject: ComplaintSubject
    subject_id: str | None = None  # the staff member's or organization's id
    subject_name: Name | None = None
    channel: ComplaintChannel
    stage: ComplaintStage
    stage_at: datetime
    stage_by: Name
    note: Text | None = None  # what was done at this stage
    founded: bool | None = None  # from `resolved` on: whether the complaint was found justified
    due_on: date | None = None  # the working-day limit of the next stage

    @property
    def lock_key(self) -> str:
        return f"complaint:{self.complaint_id}"


AFTERCARE: tuple[type[Envelope], ...] = (RevisitRecorded, ComplaintUpdated)
