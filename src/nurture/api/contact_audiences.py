"""Admin REST API: a contact's tags, lists, subscriptions and activities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.schemas import ActivityOut, ActivityPage, SubscriptionOut
from nurture.bootstrap import Container

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class ContactListOut(BaseModel):
    id: str
    name: str
    added_at: datetime


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(max_length=32, description="email, sms, push or whatsapp")
    topic: str | None = Field(default=None, max_length=200, description="null: the channel as a whole")
    status: str = Field(max_length=16, description="subscribed, unsubscribed or pending")
    source: str = Field(default="api", max_length=64, description="where the consent came from, e.g. form")


@router.put("/{contact_id}/tags/{tag}", response_model=list[str], summary="Tag a contact")
async def add_tag(request: Request, workspace_id: Workspace, contact_id: str, tag: str) -> list[str]:
    """Adds the tag (exact, case-sensitive; a tag the contact has changes nothing); returns its tags."""
    return await run_in_threadpool(_container(request).tags.add, workspace_id, contact_id, tag)


@router.delete("/{contact_id}/tags/{tag}", response_model=list[str], summary="Untag a contact")
async def remove_tag(request: Request, workspace_id: Workspace, contact_id: str, tag: str) -> list[str]:
    """Removes the tag (a tag the contact lacks changes nothing); returns its tags."""
    return await run_in_threadpool(_container(request).tags.remove, workspace_id, contact_id, tag)


@router.get("/{contact_id}/lists", response_model=list[ContactListOut], summary="The lists a contact is on")
async def contact_lists(request: Request, workspace_id: Workspace, contact_id: str) -> list[ContactListOut]:
    found = await run_in_threadpool(_container(request).lists.lists_of, workspace_id, contact_id)
    return [ContactListOut(id=item.id, name=item.name, added_at=at) for item, at in found]


@router.get(
    "/{contact_id}/subscriptions", response_model=list[SubscriptionOut], summary="A contact's subscriptions"
)
async def contact_subscriptions(
    request: Request, workspace_id: Workspace, contact_id: str
) -> list[SubscriptionOut]:
    """One entry per channel and topic with a status; a channel or topic missing here has none."""
    found = await run_in_threadpool(_container(request).subscriptions.of_contact, workspace_id, contact_id)
    return [SubscriptionOut.of(s) for s in found]


@router.put(
    "/{contact_id}/subscriptions", response_model=SubscriptionOut, summary="Set a subscription status"
)
async def set_subscription(
    request: Request, workspace_id: Workspace, contact_id: str, body: SubscriptionBody
) -> SubscriptionOut:
    """Sets the status for one channel and topic, with its source; recorded as an activity."""
    found = await run_in_threadpool(
        _container(request).subscriptions.set,
        workspace_id,
        contact_id,
        body.channel,
        body.topic,
        body.status,
        body.source,
    )
    return SubscriptionOut.of(found)


@router.get("/{contact_id}/activities", response_model=ActivityPage, summary="A contact's activities")
async def contact_activities(
    request: Request,
    workspace_id: Workspace,
    contact_id: str,
    after: str | None = None,
    kind: Annotated[list[str], Query(description="only these kinds; repeatable or comma-separated")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ActivityPage:
    page = await run_in_threadpool(
        lambda: _container(request).activities.of_contact(
            workspace_id, contact_id, after=after, kinds=kind, limit=limit
        )
    )
    return ActivityPage(data=[ActivityOut.of(a) for a in page.items], next_cursor=page.next_cursor)
