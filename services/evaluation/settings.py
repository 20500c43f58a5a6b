from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


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
