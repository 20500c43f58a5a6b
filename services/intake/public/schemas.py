"""What the enterprise sees behind its status link: the demand's status (demands.schemas.StatusOut), each step's
moment, and the rating link while the round waits for its rating. Only the public routes answer with these."""

from datetime import datetime

from pydantic import BaseModel, Field

from shared.calendar import CHINA

from ..demands.schemas import StatusOut
from .usecases import StatusPage


class StepOut(BaseModel):
    key: str = Field(description="submitted 受理 / assigned 派单 / resolved 办结 / rated 评价 / archived 归档")
    label: str = Field(description="步骤的中文名")
    at: datetime | None = Field(
        description="该步骤的时间（北京时间，+08:00）；尚未到达或时间不详时为空。办结、评价为当前轮次的"
    )


class PublicStatusOut(StatusOut):
    steps: list[StepOut] = Field(description="受理 → 派单 → 办结 → 评价 → 归档，各步骤的时间")
    rating_url: str | None = Field(
        description="一次性评价链接：已办结、尚未评价时提供（每轮一个，评价一次后失效；请勿转发）；其余情况为空"
    )
    rating_expires_at: datetime | None = Field(description="评价链接的有效期限（北京时间）")

    @classmethod
    def of_page(cls, page: StatusPage) -> "PublicStatusOut":
        link = page.rating_link
        return cls(
            **StatusOut.of(page.demand, page.station).model_dump(),
            steps=[StepOut(key=s.key, label=s.label, at=s.at.astimezone(CHINA) if s.at else None) for s in page.steps],
            rating_url=link.url if link else None,
            rating_expires_at=link.expires_at.astimezone(CHINA) if link else None,
        )
