from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore")

    service_name: str = "tracking"
    http_port: int = 8003
    database_url: str = "postgresql://postgres@127.0.0.1:5432/qs_tracking"
    # The clock's defaults; a station head may set its own (PUT /stations/{station_id}/clock).
    response_days: int = Field(default=1, ge=1, le=30, description="响应时限（工作日）: submitted → assigned")
    warn_days: int = Field(default=1, ge=0, le=10, description="预警: working days before a deadline")
    escalate_after_days: int = Field(default=2, ge=1, le=30, description="督办: working days overdue before escalation")
    reply_days: int = Field(default=2, ge=1, le=30, description="督办回复时限（工作日）")
    # After a 不满意 rating (issue 10): working days to verify it, and the re-handling limit of a founded one
    # (domain.md §8: 5 by default; local practice 5 to 15).
    verify_days: int = Field(default=2, ge=1, le=30, description="核实时限（工作日）: rated 不满意 → verified")
    rehandling_days: int = Field(default=5, ge=1, le=30, description="重办时限（工作日）: reopened → resolved again")
    # 回访 (issue 10, domain.md §8): a task the working day after a resolution, due within revisit_days working days;
    # always for a 不满意 rating and a need not met, for the other resolved demands a deterministic sample of this share
    # (0: none, the 12345 practice of re-visiting satisfied cases is the station's choice). A station may set its own.
    revisit_days: int = Field(
        default=2, ge=1, le=30, description="回访时限（工作日）: resolved or rated 不满意 → re-visited"
    )
    revisit_sample_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="抽样回访比例: share of the demands resolved with their need met",
    )
    # How often the scheduler looks for what is due (warnings, chases, escalations, overdue tasks), in seconds.
    scan_every_seconds: float = Field(default=300.0, gt=0)
    # The supervisors' KPI targets (GET /kpis, the gauge qs_kpi_target, the alert QsOnTimeRateBelowTarget), 0..1.
    target_on_time_rate: float = Field(default=0.9, ge=0, le=1, allow_inf_nan=False, description="按时办结率目标")
    target_response_rate: float = Field(default=0.95, ge=0, le=1, allow_inf_nan=False, description="响应率目标")
    # Every re-visit task that falls due is a call the station owes (100% for 不满意, domain.md §9).
    target_revisit_rate: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False, description="回访率目标")
