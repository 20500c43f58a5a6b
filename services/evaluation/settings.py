import json
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.contracts import Overall
from shared.settings import ServiceSettings

from . import kpis


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore")

    service_name: str = "evaluation"
    http_port: int = 8004
    database_url: str = "postgresql://postgres@127.0.0.1:5432/qs_evaluation"
    # Where enterprises open their rating links (the public address of this service).
    public_url: str = "http://127.0.0.1:8004"
    rating_link_days: int = Field(default=30, ge=1, le=365)
    # Public endpoints: per client address and per link.
    public_rate_limit: str = "30/minute"
    link_rate_limit: str = "10/hour"
    rate_limit_storage: str = "memory://"
    # 满意率 (domain.md §9, configurable): the overall levels (item 10) counted as satisfied, the top of the scale
    # (kpis.satisfied_levels). In the environment comma-separated or a JSON list: very_satisfied,satisfied.
    satisfied_levels: Annotated[tuple[Overall, ...], NoDecode] = Field(
        default=kpis.DEFAULT_SATISFIED, description="满意等级 / levels counted as satisfied"
    )
    # The supervisors' target (GET /kpis, the gauge qs_kpi_target{kpi="satisfaction_rate"}, the alert
    # QsSatisfactionBelowTarget), 0..1.
    target_satisfaction_rate: float = Field(default=0.9, ge=0, le=1, allow_inf_nan=False, description="满意率目标")

    @field_validator("satisfied_levels", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        return value

    @field_validator("satisfied_levels")
    @classmethod
    def _top_of_scale(cls, levels: tuple[Overall, ...]) -> tuple[Overall, ...]:
        return kpis.satisfied_levels(levels)
