"""The console's settings (env prefix CONSOLE_): where the five services answer, the session, the sign-in.

The console owns no business data and no database: it keeps only the signed-in person's session, in an encrypted
cookie. Defaults run on a developer machine with no configuration, beside `make run`'s services on 8001–8005.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import AnyHttpUrl, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import AUDIENCE, DEV_ISSUER, DEV_KEY

DEV_SESSION_SECRET = "dev-only-console-session-secret-change-me"
SERVICES = ("intake", "dispatch", "tracking", "evaluation", "archive")
# Front-end libraries installed from package-lock.json (`make node_modules`), served by the console itself.
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    service_name: str = "console"
    environment: Literal["development", "production"] = "development"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # The five services' HTTP APIs, called with the signed-in person's token.
    intake_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    dispatch_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    tracking_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    evaluation_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8004")
    archive_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8005")
    service_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    # Encrypts and authenticates the session cookie (Fernet, keyed from this secret).
    session_secret: str = DEV_SESSION_SECRET
    # A signed-in person who does nothing for this long is signed out (the next page asks to sign in again).
    idle_timeout_minutes: float = Field(default=30, gt=0, le=24 * 60)
    # Development sign-in: the console mints tokens the services accept (the services' development key).
    auth_issuer: str = DEV_ISSUER
    auth_audience: str = AUDIENCE
    auth_signing_key: str = DEV_KEY
    dev_token_hours: float = Field(default=12, gt=0, le=24)
    # Production sign-in: OpenID Connect, authorization code with PKCE, at this issuer. The access token it grants
    # must be one the services accept (their AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL) with the role claims.
    oidc_issuer: AnyHttpUrl | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid profile"
    # The console's own address as people open it: the OIDC redirect (…/signin/callback) is built from it.
    public_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    node_modules: Path = NODE_MODULES

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def oidc_configured(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Self:
        if self.production and self.session_secret == DEV_SESSION_SECRET:
            raise ValueError("refusing to start in production with the development session secret")
        if self.production and len(self.session_secret) < 32:
            raise ValueError("CONSOLE_SESSION_SECRET must hold at least 32 characters in production")
        return self
