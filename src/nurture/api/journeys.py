"""Admin REST API: journeys (apply a document, read, pause, resume, archive, enrol) and a contact's
journeys with the reason at every step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.errors import Invalid
from nurture.domain.journeys.durations import parse_duration
from nurture.domain.journeys.parsing import journey_schema
from nurture.domain.journeys.records import StoredJourney
from nurture.services.journeys.explain import RunExplained
from nurture.services.journeys.simulation import (
    result_json,
    simulate_history,
    simulate_stream,
    workspace_settings,
)

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])
contact_router = APIRouter(prefix="/api/v1/contacts", tags=["journeys"])
Workspace = Annotated[str, Depends(secret_workspace)]
Document = Annotated[Any, Body(description="A journey document (see GET /api/v1/journeys/schema)")]


class JourneyOut(BaseModel):
    id: str
    name: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: StoredJourney) -> JourneyOut:
        return cls(**row.__dict__)


class AppliedOut(BaseModel):
    journey: JourneyOut
    created: bool
    published: bool = Field(description="False when the document equals the current version")


class JourneyDetailOut(JourneyOut):
    document: dict[str, Any]
    versions: list[dict[str, Any]]
    runs: dict[str, int]


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Any = Field(description="active, paused or archived")


class EnrollBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_ids: list[str] = Field(min_length=1, max_length=10_000)


class EnrollOut(BaseModel):
    queued: int


class TraceLineOut(BaseModel):
    at: datetime
    node: str | None
    action: str
    reason: str
    data: dict[str, Any]


class RunOut(BaseModel):
    run_id: str
    journey_id: str
    journey: str
    version: int
    status: str
    node: str | None
    wake_at: datetime | None
    entered_at: datetime
    ended_at: datetime | None
    converted_at: datetime | None
    reason: str | None
    correlation: str | None
    trace: list[TraceLineOut]

    @classmethod
    def of(cls, run: RunExplained) -> RunOut:
        data = dict(run.__dict__)
        data["trace"] = [TraceLineOut(**line.__dict__) for line in run.trace]
        return cls(**data)


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("", response_model=list[JourneyOut], summary="List journeys")
async def list_journeys(request: Request, workspace_id: Workspace) -> list[JourneyOut]:
    rows = await run_in_threadpool(_container(request).journeys.list, workspace_id)
    return [JourneyOut.of(row) for row in rows]


@router.post("", response_model=AppliedOut, summary="Create a journey or publish a new version")
async def apply_journey(
    request: Request, response: Response, workspace_id: Workspace, document: Document
) -> AppliedOut:
    """Matched by `name`: a new name creates the journey, a known one publishes a new version when the
    document changed. Runs in flight stay on the version they started on."""
    applied = await run_in_threadpool(_container(request).journeys.apply, workspace_id, document)
    response.status_code = 201 if applied.created else 200
    return AppliedOut(
        journey=JourneyOut.of(applied.journey), created=applied.created, published=applied.published
    )


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Any = Field(description="The journey document")
    migrate: dict[str, str] = Field(
        default_factory=dict,
        description="Old node id → new node id: waiting runs there move to the new version",
    )


class MoveOut(BaseModel):
    version: int
    node: str | None
    runs: int
    to: str | None = Field(
        description="The node of the new version they move to; null: they stay on their version"
    )


class ValidOut(BaseModel):
    valid: bool
    nodes: int


@router.post("/preview", response_model=list[MoveOut], summary="What publishing would do to live runs")
async def preview_journey(request: Request, workspace_id: Workspace, body: PublishBody) -> list[MoveOut]:
    """Per version and node, how many live runs there are and where `migrate` would move them."""
    moves = await run_in_threadpool(
        _container(request).journeys.preview, workspace_id, body.document, body.migrate
    )
    return [MoveOut(**m.__dict__) for m in moves]


@router.post("/publish", response_model=AppliedOut, summary="Publish, moving waiting runs by a node map")
async def publish_journey(
    request: Request, response: Response, workspace_id: Workspace, body: PublishBody
) -> AppliedOut:
    applied = await run_in_threadpool(
        _container(request).journeys.apply, workspace_id, body.document, body.migrate
    )
    response.status_code = 201 if applied.created else 200
    return AppliedOut(
        journey=JourneyOut.of(applied.journey), created=applied.created, published=applied.published
    )


@router.post("/validate", response_model=ValidOut, summary="Check a journey document without saving it")
async def validate_journey(request: Request, workspace_id: Workspace, document: Document) -> ValidOut:
    """The same checks as creating it (structure, graph, what it refers to); errors are 422 problems
    naming the node and field."""
    journey = await run_in_threadpool(_container(request).journeys.validate, workspace_id, document)
    return ValidOut(valid=True, nodes=len(journey.nodes))


@router.get("/schema", summary="JSON Schema of journey documents")
async def journey_json_schema(workspace_id: Workspace) -> dict[str, Any]:
    return journey_schema()


@router.get(
    "/{journey}", response_model=JourneyDetailOut, summary="A journey, its current document and run counts"
)
async def get_journey(request: Request, workspace_id: Workspace, journey: str) -> JourneyDetailOut:
    detail = await run_in_threadpool(_container(request).journeys.get, workspace_id, journey)
    return JourneyDetailOut(
        **JourneyOut.of(detail.journey).model_dump(),
        document=detail.document,
        versions=[{"version": v, "created_at": at} for v, at in detail.versions],
        runs=detail.runs,
    )


class MessageCountsOut(BaseModel):
    sent: int
    delivered: int
    bounced: int
    opened: int = Field(description="unique human opens")
    clicked: int = Field(description="messages with at least one click")
    unsubscribed: int
    complained: int


class NodeFiguresOut(BaseModel):
    node: str
    type: str | None = Field(description="null: a node only earlier versions have")
    reached: int = Field(description="runs that took a step at the node")
    waiting: int = Field(description="live runs there now")
    completed: int = Field(description="runs that went on past the node (or completed their path there)")
    exited: int = Field(description="runs that ended there by an exit node, criterion, goal or unsubscribe")
    failed: int
    converted: int = Field(description="runs that reached the node and then the goal")
    messages: MessageCountsOut | None = Field(description="send nodes: what became of their messages")


class AnalyticsOut(BaseModel):
    journey: JourneyOut
    entered: int
    runs: dict[str, int] = Field(description="runs per status")
    converted: int = Field(description="runs that reached the goal within its window")
    nodes: list[NodeFiguresOut]


@router.get("/{journey}/analytics", response_model=AnalyticsOut, summary="Per journey and node figures")
async def journey_analytics(request: Request, workspace_id: Workspace, journey: str) -> AnalyticsOut:
    """Entered, waiting now, completed, exited, failed and converted, per journey and per node (every
    version), and the message outcomes of each send node."""
    found = await run_in_threadpool(_container(request).journeys.analytics, workspace_id, journey)
    return AnalyticsOut(
        journey=JourneyOut.of(found.journey),
        entered=found.entered,
        runs=found.runs,
        converted=found.converted,
        nodes=[
            NodeFiguresOut(
                **{k: v for k, v in n.__dict__.items() if k != "messages"},
                messages=MessageCountsOut(**n.messages.__dict__) if n.messages else None,
            )
            for n in found.nodes
        ],
    )


class SimulateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Any = Field(description="The draft journey document")
    events: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=100_000,
        description="Segment-format calls (identify, track, …), each with its `timestamp`",
    )
    since: datetime | None = Field(default=None, description="Replay the workspace's stored events since")
    horizon: str = Field(default="30d", description="How long to run past the last event")
    policies: bool = Field(
        default=True, description="Apply the workspace's consent rules, frequency cap and quiet hours"
    )


@router.post("/simulate", summary="Run a draft on a virtual clock, with no side effects")
async def simulate_journey(request: Request, workspace_id: Workspace, body: SimulateBody) -> dict[str, Any]:
    """On the given event stream or on the workspace's stored history since `since` (exactly one):
    per contact the steps and the messages that would go out and when (channel, template); for the
    population the funnel per node, messages per contact and the sends stopped by frequency caps or
    quiet hours. Nothing is written. The same JSON as `nurture simulate --json`."""
    db = _container(request).db
    if (body.events is None) == (body.since is None):
        raise Invalid.one("events", "give either events or since")
    try:
        span = parse_duration(body.horizon)
    except ValueError as exc:
        raise Invalid.one("horizon", str(exc)) from None
    if body.events is not None:
        settings = await run_in_threadpool(workspace_settings, db, workspace_id) if body.policies else None
        lines = [orjson.dumps(call) for call in body.events]
        result = await run_in_threadpool(simulate_stream, body.document, lines, span, settings, _event_index)
    else:
        assert body.since is not None
        since = body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC)
        result = await run_in_threadpool(simulate_history, db, workspace_id, body.document, since, span)
    return result_json(result)


def _event_index(number: int) -> str:
    return f"events[{number - 1}]"


@router.post("/{journey}/status", response_model=JourneyOut, summary="Pause, resume or archive")
async def set_journey_status(
    request: Request, workspace_id: Workspace, journey: str, body: StatusBody
) -> JourneyOut:
    """Paused: no new entries, runs hold where they are, timers due meanwhile fire on resume.
    Archived: live runs exit, for good."""
    row = await run_in_threadpool(_container(request).journeys.set_status, workspace_id, journey, body.status)
    return JourneyOut.of(row)


@router.post("/{journey}/enrollments", response_model=EnrollOut, status_code=202, summary="Enrol contacts")
async def enroll(request: Request, workspace_id: Workspace, journey: str, body: EnrollBody) -> EnrollOut:
    """Entry condition and re-entry policy apply as for any trigger; runs start within moments."""
    queued = await run_in_threadpool(
        _container(request).journeys.enroll, workspace_id, journey, body.contact_ids
    )
    return EnrollOut(queued=queued)


@contact_router.get(
    "/{contact_id}/journeys", response_model=list[RunOut], summary="A contact's journeys, explained"
)
async def contact_journeys(
    request: Request, workspace_id: Workspace, contact_id: str, journey: str | None = None
) -> list[RunOut]:
    """Every run of the contact with its path and the reason at each decision."""
    runs = await run_in_threadpool(_container(request).journeys.explain, workspace_id, contact_id, journey)
    return [RunOut.of(run) for run in runs]
