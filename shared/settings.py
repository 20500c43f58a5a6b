"""Settings every service shares; each service subclasses with its own env prefix.

Defaults point at PostgreSQL and RabbitMQ on localhost so a developer machine
needs no configuration (design rule 7).
"""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str
    environment: Literal["development", "production"] = "development"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # The service's own database; it is created on start when missing.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    db_pool_min: int = 1
    db_pool_max: int = 10
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Unacked deliveries per channel: bounds memory and spreads work over replicas.
    prefetch: int = Field(default=16, ge=1, le=1000)
    # Deliveries of one message before the quorum queue dead-letters it.
    delivery_limit: int = Field(default=5, ge=1, le=100)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    outbox_batch: int = Field(default=100, ge=1, le=10_000)
    dlq_check_seconds: float = Field(default=15.0, gt=0)
    log_level: str = "INFO"
    # json for machines (production); console for people watching `make run`
    log_format: Literal["json", "console"] = "json"
    # Committed time limit when a demand names none, in working days.
    default_time_limit_days: int = Field(default=10, ge=1, le=120)
