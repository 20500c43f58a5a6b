"""Calendar HTTP routes: working-day corrections by operations."""

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from shared.api import UoW
from shared.validation import CalendarDay, Line, RequestModel

from ..dependencies import Admin
from . import usecases

router = APIRouter(tags=["intake 需求受理"])


class WorkdayIn(RequestModel):
    is_workday: bool = Field(description="true 调休上班日 / false 法定节假日")
    note: Line = Field(default="", max_length=200)


@router.put("/calendar/{day}", status_code=204, summary="工作日调整（运维）/ working-day override")
async def save_workday(day: CalendarDay, body: WorkdayIn, uow: UoW, _: Admin) -> Response:
    await usecases.save_workday(uow, day, body.is_workday, body.note)
    return Response(status_code=204)


@router.delete("/calendar/{day}", status_code=204, summary="撤销工作日调整（运维）/ remove an override")
async def remove_workday(day: CalendarDay, uow: UoW, _: Admin) -> Response:
    await usecases.remove_workday(uow, day)
    return Response(status_code=204)
