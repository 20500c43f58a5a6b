"""Staff and department HTTP routes: a station's roster, kept by its head (or operations), read by its staff.

Station ids hold slashes ("210100/210112/hunnan-01"), so the station is a `:path` parameter followed by a
fixed segment; Starlette matches the last `/departments` or `/staff/` of the path, and department and staff
ids hold no slash.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from shared.api import Paged, UoW, allow
from shared.auth import READERS, Principal, Role
from shared.contracts import StationId
from shared.validation import Line, Phone, RequestModel

from ..organizations.schemas import CategoryCode
from . import usecases
from .domain import Department, StaffMember

router = APIRouter(tags=["staff 人员与科室"])
Keeper = Annotated[Principal, allow(Role.head, Role.admin)]
Reader = Annotated[Principal, allow(*READERS, Role.admin)]

DEPARTMENT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
# The person's account as the identity provider names it (the token's subject), without slashes.
STAFF_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@|:+-]{0,99}$"

StationPath = Annotated[StationId, Path(description="服务站编号，如 210100/210112/hunnan-01")]
DepartmentId = Annotated[str, Field(pattern=DEPARTMENT_ID_PATTERN, description="科室编号，如 metrology")]
StaffId = Annotated[str, Path(pattern=STAFF_ID_PATTERN, description="人员账号（登录身份的 sub）")]
Categories = Annotated[list[CategoryCode], Field(default_factory=list, max_length=20)]


class DepartmentIn(RequestModel):
    name: Annotated[Line, Field(min_length=1, max_length=100)] = Field(description="科室名称")
    categories: Categories = Field(description="负责的服务类别")
    active: bool = Field(default=True, description="false 停用（不删除：历史派单仍指向它）")


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    station_id: str
    department_id: str
    name: str
    categories: list[str]
    active: bool
    updated_by: str
    updated_at: datetime


class StaffIn(RequestModel):
    name: Annotated[Line, Field(min_length=1, max_length=50)] = Field(description="姓名")
    department_id: DepartmentId | None = Field(default=None, description="所在科室编号")
    categories: Categories = Field(description="擅长的服务类别")
    phone: Phone | None = Field(default=None, description="联系电话")
    active: bool = Field(default=True, description="false 停用（离岗；不删除）")


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    station_id: str
    staff_id: str
    name: str
    department_id: str | None
    categories: list[str]
    phone: str | None
    active: bool
    updated_by: str
    updated_at: datetime


ActiveFilter = Annotated[bool | None, Query(description="true 仅在用 / false 仅停用；不填为全部")]


@router.get(
    "/stations/{station_id:path}/departments",
    response_model=list[DepartmentOut],
    summary="本站科室 / a station's departments",
)
async def list_departments(
    station_id: StationPath, uow: UoW, principal: Reader, page: Paged, active: ActiveFilter = None
) -> list[DepartmentOut]:
    found = await usecases.list_departments(uow, principal, station_id, active, page.limit, page.offset)
    return [DepartmentOut.model_validate(d) for d in found]


@router.put(
    "/stations/{station_id:path}/departments/{department_id}",
    response_model=DepartmentOut,
    responses={201: {"description": "科室已新建 / created"}},
    summary="新建、修改或停用科室（站长）/ create, edit or deactivate a department",
)
async def save_department(
    station_id: StationPath,
    department_id: Annotated[str, Path(pattern=DEPARTMENT_ID_PATTERN, description="科室编号，如 metrology")],
    body: DepartmentIn,
    uow: UoW,
    principal: Keeper,
    response: Response,
) -> DepartmentOut:
    proposed = Department(
        station_id=station_id,
        department_id=department_id,
        name=body.name,
        categories=tuple(dict.fromkeys(body.categories)),
        active=body.active,
    )
    saved, created = await usecases.save_department(uow, principal, proposed)
    response.status_code = 201 if created else 200
    return DepartmentOut.model_validate(saved)


@router.get("/stations/{station_id:path}/staff", response_model=list[StaffOut], summary="本站人员 / a station's staff")
async def list_staff(
    station_id: StationPath,
    uow: UoW,
    principal: Reader,
    page: Paged,
    active: ActiveFilter = None,
    department_id: Annotated[str | None, Query(pattern=DEPARTMENT_ID_PATTERN, description="科室编号")] = None,
) -> list[StaffOut]:
    found = await usecases.list_staff(uow, principal, station_id, active, department_id, page.limit, page.offset)
    return [StaffOut.model_validate(m) for m in found]


@router.put(
    "/stations/{station_id:path}/staff/{staff_id}",
    response_model=StaffOut,
    responses={201: {"description": "人员已登记 / created"}},
    summary="登记、修改或停用人员（站长）/ create, edit or deactivate a staff member",
)
async def save_staff_member(
    station_id: StationPath, staff_id: StaffId, body: StaffIn, uow: UoW, principal: Keeper, response: Response
) -> StaffOut:
    proposed = StaffMember(
        station_id=station_id,
        staff_id=staff_id,
        name=body.name,
        department_id=body.department_id,
        categories=tuple(dict.fromkeys(body.categories)),
        phone=body.phone,
        active=body.active,
    )
    saved, created = await usecases.save_staff_member(uow, principal, proposed)
    response.status_code = 201 if created else 200
    return StaffOut.model_validate(saved)
