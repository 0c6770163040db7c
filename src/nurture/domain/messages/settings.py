"""What every message of a workspace obeys: the postal address marketing mail shows, the frequency cap,
quiet hours, retries, the dispatcher's lease, and what happens to a message whose send was never
confirmed. Stored as one checked document per workspace (`messaging_settings.data`).
"""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nurture.domain.conditions.parsing import field_errors
from nurture.domain.errors import Invalid
from nurture.domain.profile import normalize_timezone

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FrequencyCap(BaseModel):
    """At most `max_messages` marketing messages per contact in any `window_hours`, counted across every
    journey, campaign and API send. A message over the cap waits until a slot frees (`defer`) or is
    dropped (`skip`); either way its reason says `frequency_cap`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_messages: int = Field(ge=1, le=1000)
    window_hours: float = Field(gt=0, le=24 * 90)
    over_cap: Literal["defer", "skip"] = "defer"


class QuietHours(BaseModel):
    """No marketing message goes out between `start` and `end` in the contact's local time (a window
    may cross midnight, e.g. 21:00 to 08:00), nor on days not in `days`; such a message waits for the
    next allowed moment. Contacts without a time zone are treated as living in `fallback_timezone`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: time
    end: time
    days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1, description="days sending is allowed")
    fallback_timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a local time of day without an offset, e.g. 21:00")
        return value.replace(fold=0)  # a wall-clock time of day: which of a repeated hour is the day's

    @field_validator("days")
    @classmethod
    def _distinct(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        return tuple(day for day in WEEKDAYS if day in value)

    @field_validator("fallback_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return normalize_timezone(value)

    @model_validator(mode="after")
    def _window(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal; leave quiet_hours out to send at any time")
        return self


class RetryPolicy(BaseModel):
    """A message the provider asks to try again later (4xx, timeout) is retried after
    `backoff_seconds · 2^(attempt-1)`, at most `max_backoff_seconds`, and fails after `max_attempts`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_seconds: float = Field(default=60.0, ge=1, le=86_400)
    max_backoff_seconds: float = Field(default=3600.0, ge=1, le=7 * 86_400)


class MessagingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    postal_address: str | None = Field(
        default=None, max_length=500, description="shown in marketing footers (CAN-SPAM)"
    )
    timezone: str = Field(
        default="UTC",
        description="the workspace's time zone (IANA): journey schedules read in the `workspace` zone, "
        "and contacts without a zone in schedules read in each contact's zone",
    )
    frequency_cap: FrequencyCap | None = None
    quiet_hours: QuietHours | None = None
    retry: RetryPolicy = RetryPolicy()
    lease_seconds: int = Field(
        default=300, ge=30, le=86_400, description="how long a dispatcher holds a message it is sending"
    )
    resend_unknown_transactional: bool = Field(
        default=True,
        description="after a dispatcher died mid-send, send transactional messages again (same Message-ID); "
        "marketing messages are never resent and stay `unknown`",
    )
    opt_in_channels: tuple[Literal["email", "sms"], ...] = Field(
        default=("sms",), description="channels whose marketing needs an explicit subscribe"
    )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return normalize_timezone(value)

    @field_validator("postal_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None

    def document(self) -> dict[str, Any]:
        """The JSON document stored and returned by the API."""
        return self.model_dump(mode="json")


def parse_settings(data: Any) -> MessagingSettings:
    """A settings document as given (API body or stored JSON); `Invalid` names each bad field."""
    if not isinstance(data, dict):
        raise Invalid.one("body", "must be an object")
    try:
        return MessagingSettings.model_validate(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, data, "")) from None
