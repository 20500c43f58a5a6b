from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEV_STATUS_SECRET = "dev-only-status-link-secret-change-me"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8001
    database_url: str = "postgresql://postgres@127.0.0.1:5432/qs_intake"
    # Where enterprises open their status links and submit online (the public address of this service).
    public_url: str = "http://127.0.0.1:8001"
    status_link_secret: str = DEV_STATUS_SECRET
    status_link_days: int = Field(default=400, ge=1, le=3650)
    public_rate_limit: str = "10/minute"
    rate_limit_storage: str = "memory://"
    # The reference data intake owns (the station registry, the working-day corrections) is announced again
    # this often (and on start), so a service deployed after a change, or whose queue did not exist yet, catches up.
    registry_announce_minutes: float = Field(default=60, gt=0, le=24 * 60)
    # Complaints (投诉, services/intake/complaints): working days each stage may take after the stage before it (the
    # day of that stage not counted); and how many complaints one status link may file (besides public_rate_limit).
    complaint_acknowledge_days: int = Field(default=1, ge=1, le=60)
    complaint_investigate_days: int = Field(default=5, ge=1, le=60)
    complaint_resolve_days: int = Field(default=5, ge=1, le=60)
    complaint_answer_days: int = Field(default=2, ge=1, le=60)
    complaint_close_days: int = Field(default=5, ge=1, le=60)
    complaint_link_rate_limit: str = "20/day"

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Self:
        if self.environment == "production" and self.status_link_secret == DEV_STATUS_SECRET:
            raise ValueError("refusing to start in production with the development status-link secret")
        return self
