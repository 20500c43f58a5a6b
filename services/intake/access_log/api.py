"""Access-log HTTP route: who read which enterprise's data (dossier, search, visit) or demand contact (a demand, a
list, the notice, the ledger export), for a head and a supervisor."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import Principal, Role
from shared.validation import QueryDate

from . import usecases
from .domain import PURPOSES

router = APIRouter(tags=["intake 需求受理"])
# As the archive's access log: a head reviews the station's reads, a supervisor its subtree's; a clerk, an
# organization and operations do not review who read what.
HeadOrSupervisor = Annotated[Principal, allow(Role.head, Role.supervisor)]


class AccessOut(BaseModel):
    id: int
    accessed_at: datetime = Field(description="查阅时间 / when")
    station_id: str = Field(description="被查阅数据所属服务站 / whose data was read")
    subject: str = Field(description="查阅人账号 / who")
    subject_name: str | None = Field(description="查阅人 / who, by name")
    role: str
    purpose: str = Field(
        description="查阅事由 / what the read was for: " + "；".join(f"{p} {t}" for p, t in PURPOSES.items())
    )
    kind: str = Field(
        description="enterprise 企业数据（企业档案、走访记录；ref 为统一社会信用代码）/ demand 需求（含联系人；ref 为"
        "需求编号）"
    )
    ref: str | None = Field(description="统一社会信用代码或需求编号（查阅一条时）/ the credit code or demand id read")
    refs: list[str] = Field(
        description="本次显示的全部（导出台账时为其中每一条需求，条数即其长度）/ every one the read showed (an export: "
        "every demand in it, so its length is the count)"
    )


@router.get(
    "/access-log",
    response_model=list[AccessOut],
    summary="企业档案与需求查阅日志 / intake's access log",
    description="站长看本站，上级单位看辖区。/ A head sees the station's, a supervisor its subtree's.",
)
async def access_log(
    uow: UoW,
    principal: HeadOrSupervisor,
    page: StationPaged,
    start: Annotated[QueryDate | None, Query(alias="from", description="起（含，北京日期）/ from (China date)")] = None,
    end: Annotated[QueryDate | None, Query(alias="to", description="止（含，北京日期）/ to (China date)")] = None,
) -> list[AccessOut]:
    rows = await usecases.access_log(uow, principal, page.station_id, start, end, page.limit, page.offset)
    return [AccessOut(**r) for r in rows]
