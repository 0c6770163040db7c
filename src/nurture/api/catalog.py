"""Admin REST API: the data catalog (attributes, events and properties the workspace has had)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.catalog import EntryKind

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
Workspace = Annotated[str, Depends(secret_workspace)]


class FieldOut(BaseModel):
    name: str
    types: list[str] = Field(description="JSON types its values have had: string, date, number, boolean, …")
    declared: bool = Field(description="declared through the API, not (only) seen in data")
    first_seen_at: datetime


class EventOut(BaseModel):
    name: str
    first_seen_at: datetime | None
    properties: list[FieldOut]


class CatalogOut(BaseModel):
    attributes: list[FieldOut]
    account_attributes: list[FieldOut]
    events: list[EventOut]


class Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["attribute", "account_attribute"] = "attribute"
    name: str
    types: list[Literal["string", "date", "number", "boolean", "array", "object"]] = Field(min_length=1)


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("", response_model=CatalogOut, summary="Attributes, events and properties seen or declared")
async def get_catalog(request: Request, workspace_id: Workspace) -> CatalogOut:
    described = await run_in_threadpool(_container(request).catalog.describe, workspace_id)
    return CatalogOut.model_validate(described)


@router.post(
    "/attributes",
    status_code=201,
    response_model=Declaration,
    summary="Declare an attribute before data carries it, so conditions may read it",
)
async def declare_attribute(request: Request, workspace_id: Workspace, body: Declaration) -> Declaration:
    await run_in_threadpool(
        _container(request).catalog.declare, workspace_id, EntryKind(body.kind), body.name, body.types
    )
    return body
