"""Admin REST API: subscribing a contact with consent (double opt-in aware), and its consent ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.schemas import ConsentOut
from nurture.bootstrap import Container
from nurture.domain.messages.consent import Proof

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class SubscribeBody(BaseModel):
    """What a signup form's backend knows: the topic, and the person's consent as given."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(default="email", max_length=32)
    topic: str | None = Field(default=None, max_length=200, description="null: the channel as a whole")
    source: str = Field(default="form", max_length=64, description="where the consent was given, e.g. form")
    consent_text: str | None = Field(
        default=None, max_length=10_000, description="the words the person agreed to, as shown"
    )
    ip: str | None = Field(default=None, max_length=45, description="the person's IP address")
    user_agent: str | None = Field(default=None, max_length=512, description="the person's browser")


class SubscribedOut(BaseModel):
    channel: str
    topic: str | None
    status: str = Field(description="subscribed, or pending until the confirmation email is clicked")
    confirmation_message_id: str | None = Field(description="the queued confirmation's send id")
    all_unsubscribed: bool = Field(
        description="the contact unsubscribed from all of the channel: nothing arrives until they "
        "subscribe again themselves (preference page or a confirmation link)"
    )


class ConsentPage(BaseModel):
    data: list[ConsentOut]
    next_cursor: str | None


@router.post(
    "/{contact_id}/subscriptions",
    response_model=SubscribedOut,
    status_code=200,
    summary="Subscribe a contact (double opt-in aware)",
)
async def subscribe(
    request: Request, workspace_id: Workspace, contact_id: str, body: SubscribeBody
) -> SubscribedOut:
    """A double opt-in topic becomes `pending` and a confirmation email is queued; any other topic is
    subscribed at once. The consent (text, IP, user agent) goes to the contact's ledger."""
    proof = Proof(body.ip, body.user_agent, body.consent_text)
    done = await run_in_threadpool(
        _container(request).double_opt_in.subscribe,
        workspace_id,
        contact_id,
        body.channel,
        body.topic,
        body.source,
        proof,
    )
    return SubscribedOut(
        channel=body.channel,
        topic=body.topic or None,
        status=done.status.value,
        confirmation_message_id=done.confirmation_id,
        all_unsubscribed=done.all_unsubscribed,
    )


@router.get("/{contact_id}/consents", response_model=ConsentPage, summary="A contact's consent ledger")
async def consents(
    request: Request,
    workspace_id: Workspace,
    contact_id: str,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConsentPage:
    """Every consent change made through forms, confirmations, unsubscribes and the preference page,
    oldest first."""
    page = await run_in_threadpool(
        lambda: _container(request).consents.of_contact(workspace_id, contact_id, after=after, limit=limit)
    )
    return ConsentPage(data=[ConsentOut.of(r) for r in page.items], next_cursor=page.next_cursor)
