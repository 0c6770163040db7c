"""Admin REST API: accounts (companies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.schemas import AccountBody, AccountOut, AccountPage
from nurture.bootstrap import Container
from nurture.domain.errors import Invalid

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("", response_model=AccountPage, summary="List accounts")
async def list_accounts(
    request: Request,
    workspace_id: Workspace,
    group_id: str | None = None,
    domain: str | None = None,
    q: Annotated[str | None, Query(description="Text search in name and domain")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AccountPage:
    page = await run_in_threadpool(
        lambda: _container(request).accounts.list(
            workspace_id, group_id=group_id, domain=domain, search=q, cursor=cursor, limit=limit
        )
    )
    return AccountPage(data=[AccountOut.of(a) for a in page.items], next_cursor=page.next_cursor)


@router.post("", response_model=AccountOut, status_code=201, summary="Create an account")
async def create_account(request: Request, workspace_id: Workspace, body: AccountBody) -> AccountOut:
    if body.group_id is None:
        raise Invalid.one("group_id", "is required: the id your product knows the company by")
    account = await run_in_threadpool(
        _container(request).accounts.create, workspace_id, body.group_id, body.traits()
    )
    return AccountOut.of(account)


@router.get("/{account_id}", response_model=AccountOut, summary="Get an account")
async def get_account(request: Request, workspace_id: Workspace, account_id: str) -> AccountOut:
    return AccountOut.of(await run_in_threadpool(_container(request).accounts.get, workspace_id, account_id))


@router.get("/{account_id}/contacts", response_model=list[str], summary="Ids of the account's contacts")
async def account_contacts(request: Request, workspace_id: Workspace, account_id: str) -> list[str]:
    return await run_in_threadpool(_container(request).accounts.members, workspace_id, account_id)


@router.put("/{account_id}", response_model=AccountOut, summary="Replace an account")
async def replace_account(
    request: Request, workspace_id: Workspace, account_id: str, body: AccountBody
) -> AccountOut:
    return await _change(request, workspace_id, account_id, body, replace=True)


@router.patch("/{account_id}", response_model=AccountOut, summary="Update an account")
async def patch_account(
    request: Request, workspace_id: Workspace, account_id: str, body: AccountBody
) -> AccountOut:
    return await _change(request, workspace_id, account_id, body, replace=False)


async def _change(
    request: Request, workspace_id: str, account_id: str, body: AccountBody, *, replace: bool
) -> AccountOut:
    if body.group_id is not None:
        raise Invalid.one("group_id", "cannot be changed")
    account = await run_in_threadpool(
        lambda: _container(request).accounts.change(workspace_id, account_id, body.traits(), replace=replace)
    )
    return AccountOut.of(account)


@router.delete("/{account_id}", status_code=204, summary="Delete an account")
async def delete_account(request: Request, workspace_id: Workspace, account_id: str) -> Response:
    """Deletes the account and its memberships; the contacts stay."""
    await run_in_threadpool(_container(request).accounts.delete, workspace_id, account_id)
    return Response(status_code=204)
