"""Configuration from `NURTURE_` environment variables (and an optional `.env` file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob an operator can turn; defaults give a working single-machine system under ./var/."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/nurture.db",
        description="SQLAlchemy URL: sqlite:///path/to/file.db or postgresql://user@host/db.",
    )
    host: str = Field(default="127.0.0.1", description="Address `nurture serve` listens on.")
    port: int = Field(default=8000, description="Port `nurture serve` listens on.")
    web_concurrency: int = Field(default=1, description="HTTP worker processes started by `nurture serve`.")
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_json: bool = Field(default=True, description="JSON log lines (structlog); false for console output.")
    key_cache_seconds: float = Field(
        default=5.0, description="How long an API key lookup is cached in a process (revocation delay)."
    )
    db_pool_size: int = Field(default=10, description="Database connections per process (PostgreSQL).")
    embedded_worker: bool = Field(
        default=True,
        description="Run the background worker (live segments) inside `nurture serve`; false when "
        "separate `nurture worker` processes do it.",
    )
    worker_poll_seconds: float = Field(
        default=0.15, description="How often an idle worker looks for queued changes and due timers."
    )
    soft_bounce_limit: int = Field(
        default=5, ge=1, description="Soft bounces within NURTURE_SOFT_BOUNCE_DAYS that suppress an address."
    )
    soft_bounce_days: int = Field(default=30, ge=1, description="The window soft bounces are counted in.")
    seed_example: bool = Field(
        default=True, description="Create the 'Example' workspace on first start of `nurture serve`."
    )

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None
