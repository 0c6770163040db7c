"""Admin REST API: static lists and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.audiences import MAX_REFS, MembershipReport, StaticList

router = APIRouter(prefix="/api/v1/lists", tags=["lists"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class ListBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class ListOut(BaseModel):
    id: str
    name: str
    description: str | None
    members: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: StaticList) -> ListOut:
        return cls(**item.__dict__)


class ListPage(BaseModel):
    data: list[ListOut]
    next_cursor: str | None


class MembersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contacts: list[dict[str, Any]] = Field(
        max_length=MAX_REFS, description='each one of {"id": …}, {"email": …}, {"user_id": …}'
    )


class MembersReport(BaseModel):
    changed: int = Field(description="contacts added (or removed) by this call")
    unchanged: int = Field(description="contacts found that were on (or off) the list already")
    not_found: list[dict[str, Any]] = Field(description="the items that found no contact, with their index")

    @classmethod
    def of(cls, report: MembershipReport) -> MembersReport:
        return cls(
            changed=report.changed,
            unchanged=report.unchanged,
            not_found=[{"index": r.index, r.kind: r.value} for r in report.not_found or []],
        )


class MemberOut(BaseModel):
    contact_id: str
    added_at: datetime


class MemberPage(BaseModel):
    data: list[MemberOut]
    next_cursor: str | None


@router.get("", response_model=ListPage, summary="List static lists")
async def list_lists(
    request: Request,
    workspace_id: Workspace,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ListPage:
    page = await run_in_threadpool(
        lambda: _container(request).lists.list(workspace_id, cursor=cursor, limit=limit)
    )
    return ListPage(data=[ListOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@router.post("", response_model=ListOut, status_code=201, summary="Create a static list")
async def create_list(request: Request, workspace_id: Workspace, body: ListBody) -> ListOut:
    item = await run_in_threadpool(
        _container(request).lists.create, workspace_id, body.name, body.description
    )
    return ListOut.of(item)


@router.get("/{list_id}", response_model=ListOut, summary="Get a static list")
async def get_list(request: Request, workspace_id: Workspace, list_id: str) -> ListOut:
    return ListOut.of(await run_in_threadpool(_container(request).lists.get, workspace_id, list_id))


@router.patch("/{list_id}", response_model=ListOut, summary="Rename or describe a static list")
async def change_list(request: Request, workspace_id: Workspace, list_id: str, body: ListBody) -> ListOut:
    changes = body.model_dump(exclude_unset=True)
    item = await run_in_threadpool(_container(request).lists.change, workspace_id, list_id, changes)
    return ListOut.of(item)


@router.delete("/{list_id}", status_code=204, summary="Delete a static list")
async def delete_list(request: Request, workspace_id: Workspace, list_id: str) -> Response:
    """Deletes the list; each member's removal is recorded (LIST_REMOVED) like any other."""
    await run_in_threadpool(_container(request).lists.delete, workspace_id, list_id)
    return Response(status_code=204)


@router.get("/{list_id}/members", response_model=MemberPage, summary="A list's members")
async def list_members(
    request: Request,
    workspace_id: Workspace,
    list_id: str,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MemberPage:
    page = await run_in_threadpool(
        lambda: _container(request).lists.members(workspace_id, list_id, cursor=cursor, limit=limit)
    )
    return MemberPage(
        data=[MemberOut(contact_id=m.contact_id, added_at=m.added_at) for m in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/{list_id}/members", response_model=MembersReport, summary="Add contacts to a list")
async def add_members(
    request: Request, workspace_id: Workspace, list_id: str, body: MembersBody
) -> MembersReport:
    """Contacts are named by id, email or user id; adding a member twice changes nothing. Items that
    find no contact are listed in `not_found`; the others are added."""
    report = await run_in_threadpool(
        _container(request).lists.add_members, workspace_id, list_id, body.contacts
    )
    return MembersReport.of(report)


@router.post("/{list_id}/members/remove", response_model=MembersReport, summary="Remove contacts from a list")
async def remove_members(
    request: Request, workspace_id: Workspace, list_id: str, body: MembersBody
) -> MembersReport:
    """The same body as adding; removing a contact that is not on the list changes nothing."""
    report = await run_in_threadpool(
        _container(request).lists.remove_members, workspace_id, list_id, body.contacts
    )
    return MembersReport.of(report)


@router.delete("/{list_id}/members/{contact_id}", status_code=204, summary="Remove one contact from a list")
async def remove_member(request: Request, workspace_id: Workspace, list_id: str, contact_id: str) -> Response:
    await run_in_threadpool(_container(request).lists.remove_member, workspace_id, list_id, contact_id)
    return Response(status_code=204)
