"""Admin REST API: transactional sends (`POST /api/v1/messages` with an Idempotency-Key), reading
messages with their events, and test sends of a template."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.messages.outbox import Message
from nurture.domain.messages.transactional import check_idempotency_key, check_send
from nurture.services.messages import MessageEvent, MessageService

router = APIRouter(prefix="/api/v1", tags=["messages"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _service(request: Request) -> MessageService:
    container: Container = request.app.state.container
    return container.messages


class SendBody(BaseModel):
    """A message for one contact, named by exactly one of id, email or user_id (an email that finds
    no contact creates one). `data` is what the template reads as `data.*` (e.g. a receipt's items)."""

    model_config = ConfigDict(extra="forbid")
    contact: dict[str, Any] = Field(examples=[{"email": "ann@example.com"}])
    template_id: str
    channel: str | None = Field(default=None, description="email or sms; default: the template's kind")
    topic: str | None = Field(default=None, description="the subscription topic a marketing send obeys")
    data: dict[str, Any] | None = None


class EventOut(BaseModel):
    kind: str
    occurred_at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, event: MessageEvent) -> EventOut:
        return cls(kind=event.kind, occurred_at=event.occurred_at, data=event.data)


class MessageOut(BaseModel):
    id: str
    contact_id: str | None
    channel: str
    category: str
    topic: str | None
    template_id: str | None
    template_version: int | None
    sender_id: str | None
    source: str
    journey_id: str | None
    node_id: str | None
    campaign_id: str | None
    to: str | None
    subject: str | None
    status: str
    reason: str | None
    detail: str | None
    attempts: int
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None
    provider_id: str | None
    events: list[EventOut] | None = None

    @classmethod
    def of(cls, m: Message, events: list[MessageEvent] | None = None) -> MessageOut:
        return cls(
            id=m.id,
            contact_id=m.contact_id or None,
            channel=m.channel,
            category=m.category,
            topic=m.topic,
            template_id=m.template_id,
            template_version=m.template_version,
            sender_id=m.sender_id,
            source=m.source,
            journey_id=m.journey_id,
            node_id=m.node_id,
            campaign_id=m.campaign_id,
            to=m.to_address,
            subject=m.subject,
            status=m.status,
            reason=m.reason,
            detail=m.detail,
            attempts=m.attempts,
            due_at=m.due_at,
            created_at=m.created_at,
            sent_at=m.sent_at,
            provider_id=m.provider_id,
            events=None if events is None else [EventOut.of(e) for e in events],
        )


class MessagePage(BaseModel):
    data: list[MessageOut]
    next_cursor: str | None


class TestSendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(description="the address (or E.164 phone number for SMS) to send to")
    contact_id: str | None = Field(default=None, description="render as for this contact")


@router.post(
    "/messages",
    response_model=MessageOut,
    status_code=202,
    summary="Send a transactional message",
    responses={200: {"description": "The message this Idempotency-Key made before"}},
)
async def send_message(
    request: Request,
    response: Response,
    workspace_id: Workspace,
    body: SendBody,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> MessageOut:
    """202 with the queued message. The same `Idempotency-Key` again answers 200 with the message it
    made (no second message); with a different body, 409."""
    key = check_idempotency_key(idempotency_key)
    checked = check_send(body.contact, body.template_id, body.channel, body.topic, body.data)
    sent = await run_in_threadpool(_service(request).send, workspace_id, key, checked)
    if not sent.created:
        response.status_code = 200
    return MessageOut.of(sent.message)


@router.get("/messages", response_model=MessagePage, summary="List messages")
async def list_messages(
    request: Request,
    workspace_id: Workspace,
    contact_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MessagePage:
    """Oldest first; pass `next_cursor` back as `cursor` for the next page."""
    page = await run_in_threadpool(
        lambda: _service(request).list(
            workspace_id, contact_id=contact_id, status=status, cursor=cursor, limit=limit
        )
    )
    return MessagePage(data=[MessageOut.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.get("/messages/{message_id}", response_model=MessageOut, summary="Get a message and its events")
async def get_message(request: Request, workspace_id: Workspace, message_id: str) -> MessageOut:
    message, events = await run_in_threadpool(_service(request).get, workspace_id, message_id)
    return MessageOut.of(message, events)


@router.post(
    "/templates/{template_id}/test-send",
    response_model=MessageOut,
    status_code=202,
    summary="Send a template to a test address",
)
async def test_send(
    request: Request, workspace_id: Workspace, template_id: str, body: TestSendBody
) -> MessageOut:
    """The current version, subject prefixed "[Test] ", rendered for `contact_id` when given; it is
    dispatched like any message (the suppression list applies) and counted in no metric."""
    message = await run_in_threadpool(
        _service(request).test_send, workspace_id, template_id, body.to, body.contact_id
    )
    return MessageOut.of(message)
