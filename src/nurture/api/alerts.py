"""Admin REST API: send an internal alert to Slack incoming webhooks and email addresses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
Workspace = Annotated[str, Depends(secret_workspace)]


class AlertBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="One line, at most 150 characters")
    text: str | None = None
    contact_id: str | None = Field(default=None, description="The contact the alert is about")
    link: str | None = None
    fields: dict[str, JsonValue] | None = Field(
        default=None, description='e.g. {"Score": 72, "Stage": "mql"}'
    )
    slack_webhook_urls: list[str] | None = None
    emails: list[str] | None = None


class AlertOut(BaseModel):
    id: str
    deliveries: list[str] = Field(description="Slack deliveries, in the webhook delivery log")
    messages: list[str] = Field(description="Email alerts, in the outbox")


@router.post("", response_model=AlertOut, status_code=202, summary="Send an internal alert")
async def send_alert(request: Request, workspace_id: Workspace, body: AlertBody) -> AlertOut:
    """Queued now, delivered by the worker: Slack alerts are retried like webhooks; email alerts need
    the contact they are about (`contact_id`)."""
    container: Container = request.app.state.container
    sent = await run_in_threadpool(container.alerts.send, workspace_id, body.model_dump())
    return AlertOut(id=sent.id, deliveries=sent.deliveries, messages=sent.messages)
