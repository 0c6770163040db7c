"""Admin REST API: the activity feed, in id order — how a CRM reads assignments and stage changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.schemas import ActivityOut, ActivityPage
from nurture.bootstrap import Container

router = APIRouter(prefix="/api/v1/activities", tags=["activities"])
Workspace = Annotated[str, Depends(secret_workspace)]


@router.get("", response_model=ActivityPage, summary="Activities after a cursor, oldest first")
async def list_activities(
    request: Request,
    workspace_id: Workspace,
    after: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    kind: Annotated[list[str], Query(description="only these kinds; repeatable or comma-separated")] = [],  # noqa: B006
    contact_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ActivityPage:
    """Poll with the `next_cursor` you were given: it is set even on an empty page."""
    container: Container = request.app.state.container
    page = await run_in_threadpool(
        lambda: container.activities.list(
            workspace_id, after=after, kinds=kind, contact_id=contact_id, limit=limit
        )
    )
    return ActivityPage(data=[ActivityOut.of(a) for a in page.items], next_cursor=page.next_cursor)
