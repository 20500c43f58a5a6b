"""Settings every service shares; each service subclasses with its own env prefix.

Defaults point at PostgreSQL and RabbitMQ on localhost so a developer machine
needs no configuration (design rule 7).
"""

from typing import Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, IPvAnyNetwork, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import AUDIENCE, DEV_ISSUER, DEV_KEY


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str
    environment: Literal["development", "production"] = "development"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # The service's own database, as its owner: created on start when missing, migrated.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # What requests and handlers connect as: a role that neither owns the tables nor
    # bypasses row-level security. Default: the same server and database as role
    # qs_<service>_app without a password (created on start where the owner may).
    app_database_url: str | None = None
    db_pool_min: int = 1
    db_pool_max: int = 10
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Unacked deliveries per channel: bounds memory and spreads work over replicas.
    prefetch: int = Field(default=16, ge=1, le=1000)
    # Deliveries of one message before the quorum queue dead-letters it.
    delivery_limit: int = Field(default=5, ge=1, le=100)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    outbox_batch: int = Field(default=100, ge=1, le=10_000)
    # How long the relay waits for the broker to confirm one publish before counting it a failure
    # (failures back off exponentially, 1 s doubling to 30 s).
    outbox_publish_timeout_seconds: float = Field(default=10.0, gt=0)
    # Housekeeping, by one replica at a time: published outbox rows are deleted after this long
    # (unpublished rows never are) ...
    outbox_retention_days: float = Field(default=7.0, gt=0)
    # ... and inbox rows after this long. An inbox row is what turns a redelivered event into a
    # no-op: keep it far longer than any redelivery window (broker redeliveries, a relay
    # republishing after a crash, a DLQ replay days after a fix); a duplicate arriving after its
    # row is gone would be handled twice.
    inbox_retention_days: float = Field(default=30.0, ge=1)
    prune_every_minutes: float = Field(default=60.0, gt=0)
    dlq_check_seconds: float = Field(default=15.0, gt=0)
    # Scrapes this close to the last reading of the store's figures reuse it: the store is read at most this often.
    store_metrics_every_seconds: float = Field(default=5.0, ge=0)
    log_level: str = "INFO"
    # json for machines (production); console for people watching `make run`
    log_format: Literal["json", "console"] = "json"
    # Bearer tokens: HS256 with a local key in development; RS256 from an identity
    # provider's JWKS in production.
    auth_issuer: str = DEV_ISSUER
    auth_audience: str = AUDIENCE
    auth_signing_key: str = DEV_KEY
    auth_jwks_url: str | None = None
    # Tolerated difference between the identity provider's clock and ours (iat/nbf/exp), seconds.
    auth_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks); none by default,
    # so a client cannot choose the address the public rate limits count against.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_dev_key_in_production(self) -> Self:
        if self.environment == "production" and self.auth_jwks_url is None and self.auth_signing_key == DEV_KEY:
            raise ValueError(
                "refusing to start in production with the development signing key: "
                "set AUTH_JWKS_URL (RS256 identity provider) or a secret AUTH_SIGNING_KEY"
            )
        return self

    @property
    def app_role(self) -> str:
        return urlsplit(self.resolved_app_database_url).username or f"qs_{self.service_name}_app"

    @property
    def resolved_app_database_url(self) -> str:
        if self.app_database_url:
            return self.app_database_url
        parts = urlsplit(self.database_url)
        host = parts.hostname or "127.0.0.1"
        netloc = f"qs_{self.service_name}_app@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
