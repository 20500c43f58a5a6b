from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore")

    service_name: str = "tracking"
    http_port: int = 8003
    database_url: str = "postgresql://postgres@127.0.0.1:5432/qs_tracking"
