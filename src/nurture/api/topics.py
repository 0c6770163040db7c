"""Admin REST API: subscription topics per channel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.messages.topics import Topic
from nurture.services.topics import TopicService

router = APIRouter(prefix="/api/v1/topics", tags=["topics"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _service(request: Request) -> TopicService:
    container: Container = request.app.state.container
    return container.topics


class TopicFieldsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(max_length=200, description="what contacts see, e.g. Monthly newsletter")
    description: str | None = Field(default=None, max_length=2000)
    default_status: str = Field(
        default="unsubscribed",
        description="for contacts who never chose: subscribed (opt-out) or unsubscribed (opt-in)",
    )
    double_opt_in: bool = Field(default=False, description="joining waits for a confirmation email's click")

    def values(self) -> dict[str, object]:
        return self.model_dump()


class TopicBody(TopicFieldsBody):
    channel: str = Field(max_length=32, description="email, sms, push or whatsapp")
    name: str = Field(max_length=200, description="letters, digits, _ . : - (the `topic` of messages)")


class TopicOut(BaseModel):
    channel: str
    name: str
    label: str
    description: str | None
    default_status: str
    double_opt_in: bool
    created_at: datetime

    @classmethod
    def of(cls, t: Topic) -> TopicOut:
        return cls(
            channel=t.channel,
            name=t.name,
            label=t.label,
            description=t.description,
            default_status=t.default_status.value,
            double_opt_in=t.double_opt_in,
            created_at=t.created_at,
        )


@router.get("", response_model=list[TopicOut], summary="List topics")
async def list_topics(
    request: Request, workspace_id: Workspace, channel: str | None = None
) -> list[TopicOut]:
    found = await run_in_threadpool(_service(request).list, workspace_id, channel)
    return [TopicOut.of(t) for t in found]


@router.post("", response_model=TopicOut, status_code=201, summary="Create a topic")
async def create_topic(request: Request, workspace_id: Workspace, body: TopicBody) -> TopicOut:
    values = body.values()
    channel, name = values.pop("channel"), values.pop("name")
    return TopicOut.of(await run_in_threadpool(_service(request).create, workspace_id, channel, name, values))


@router.get("/{channel}/{name}", response_model=TopicOut, summary="A topic")
async def get_topic(request: Request, workspace_id: Workspace, channel: str, name: str) -> TopicOut:
    return TopicOut.of(await run_in_threadpool(_service(request).get, workspace_id, channel, name))


@router.put("/{channel}/{name}", response_model=TopicOut, summary="Change a topic")
async def change_topic(
    request: Request, workspace_id: Workspace, channel: str, name: str, body: TopicFieldsBody
) -> TopicOut:
    """Label, description, default and double opt-in; the channel and name identify it and stay."""
    changed = await run_in_threadpool(_service(request).change, workspace_id, channel, name, body.values())
    return TopicOut.of(changed)


@router.delete("/{channel}/{name}", status_code=204, summary="Delete a topic")
async def delete_topic(request: Request, workspace_id: Workspace, channel: str, name: str) -> Response:
    """Contacts' statuses for it stay (a topic made again under the name finds them)."""
    await run_in_threadpool(_service(request).delete, workspace_id, channel, name)
    return Response(status_code=204)
