"""The exports' settings: those the archive's settings object was given (ARCHIVE_… at start), else the environment as
it is now, else the defaults. A test can pass them to `ExportSettings.of(settings, **overrides)`.
"""

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", extra="ignore")

    # Books of at most this many dossiers are answered in the request; larger ones are a job (POST /jobs).
    book_sync_limit: int = Field(default=30, ge=0, le=10_000)
    # How often each replica looks for a queued job (and for files past their expiry).
    jobs_poll_seconds: float = Field(default=2.0, gt=0)
    # A running job's heartbeat older than this means its replica stopped: another claims it again.
    jobs_lease_seconds: float = Field(default=60.0, ge=5)
    # A job that failed this many times is marked failed and left alone.
    jobs_max_attempts: int = Field(default=3, ge=1, le=20)
    # How long a finished job's file can be downloaded.
    jobs_file_ttl_hours: float = Field(default=72.0, gt=0)
    # Where job files are written; unset: in the database (export_jobs.file_bytes).
    jobs_file_dir: Path | None = None
    # How often each replica checks that last week's reports exist (once made, a check reads one row per station).
    weekly_report_check_seconds: float = Field(default=900.0, gt=0)

    @classmethod
    def of(cls, settings: Any, **overrides: Any) -> "ExportSettings":
        """These settings as the service's settings object was given them, else the environment."""
        given = getattr(settings, "model_fields_set", set())
        fields = {name: getattr(settings, name) for name in cls.model_fields if name in given}
        return cls(**(fields | overrides))
