"""Configuration from `NURTURE_` environment variables (and an optional `.env` file)."""

from __future__ import annotations

import os
import secrets
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
    seed_example: bool = Field(
        default=True, description="Create the 'Example' workspace on first start of `nurture serve`."
    )

    secret_key: str | None = Field(
        default=None,
        description="Signs the links in messages (tracking, unsubscribe, preferences, confirmation). "
        "Unset: a random key is made on first start and kept in NURTURE_SECRET_KEY_FILE. Set the same "
        "value on every machine when more than one serves links.",
    )
    secret_key_file: Path = Field(
        default=Path("var/secret_key"), description="Where the generated secret key is kept."
    )
    public_url: str | None = Field(
        default=None,
        description="Where recipients reach this server (https://mail.example.com): the start of every "
        "tracking, unsubscribe and preference link. Unset: http://HOST:PORT.",
    )

    def link_secret(self) -> str:
        """NURTURE_SECRET_KEY, else the key kept in `secret_key_file` (made on first use)."""
        return self.secret_key or persisted_secret(self.secret_key_file)

    def link_base(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None


def persisted_secret(path: Path) -> str:
    """The secret kept at `path`, made (256 random bits, file mode 0600) when there is none. Several
    processes starting at once agree: the file appears whole, by a hard link that only the first wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(f"{path} is empty: delete it to have a new key made, or set NURTURE_SECRET_KEY")
    return secret
