"""Admin REST API: messaging settings (postal address, frequency cap, quiet hours, retries), senders,
and messaging metrics per template, journey node or campaign."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.messages.senders import Sender, masked_url
from nurture.domain.messages.settings import MessagingSettings
from nurture.services.message_metrics import Counts

router = APIRouter(prefix="/api/v1", tags=["messaging"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


# settings


@router.get("/messaging/settings", response_model=MessagingSettings, summary="Get messaging settings")
async def get_settings(request: Request, workspace_id: Workspace) -> MessagingSettings:
    return await run_in_threadpool(_container(request).messaging.get, workspace_id)


@router.put("/messaging/settings", response_model=MessagingSettings, summary="Replace messaging settings")
async def put_settings(
    request: Request,
    workspace_id: Workspace,
    body: Annotated[dict[str, Any], Body(examples=[{"postal_address": "Acme Inc., 1 Main St, Springfield"}])],
) -> MessagingSettings:
    """The whole document; fields left out take their defaults. Frequency cap and quiet hours apply to
    marketing messages only."""
    return await run_in_threadpool(_container(request).messaging.replace, workspace_id, body)


# senders


class SenderBody(BaseModel):
    """`smtp_url` left out: the server's NURTURE_SMTP_URL (or capture). Given back with the masked
    password (`****`), the stored password is kept. `dkim_key` (PEM) left out keeps the stored key."""

    model_config = ConfigDict(extra="forbid")
    name: str
    from_name: str
    from_email: str
    reply_to: str | None = None
    smtp_url: str | None = None
    rate_per_second: float | None = Field(default=None, description="messages per second; null: no limit")
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_key: str | None = None
    is_default: bool = False


class SenderOut(BaseModel):
    id: str
    name: str
    from_name: str
    from_email: str
    reply_to: str | None
    smtp_url: str | None = Field(description="with the password masked")
    rate_per_second: float | None
    dkim_domain: str | None
    dkim_selector: str | None
    dkim_key_set: bool
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Sender) -> SenderOut:
        return cls(
            id=s.id,
            name=s.name,
            from_name=s.from_name,
            from_email=s.from_email,
            reply_to=s.reply_to,
            smtp_url=masked_url(s.smtp_url),
            rate_per_second=s.rate_per_second,
            dkim_domain=s.dkim_domain,
            dkim_selector=s.dkim_selector,
            dkim_key_set=s.dkim_key is not None,
            is_default=s.is_default,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


@router.get("/senders", response_model=list[SenderOut], summary="List senders")
async def list_senders(request: Request, workspace_id: Workspace) -> list[SenderOut]:
    return [SenderOut.of(s) for s in await run_in_threadpool(_container(request).senders.list, workspace_id)]


@router.post("/senders", response_model=SenderOut, status_code=201, summary="Create a sender")
async def create_sender(request: Request, workspace_id: Workspace, body: SenderBody) -> SenderOut:
    """The first sender of a workspace is its default."""
    data = body.model_dump(exclude_unset=True)
    return SenderOut.of(await run_in_threadpool(_container(request).senders.create, workspace_id, data))


@router.get("/senders/{sender_id}", response_model=SenderOut, summary="Get a sender")
async def get_sender(request: Request, workspace_id: Workspace, sender_id: str) -> SenderOut:
    return SenderOut.of(await run_in_threadpool(_container(request).senders.get, workspace_id, sender_id))


@router.put("/senders/{sender_id}", response_model=SenderOut, summary="Replace a sender")
async def replace_sender(
    request: Request, workspace_id: Workspace, sender_id: str, body: SenderBody
) -> SenderOut:
    data = body.model_dump(exclude_unset=True)
    saved = await run_in_threadpool(_container(request).senders.replace, workspace_id, sender_id, data)
    return SenderOut.of(saved)


@router.delete("/senders/{sender_id}", status_code=204, summary="Delete a sender")
async def delete_sender(request: Request, workspace_id: Workspace, sender_id: str) -> Response:
    """409 for the default sender while others exist (make another the default first)."""
    await run_in_threadpool(_container(request).senders.delete, workspace_id, sender_id)
    return Response(status_code=204)


# metrics


class CountsOut(BaseModel):
    sent: int
    delivered: int
    bounced: int
    opened: int = Field(description="unique human opens: messages opened at least once by a person")
    clicked: int = Field(description="unique clicks: messages with at least one click")
    unsubscribed: int
    complained: int

    @classmethod
    def of(cls, counts: Counts) -> CountsOut:
        return cls(**counts.__dict__)


class TemplateCountsOut(CountsOut):
    template_id: str | None


@router.get("/messaging/metrics", response_model=CountsOut, summary="Messaging metrics")
async def metrics(
    request: Request,
    workspace_id: Workspace,
    template_id: str | None = None,
    journey_id: str | None = None,
    node_id: str | None = None,
    campaign_id: str | None = None,
) -> CountsOut:
    """Distinct messages per outcome, for the messages matching every filter given (none: the whole
    workspace). Test sends are not counted."""
    counts = await run_in_threadpool(
        lambda: _container(request).metrics.counts(
            workspace_id,
            template_id=template_id,
            journey_id=journey_id,
            node_id=node_id,
            campaign_id=campaign_id,
        )
    )
    return CountsOut.of(counts)


@router.get(
    "/messaging/metrics/templates", response_model=list[TemplateCountsOut], summary="Metrics per template"
)
async def metrics_by_template(request: Request, workspace_id: Workspace) -> list[TemplateCountsOut]:
    rows = await run_in_threadpool(_container(request).metrics.by_template, workspace_id)
    return [TemplateCountsOut(template_id=r.template_id, **r.counts.__dict__) for r in rows]
