"""Calendar HTTP routes: working-day corrections by operations, read by anyone signed in."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from shared.api import UoW
from shared.validation import CalendarDay, Line, RequestModel

from ..dependencies import Admin, Anyone
from . import usecases

router = APIRouter(tags=["intake 需求受理"])


class WorkdayIn(RequestModel):
    is_workday: bool = Field(description="true 调休上班日 / false 法定节假日")
    note: Line = Field(default="", max_length=200)


class WorkdayOut(BaseModel):
    day: date
    is_workday: bool = Field(description="true 调休上班日 / false 法定节假日")
    note: str


@router.get("/calendar", response_model=list[WorkdayOut], summary="一年的工作日调整 / a year's working-day corrections")
async def list_workdays(
    uow: UoW, _: Anyone, year: Annotated[int, Query(description="年份，如 2027 / the year")]
) -> list[WorkdayOut]:
    # Reference data, not confidential: every signed-in caller counts working days with it.
    return [
        WorkdayOut(day=c.day, is_workday=bool(c.is_workday), note=c.note or "")
        for c in await usecases.list_workdays(uow, year)
    ]


@router.put("/calendar/{day}", status_code=204, summary="工作日调整（运维）/ working-day override")
async def save_workday(day: CalendarDay, body: WorkdayIn, uow: UoW, _: Admin) -> Response:
    await usecases.save_workday(uow, day, body.is_workday, body.note)
    return Response(status_code=204)


@router.delete("/calendar/{day}", status_code=204, summary="撤销工作日调整（运维）/ remove an override")
async def remove_workday(day: CalendarDay, uow: UoW, _: Admin) -> Response:
    await usecases.remove_workday(uow, day)
    return Response(status_code=204)
