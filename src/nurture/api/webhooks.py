"""Admin REST API: outbound webhook endpoints, their delivery log, redelivery and test events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.webhooks.endpoints import Delivery, Endpoint, Format
from nurture.domain.webhooks.events import EVENT_TYPES

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where events are POSTed (http or https)")
    event_types: list[str] = Field(
        description='Types to receive: exact types, "contact.*", "message.*" or "*"'
    )
    description: str | None = None
    secret: str | None = Field(default=None, description="whsec_<base64>; made for you when left out")
    enabled: bool = True


class EndpointChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    secret: str | None = None
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str | None
    event_types: list[str]
    secret: str | None = Field(description="Signing secret (Standard Webhooks); not shown in listings")
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: Endpoint, *, with_secret: bool = True) -> EndpointOut:
        values = dict(endpoint.__dict__)
        if not with_secret:
            values["secret"] = None
        return cls(**values)


class EndpointList(BaseModel):
    data: list[EndpointOut]


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str | None
    target: str = Field(description="`endpoint`, or `slack` for an alert (its URL is a secret: host only)")
    url: str | None
    event_id: str = Field(description="The webhook-id header: the same on every attempt")
    event_type: str
    payload: dict[str, Any]
    status: str = Field(description="pending | failed (retry scheduled) | delivered | dead")
    attempts: int
    next_attempt_at: datetime | None
    retry_until: datetime
    last_attempt_at: datetime | None
    response_code: int | None
    response_body: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        values = {k: v for k, v in delivery.__dict__.items() if k not in ("workspace_id", "format")}
        slack = delivery.format is Format.SLACK
        if slack and delivery.url:
            parts = urlsplit(delivery.url)
            values["url"] = f"{parts.scheme}://{parts.netloc}/…"
        return cls(**values, target="slack" if slack else "endpoint")


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class EventTypes(BaseModel):
    data: list[str]


@router.get("/event-types", response_model=EventTypes, summary="Event types an endpoint can subscribe to")
async def event_types(workspace_id: Workspace) -> EventTypes:
    """`contact.*` are activities (segment entered/exited, stage changed, owner assigned, score
    threshold crossed, lists, tags, consent); `message.*` are message events (sent, delivered, opened,
    clicked, bounced, unsubscribed, complained)."""
    return EventTypes(data=list(EVENT_TYPES))


@router.get("/endpoints", response_model=EndpointList, summary="List webhook endpoints")
async def list_endpoints(request: Request, workspace_id: Workspace) -> EndpointList:
    found = await run_in_threadpool(_container(request).webhooks.list, workspace_id)
    return EndpointList(data=[EndpointOut.of(e, with_secret=False) for e in found])


@router.post("/endpoints", response_model=EndpointOut, status_code=201, summary="Create a webhook endpoint")
async def create_endpoint(request: Request, workspace_id: Workspace, body: EndpointBody) -> EndpointOut:
    """Events that happen from now on are signed with the endpoint's secret (Standard Webhooks:
    `webhook-id`, `webhook-timestamp`, `webhook-signature`) and POSTed as JSON; failures are retried
    with exponential backoff for 24 hours. An answer of 410 Gone disables the endpoint."""
    created = await run_in_threadpool(_container(request).webhooks.create, workspace_id, body.model_dump())
    return EndpointOut.of(created)


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut, summary="Get a webhook endpoint")
async def get_endpoint(request: Request, workspace_id: Workspace, endpoint_id: str) -> EndpointOut:
    return EndpointOut.of(
        await run_in_threadpool(_container(request).webhooks.get, workspace_id, endpoint_id)
    )


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut, summary="Change a webhook endpoint")
async def change_endpoint(
    request: Request, workspace_id: Workspace, endpoint_id: str, body: EndpointChange
) -> EndpointOut:
    """Disabling dead-letters the deliveries still waiting; enabling starts with events from now on."""
    changes = body.model_dump(exclude_unset=True)
    changed = await run_in_threadpool(_container(request).webhooks.change, workspace_id, endpoint_id, changes)
    return EndpointOut.of(changed)


@router.delete("/endpoints/{endpoint_id}", status_code=204, summary="Delete a webhook endpoint")
async def delete_endpoint(request: Request, workspace_id: Workspace, endpoint_id: str) -> Response:
    """Deletes the endpoint and its delivery log."""
    await run_in_threadpool(_container(request).webhooks.delete, workspace_id, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/test", response_model=DeliveryOut, status_code=202, summary="Send a test event"
)
async def test_endpoint(request: Request, workspace_id: Workspace, endpoint_id: str) -> DeliveryOut:
    """Queues a `webhook.test` event for this endpoint; watch its delivery in the log."""
    sent = await run_in_threadpool(_container(request).webhooks.send_test, workspace_id, endpoint_id)
    return DeliveryOut.of(sent)


@router.get(
    "/endpoints/{endpoint_id}/deliveries", response_model=DeliveryPage, summary="An endpoint's delivery log"
)
async def endpoint_deliveries(
    request: Request,
    workspace_id: Workspace,
    endpoint_id: str,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    """Newest first; `status` filters (pending, failed, delivered, dead)."""
    page = await run_in_threadpool(
        lambda: _container(request).webhooks.deliveries(
            workspace_id, endpoint_id, status=status, cursor=cursor, limit=limit
        )
    )
    return DeliveryPage(data=[DeliveryOut.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/deliveries", response_model=DeliveryPage, summary="Every delivery: webhooks and Slack alerts")
async def all_deliveries(
    request: Request,
    workspace_id: Workspace,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    page = await run_in_threadpool(
        lambda: _container(request).webhooks.deliveries(
            workspace_id, status=status, cursor=cursor, limit=limit
        )
    )
    return DeliveryPage(data=[DeliveryOut.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut, summary="One delivery")
async def get_delivery(request: Request, workspace_id: Workspace, delivery_id: str) -> DeliveryOut:
    found = await run_in_threadpool(_container(request).webhooks.delivery, workspace_id, delivery_id)
    return DeliveryOut.of(found)


@router.post(
    "/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, summary="Deliver a dead delivery again"
)
async def redeliver(request: Request, workspace_id: Workspace, delivery_id: str) -> DeliveryOut:
    """A dead (or delivered) delivery is queued again now, with 24 more hours of retries and the same
    `webhook-id`; one still pending or failing is refused (409)."""
    again = await run_in_threadpool(_container(request).webhooks.redeliver, workspace_id, delivery_id)
    return DeliveryOut.of(again)
