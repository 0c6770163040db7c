"""Configuration from `NURTURE_` environment variables (and an optional `.env` file)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from nurture.domain.messages.sms import SmsSettings, parse_sms_url
from nurture.domain.profile import normalize_phone

# Set by `nurture serve` when it starts several HTTP processes: the lock file whose holder runs the
# embedded workers (api/app.py); not an operator's setting.
EMBEDDED_LOCK = "NURTURE_EMBEDDED_WORKER_LOCK"


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
        description="Run the background worker (live segments, scores, message dispatch) inside "
        "`nurture serve`; false when "
        "separate `nurture worker` processes do it.",
    )
    worker_poll_seconds: float = Field(
        default=0.15, description="How often an idle worker looks for queued changes and due timers."
    )
    journey_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Due runs (and inbox items) one journey worker claims and steps per transaction.",
    )
    sms_url: str | None = Field(
        default=None,
        description="Default SMS provider for workspaces without their own: a Twilio-compatible API root "
        "with the account SID and auth token as credentials, https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com.",
    )
    sms_from: str | None = Field(
        default=None, description="Default sending number (E.164) for NURTURE_SMS_URL."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, description="How long a webhook or Slack delivery waits for the receiver's answer."
    )
    webhook_concurrency: int = Field(
        default=8, description="Webhook deliveries one worker process posts at the same time."
    )
    webhook_log_days: int = Field(
        default=30,
        ge=1,
        description="Days finished webhook and Slack deliveries (delivered, dead) stay in the delivery log.",
    )
    smtp_url: str | None = Field(
        default=None,
        description="Where mail goes when a sender names no SMTP server of its own: "
        "smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS). "
        "Unset: mail is captured (`nurture mail list`).",
    )
    public_url: str | None = Field(
        default=None,
        description="The address contacts reach this server at; tracking, unsubscribe and preference links "
        "start with it. Default: http://HOST:PORT of `nurture serve`.",
    )
    dispatch_poll_seconds: float = Field(
        default=0.5, description="How often an idle dispatcher looks for due messages (enqueues wake it)."
    )
    soft_bounce_limit: int = Field(
        default=5, ge=1, description="Soft bounces within NURTURE_SOFT_BOUNCE_DAYS that suppress an address."
    )
    soft_bounce_days: int = Field(default=30, ge=1, description="The window soft bounces are counted in.")
    seed_example: bool = Field(
        default=True, description="Create the 'Example' workspace on first start of `nurture serve`."
    )
    example_journeys: bool = Field(
        default=True,
        description="Load the shipped journeys (with their templates, segment and lead score) into the "
        "Example workspace when it is created.",
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

    def link_secret(self) -> str:
        """NURTURE_SECRET_KEY, else the key kept in `secret_key_file` (made on first use)."""
        return self.secret_key or persisted_secret(self.secret_key_file)

    def base_url(self) -> str:
        """Where nurture is reached from outside: `public_url`, or this server's own address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def sms_server(self) -> SmsSettings | None:
        """The server's default SMS provider (NURTURE_SMS_URL, NURTURE_SMS_FROM), or None."""
        if not self.sms_url:
            return None
        server = parse_sms_url(self.sms_url)
        return server.model_copy(
            update={"from_number": normalize_phone(self.sms_from)} if self.sms_from else {}
        )

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
