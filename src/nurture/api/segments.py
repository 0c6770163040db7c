"""Admin REST API: segments, their members (now and as of a time), a contact's segments, previews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.schemas import ContactOut
from nurture.bootstrap import Container
from nurture.domain.conditions.parsing import condition_schema
from nurture.domain.segments import Membership, Segment
from nurture.services.segments import ContactSegment

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])
contact_router = APIRouter(prefix="/api/v1/contacts", tags=["segments"])
Workspace = Annotated[str, Depends(secret_workspace)]


class SegmentBody(BaseModel):
    """A segment to create, or the fields to change (PATCH). `condition` is a condition tree
    (docs/conditions.md); `status` (PATCH only) is `active` or `archived`."""

    model_config = ConfigDict(extra="forbid")

    name: Any = None
    description: Any = None
    condition: Any = Field(default=None, description="A condition tree (see the condition JSON Schema)")
    status: Any = None


class SegmentOut(BaseModel):
    id: str
    name: str
    description: str | None
    condition: dict[str, Any]
    status: str
    member_count: int | None = None
    created_at: datetime
    updated_at: datetime
    recomputed_at: datetime | None

    @classmethod
    def of(cls, s: Segment, member_count: int | None = None) -> SegmentOut:
        return cls(
            id=s.id,
            name=s.name,
            description=s.description,
            condition=s.condition.model_dump(mode="json"),
            status=s.status.value,
            member_count=member_count,
            created_at=s.created_at,
            updated_at=s.updated_at,
            recomputed_at=s.recomputed_at,
        )


class SegmentPage(BaseModel):
    data: list[SegmentOut]
    next_cursor: str | None


class MemberOut(BaseModel):
    contact_id: str
    entered_at: datetime
    exited_at: datetime | None

    @classmethod
    def of(cls, m: Membership) -> MemberOut:
        return cls(contact_id=m.contact_id, entered_at=m.entered_at, exited_at=m.exited_at)


class MemberPage(BaseModel):
    data: list[MemberOut]
    next_cursor: str | None


class ContactSegmentOut(BaseModel):
    segment_id: str
    name: str
    contact_id: str  # in a history, a contact merged into this one may have been the member
    entered_at: datetime
    exited_at: datetime | None

    @classmethod
    def of(cls, item: ContactSegment) -> ContactSegmentOut:
        m = item.membership
        return cls(
            segment_id=item.segment.id,
            name=item.segment.name,
            contact_id=m.contact_id,
            entered_at=m.entered_at,
            exited_at=m.exited_at,
        )


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: Any = None
    sample: int = Field(default=10, ge=1, le=100, description="How many matching contacts to return")


class PreviewOut(BaseModel):
    count: int
    sample: list[ContactOut]


class RecomputeOut(BaseModel):
    entered: int
    exited: int
    members: int


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.post("", response_model=SegmentOut, status_code=201, summary="Create a segment")
async def create_segment(request: Request, workspace_id: Workspace, body: SegmentBody) -> SegmentOut:
    """Members are computed in the background right after; `recomputed_at` is set once they are."""
    fields = body.model_dump(exclude_unset=True)
    segment = await run_in_threadpool(_container(request).segments.create, workspace_id, fields)
    return SegmentOut.of(segment)


@router.get("", response_model=SegmentPage, summary="List segments")
async def list_segments(
    request: Request,
    workspace_id: Workspace,
    status: Annotated[str | None, Query(description="active or archived")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SegmentPage:
    page = await run_in_threadpool(
        lambda: _container(request).segments.list(workspace_id, status=status, cursor=cursor, limit=limit)
    )
    return SegmentPage(data=[SegmentOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.post(
    "/preview", response_model=PreviewOut, summary="Count and sample the contacts a draft condition matches"
)
async def preview_segment(request: Request, workspace_id: Workspace, body: PreviewBody) -> PreviewOut:
    preview = await run_in_threadpool(
        lambda: _container(request).segments.preview(workspace_id, body.condition, sample=body.sample)
    )
    return PreviewOut(count=preview.count, sample=[ContactOut.of(c) for c in preview.sample])


@router.get("/condition-schema", summary="JSON Schema of the condition language")
async def condition_json_schema(workspace_id: Workspace) -> dict[str, Any]:
    """The one condition language of segments, scoring rules and journey branches (docs/conditions.md)."""
    return condition_schema()


@router.get("/{segment_id}", response_model=SegmentOut, summary="Get a segment")
async def get_segment(request: Request, workspace_id: Workspace, segment_id: str) -> SegmentOut:
    def load() -> SegmentOut:
        service = _container(request).segments
        return SegmentOut.of(
            service.get(workspace_id, segment_id), service.member_count(workspace_id, segment_id)
        )

    return await run_in_threadpool(load)


@router.patch("/{segment_id}", response_model=SegmentOut, summary="Change a segment")
async def patch_segment(
    request: Request, workspace_id: Workspace, segment_id: str, body: SegmentBody
) -> SegmentOut:
    """A new condition makes the members be computed again; `status: archived` ends every membership
    and stops evaluation, `status: active` starts it again."""
    fields = body.model_dump(exclude_unset=True)
    segment = await run_in_threadpool(_container(request).segments.update, workspace_id, segment_id, fields)
    return SegmentOut.of(segment)


@router.delete("/{segment_id}", status_code=204, summary="Delete a segment")
async def delete_segment(request: Request, workspace_id: Workspace, segment_id: str) -> Response:
    """Deletes the segment and its membership history; refused (409) while another segment refers to it."""
    await run_in_threadpool(_container(request).segments.delete, workspace_id, segment_id)
    return Response(status_code=204)


@router.get("/{segment_id}/members", response_model=MemberPage, summary="Members now, or as of a time")
async def segment_members(
    request: Request,
    workspace_id: Workspace,
    segment_id: str,
    as_of: Annotated[
        datetime | None, Query(description="ISO 8601 time with zone: members at that moment")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MemberPage:
    page = await run_in_threadpool(
        lambda: _container(request).segments.members(
            workspace_id, segment_id, as_of=as_of, cursor=cursor, limit=limit
        )
    )
    return MemberPage(data=[MemberOut.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.post(
    "/{segment_id}/recompute", response_model=RecomputeOut, summary="Evaluate a segment for every contact"
)
async def recompute_segment(request: Request, workspace_id: Workspace, segment_id: str) -> RecomputeOut:
    """Full evaluation now (segments it refers to first); returns how many entered and left."""
    result = await run_in_threadpool(_container(request).segments.recompute, workspace_id, segment_id)
    return RecomputeOut(entered=result.entered, exited=result.exited, members=result.members)


@contact_router.get(
    "/{contact_id}/segments", response_model=list[ContactSegmentOut], summary="The segments a contact is in"
)
async def contact_segments(
    request: Request, workspace_id: Workspace, contact_id: str
) -> list[ContactSegmentOut]:
    found = await run_in_threadpool(_container(request).segments.contact_segments, workspace_id, contact_id)
    return [ContactSegmentOut.of(item) for item in found]


@contact_router.get(
    "/{contact_id}/segments/history",
    response_model=list[ContactSegmentOut],
    summary="Every stay of a contact in segments, oldest first",
)
async def contact_segment_history(
    request: Request, workspace_id: Workspace, contact_id: str
) -> list[ContactSegmentOut]:
    found = await run_in_threadpool(_container(request).segments.contact_history, workspace_id, contact_id)
    return [ContactSegmentOut.of(item) for item in found]
