from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    service_name: str = "dispatch"
    http_port: int = 8002
    database_url: str = "postgresql://postgres@127.0.0.1:5432/qs_dispatch"
    # The registry's review flag (issue 10; README "Scorecards"): an organization is flagged for review (复核) when,
    # over the last review_window_months, one of these rules holds; the head or supervisor still decides any suspension
    # (PUT /organizations/{org_id}/status). A rate rule needs at least its minimum number of cases, so two unlucky
    # ratings do not flag a new organization; a rate threshold of 0 or a complaint threshold of 0 turns the rule off.
    review_window_months: int = Field(default=12, ge=1, le=36, description="复核统计窗口（月）")
    review_min_ratings: int = Field(default=5, ge=1, le=1000, description="满意率规则所需的最少有效评价数")
    review_min_satisfaction_rate: float = Field(
        default=0.8, ge=0, le=1, allow_inf_nan=False, description="满意率低于此值即提示复核"
    )
    review_min_completed: int = Field(default=5, ge=1, le=1000, description="按时办结率规则所需的最少办结数")
    review_min_on_time_rate: float = Field(
        default=0.8, ge=0, le=1, allow_inf_nan=False, description="按时办结率低于此值即提示复核"
    )
    review_founded_complaints: int = Field(
        default=2, ge=0, le=1000, description="属实投诉达到此数即提示复核（0：不按投诉提示）"
    )
