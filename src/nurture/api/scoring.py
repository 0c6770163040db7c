"""Admin REST API: scoring models, a contact's scores and score history, manual points, and the
workspace's lifecycle stages (which scoring thresholds move contacts along)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.scoring import scoring_model_schema
from nurture.services.scoring_models import ContactScore, Model

router = APIRouter(tags=["scoring"])
Workspace = Annotated[str, Depends(secret_workspace)]
Document = Annotated[
    dict[str, Any],
    Body(
        description="A scoring model: name, rules, decay, thresholds (schema: /api/v1/scoring-models/schema)"
    ),
]
MODELS = "/api/v1/scoring-models"
SCORES = "/api/v1/contacts/{contact_id}/scores"


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class ModelOut(BaseModel):
    id: str
    name: str
    description: str | None
    rules: list[dict[str, Any]]
    decay: dict[str, Any]
    thresholds: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: Model) -> ModelOut:
        return cls(
            id=m.id, created_at=m.created_at, updated_at=m.updated_at, **m.model.model_dump(mode="json")
        )


class ModelPage(BaseModel):
    data: list[ModelOut]
    next_cursor: str | None


class RuleOut(BaseModel):
    rule_id: str
    times_applied: int
    points: float = Field(description="What the rule's changes are worth now, after decay")
    last_applied_at: datetime


class ScoreOut(BaseModel):
    model_id: str
    model_name: str
    score: float = Field(description="The current score (2 decimals); 0 when never scored")
    updated_at: datetime | None
    rules: list[RuleOut]

    @classmethod
    def of(cls, s: ContactScore) -> ScoreOut:
        return cls(
            model_id=s.model_id,
            model_name=s.model_name,
            score=s.score,
            updated_at=s.updated_at,
            rules=[
                RuleOut(
                    rule_id=r.rule_id,
                    times_applied=r.times_applied,
                    points=r.points,
                    last_applied_at=r.last_applied_at,
                )
                for r in s.rules
            ],
        )


class ScoreList(BaseModel):
    data: list[ScoreOut]


class ChangeOut(BaseModel):
    id: str
    rule_id: str
    kind: str
    points: float = Field(description="As granted, before decay")
    event_id: str | None
    reason: str | None
    occurred_at: datetime
    expires_at: datetime | None


class ChangePage(BaseModel):
    data: list[ChangeOut]
    next_cursor: str | None


class ManualPoints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Any = Field(description="A non-zero number; negative takes points away")
    reason: Any = Field(description="Why (kept in the score history)")


class RescoreOut(BaseModel):
    contacts: int
    changed: int


class StagesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stages: Any = Field(description="Stage names, first stage first")


class StagesOut(BaseModel):
    stages: list[str]


# ---- models ----


@router.get(MODELS, response_model=ModelPage, summary="List scoring models")
async def list_models(
    request: Request,
    workspace_id: Workspace,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ModelPage:
    page = await run_in_threadpool(
        lambda: _container(request).scoring.list(workspace_id, cursor=cursor, limit=limit)
    )
    return ModelPage(data=[ModelOut.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.get(f"{MODELS}/schema", summary="JSON Schema of a scoring model")
async def model_schema(workspace_id: Workspace) -> dict[str, Any]:
    return scoring_model_schema()


@router.post(MODELS, response_model=ModelOut, status_code=201, summary="Create a scoring model")
async def create_model(request: Request, workspace_id: Workspace, body: Document) -> ModelOut:
    """Rules apply to data that arrives from now on; `POST …/rescore` applies them to the past."""
    return ModelOut.of(await run_in_threadpool(_container(request).scoring.create, workspace_id, body))


@router.get(f"{MODELS}/{{model_id}}", response_model=ModelOut, summary="Get a scoring model")
async def get_model(request: Request, workspace_id: Workspace, model_id: str) -> ModelOut:
    return ModelOut.of(await run_in_threadpool(_container(request).scoring.get, workspace_id, model_id))


@router.put(f"{MODELS}/{{model_id}}", response_model=ModelOut, summary="Replace a scoring model")
async def replace_model(request: Request, workspace_id: Workspace, model_id: str, body: Document) -> ModelOut:
    """New rules score new data; rescore to apply them to the past. A new decay applies at once."""
    model = await run_in_threadpool(_container(request).scoring.replace, workspace_id, model_id, body)
    return ModelOut.of(model)


@router.delete(f"{MODELS}/{{model_id}}", status_code=204, summary="Delete a scoring model")
async def delete_model(request: Request, workspace_id: Workspace, model_id: str) -> Response:
    """Deletes the model with every contact's score and history in it (segments then read 0)."""
    await run_in_threadpool(_container(request).scoring.delete, workspace_id, model_id)
    return Response(status_code=204)


@router.post(f"{MODELS}/{{model_id}}/rescore", response_model=RescoreOut, summary="Rescore every contact")
async def rescore_model(request: Request, workspace_id: Workspace, model_id: str) -> RescoreOut:
    """Recomputes every contact's score in the model from stored events and current conditions
    (manual points stay). Runs through all contacts: minutes for a large workspace."""
    report = await run_in_threadpool(_container(request).scoring.rescore, workspace_id, model_id)
    return RescoreOut(contacts=report.contacts, changed=report.changed)


# ---- a contact's scores ----


@router.get(SCORES, response_model=ScoreList, summary="A contact's scores, with the rules behind them")
async def contact_scores(request: Request, workspace_id: Workspace, contact_id: str) -> ScoreList:
    scores = await run_in_threadpool(_container(request).scoring.scores, workspace_id, contact_id)
    return ScoreList(data=[ScoreOut.of(s) for s in scores])


@router.get(
    f"{SCORES}/{{model_id}}/history", response_model=ChangePage, summary="Score history, newest first"
)
async def score_history(
    request: Request,
    workspace_id: Workspace,
    contact_id: str,
    model_id: str,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ChangePage:
    page = await run_in_threadpool(
        lambda: _container(request).scoring.history(
            workspace_id, contact_id, model_id, cursor=cursor, limit=limit
        )
    )
    return ChangePage(
        data=[ChangeOut(**vars(row)) for row in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(f"{SCORES}/{{model_id}}", response_model=ScoreOut, summary="Add points by hand")
async def add_points(
    request: Request, workspace_id: Workspace, contact_id: str, model_id: str, body: ManualPoints
) -> ScoreOut:
    score = await run_in_threadpool(
        lambda: _container(request).scoring.add_points(
            workspace_id, contact_id, model_id, body.points, body.reason
        )
    )
    return ScoreOut.of(score)


# ---- lifecycle stages ----


@router.get("/api/v1/lifecycle-stages", response_model=StagesOut, summary="The workspace's lifecycle stages")
async def get_stages(request: Request, workspace_id: Workspace) -> StagesOut:
    stages = await run_in_threadpool(_container(request).lifecycle.get, workspace_id)
    return StagesOut(stages=list(stages))


@router.put(
    "/api/v1/lifecycle-stages", response_model=StagesOut, summary="Set the workspace's lifecycle stages"
)
async def set_stages(request: Request, workspace_id: Workspace, body: StagesBody) -> StagesOut:
    """First stage first; scoring thresholds and routing only move contacts forward along it."""
    stages = await run_in_threadpool(_container(request).lifecycle.set, workspace_id, body.stages)
    return StagesOut(stages=list(stages))
