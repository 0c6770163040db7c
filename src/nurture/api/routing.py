"""Admin REST API: sales owners, assignment rules, routing settings, and assignment on demand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.routing import Owner, RoutingRule

owners_router = APIRouter(prefix="/api/v1/owners", tags=["routing"])
routing_router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
assign_router = APIRouter(prefix="/api/v1/contacts", tags=["routing"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class OwnerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    active: StrictBool | None = None
    attributes: dict[str, Any] | None = Field(default=None, description='e.g. {"territory": "EMEA"}')


class OwnerOut(BaseModel):
    id: str
    name: str
    email: str
    active: bool
    attributes: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, owner: Owner) -> OwnerOut:
        return cls(**owner.__dict__)


class OwnerPage(BaseModel):
    data: list[OwnerOut]
    next_cursor: str | None


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="rules run in ascending order")
    definition: dict[str, Any] | None = Field(
        default=None,
        description="`kind`: round_robin (owner_ids), territory (attribute, owners, fallback_owner_id), "
        "account_owner or company_domain; optional `condition` (the condition language)",
    )


class RuleOut(BaseModel):
    id: str
    name: str
    position: int
    definition: dict[str, Any]
    last_owner_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: RoutingRule) -> RuleOut:
        return cls(**rule.__dict__)


class SettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assign_at_stages: list[str] = Field(
        max_length=20, description="stages at which an unowned contact is routed"
    )


class AssignmentOut(BaseModel):
    contact_id: str
    owner_id: str | None
    changed: bool
    rule_id: str | None
    rule_name: str | None


# owners


@owners_router.get("", response_model=OwnerPage, summary="List owners")
async def list_owners(
    request: Request,
    workspace_id: Workspace,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OwnerPage:
    page = await run_in_threadpool(
        lambda: _container(request).owners.list(workspace_id, active=active, cursor=cursor, limit=limit)
    )
    return OwnerPage(data=[OwnerOut.of(o) for o in page.items], next_cursor=page.next_cursor)


@owners_router.post("", response_model=OwnerOut, status_code=201, summary="Create an owner")
async def create_owner(request: Request, workspace_id: Workspace, body: OwnerBody) -> OwnerOut:
    data = body.model_dump(exclude_unset=True)
    return OwnerOut.of(await run_in_threadpool(_container(request).owners.create, workspace_id, data))


@owners_router.get("/{owner_id}", response_model=OwnerOut, summary="Get an owner")
async def get_owner(request: Request, workspace_id: Workspace, owner_id: str) -> OwnerOut:
    return OwnerOut.of(await run_in_threadpool(_container(request).owners.get, workspace_id, owner_id))


@owners_router.put("/{owner_id}", response_model=OwnerOut, summary="Replace an owner")
async def replace_owner(
    request: Request, workspace_id: Workspace, owner_id: str, body: OwnerBody
) -> OwnerOut:
    data = body.model_dump(exclude_unset=True)
    owner = await run_in_threadpool(
        lambda: _container(request).owners.change(workspace_id, owner_id, data, replace=True)
    )
    return OwnerOut.of(owner)


@owners_router.patch("/{owner_id}", response_model=OwnerOut, summary="Update an owner")
async def patch_owner(request: Request, workspace_id: Workspace, owner_id: str, body: OwnerBody) -> OwnerOut:
    """`active: false` keeps the owner's contacts but routes no new ones to it."""
    data = body.model_dump(exclude_unset=True)
    owner = await run_in_threadpool(
        lambda: _container(request).owners.change(workspace_id, owner_id, data, replace=False)
    )
    return OwnerOut.of(owner)


@owners_router.delete("/{owner_id}", status_code=204, summary="Delete an owner")
async def delete_owner(request: Request, workspace_id: Workspace, owner_id: str) -> Response:
    """Only an owner without contacts and not named by a rule (409 otherwise: deactivate it instead)."""
    await run_in_threadpool(_container(request).owners.delete, workspace_id, owner_id)
    return Response(status_code=204)


# rules and settings


@routing_router.get("/rules", response_model=list[RuleOut], summary="Assignment rules, in the order they run")
async def list_rules(request: Request, workspace_id: Workspace) -> list[RuleOut]:
    return [RuleOut.of(r) for r in await run_in_threadpool(_container(request).routing.rules, workspace_id)]


@routing_router.post("/rules", response_model=RuleOut, status_code=201, summary="Add an assignment rule")
async def create_rule(request: Request, workspace_id: Workspace, body: RuleBody) -> RuleOut:
    """Without `position` the rule runs after the others."""
    rule = await run_in_threadpool(
        _container(request).routing.create_rule, workspace_id, body.name, body.definition, body.position
    )
    return RuleOut.of(rule)


@routing_router.get("/rules/{rule_id}", response_model=RuleOut, summary="Get an assignment rule")
async def get_rule(request: Request, workspace_id: Workspace, rule_id: str) -> RuleOut:
    return RuleOut.of(await run_in_threadpool(_container(request).routing.rule, workspace_id, rule_id))


@routing_router.patch("/rules/{rule_id}", response_model=RuleOut, summary="Change an assignment rule")
async def change_rule(request: Request, workspace_id: Workspace, rule_id: str, body: RuleBody) -> RuleOut:
    changes = body.model_dump(exclude_unset=True)
    rule = await run_in_threadpool(_container(request).routing.change_rule, workspace_id, rule_id, changes)
    return RuleOut.of(rule)


@routing_router.delete("/rules/{rule_id}", status_code=204, summary="Delete an assignment rule")
async def delete_rule(request: Request, workspace_id: Workspace, rule_id: str) -> Response:
    await run_in_threadpool(_container(request).routing.delete_rule, workspace_id, rule_id)
    return Response(status_code=204)


@routing_router.get("/settings", response_model=SettingsBody, summary="Routing settings")
async def get_settings(request: Request, workspace_id: Workspace) -> SettingsBody:
    stages = await run_in_threadpool(_container(request).routing.settings, workspace_id)
    return SettingsBody(assign_at_stages=list(stages))


@routing_router.put("/settings", response_model=SettingsBody, summary="Set routing settings")
async def put_settings(request: Request, workspace_id: Workspace, body: SettingsBody) -> SettingsBody:
    """A contact without an owner is routed when it reaches one of `assign_at_stages` (default: mql)."""
    stages = await run_in_threadpool(
        _container(request).routing.set_settings, workspace_id, body.assign_at_stages
    )
    return SettingsBody(assign_at_stages=list(stages))


# assignment


@assign_router.post(
    "/{contact_id}/assign", response_model=AssignmentOut, summary="Route a contact to an owner now"
)
async def assign(
    request: Request,
    workspace_id: Workspace,
    contact_id: str,
    force: Annotated[bool, Query(description="re-route a contact that has an owner already")] = False,
) -> AssignmentOut:
    """Runs the rules in order; the first that yields an active owner wins. A contact with an owner keeps
    it unless `force=true`."""
    done = await run_in_threadpool(
        lambda: _container(request).routing.assign(workspace_id, contact_id, force=force)
    )
    return AssignmentOut(
        contact_id=contact_id,
        owner_id=done.owner_id,
        changed=done.changed,
        rule_id=done.rule_id,
        rule_name=done.rule_name,
    )
