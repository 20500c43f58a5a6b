from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", extra="ignore")

    service_name: str = "archive"
    http_port: int = 8005
    database_url: str = "postgresql://postgres@127.0.0.1:5432/qs_archive"
