"""Admin REST API: contacts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.schemas import (
    AccountOut,
    ActivityOut,
    ConsentOut,
    ContactBody,
    ContactExportOut,
    ContactOut,
    ContactPage,
    EventOut,
    EventPage,
    SubscriptionOut,
)
from nurture.bootstrap import Container
from nurture.services.contacts import ContactInput

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


MANAGED = {"lifecycle_stage", "owner_id"}


def _input(body: ContactBody) -> ContactInput:
    fields = body.model_dump(exclude={"attributes", *MANAGED}, exclude_unset=True)
    managed = body.model_dump(include=MANAGED, exclude_unset=True)
    return ContactInput(fields=fields, attributes=body.attributes, managed=managed)


@router.get("", response_model=ContactPage, summary="List contacts")
async def list_contacts(
    request: Request,
    workspace_id: Workspace,
    email: str | None = None,
    user_id: str | None = None,
    q: Annotated[str | None, Query(description="Text search in email, names and phone")] = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    lifecycle_stage: Annotated[str | None, Query(max_length=64)] = None,
    owner_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ContactPage:
    """Filter by `email`, `user_id`, text (`q`), `tag`, `lifecycle_stage`, `owner_id` and attribute
    equality (`attributes.plan=pro`)."""
    attributes = {
        key.removeprefix("attributes."): value
        for key, value in request.query_params.items()
        if key.startswith("attributes.") and len(key) > len("attributes.")
    }
    page = await run_in_threadpool(
        _container(request).contacts.list,
        workspace_id,
        email=email,
        user_id=user_id,
        attributes=attributes,
        search=q,
        cursor=cursor,
        limit=limit,
        tag=tag,
        lifecycle_stage=lifecycle_stage,
        owner_id=owner_id,
    )
    return ContactPage(data=[ContactOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("", response_model=ContactOut, status_code=201, summary="Create a contact")
async def create_contact(request: Request, workspace_id: Workspace, body: ContactBody) -> ContactOut:
    contact = await run_in_threadpool(_container(request).contacts.create, workspace_id, _input(body))
    return ContactOut.of(contact)


@router.get("/{contact_id}", response_model=ContactOut, summary="Get a contact")
async def get_contact(request: Request, workspace_id: Workspace, contact_id: str) -> ContactOut:
    """A merged-away id answers with the contact it was merged into."""
    return ContactOut.of(await run_in_threadpool(_container(request).contacts.get, workspace_id, contact_id))


@router.put("/{contact_id}", response_model=ContactOut, summary="Replace a contact")
async def replace_contact(
    request: Request, workspace_id: Workspace, contact_id: str, body: ContactBody
) -> ContactOut:
    """The body is the whole profile: fields and attributes it leaves out are cleared."""
    contact = await run_in_threadpool(
        lambda: _container(request).contacts.change(workspace_id, contact_id, _input(body), replace=True)
    )
    return ContactOut.of(contact)


@router.patch("/{contact_id}", response_model=ContactOut, summary="Update a contact")
async def patch_contact(
    request: Request, workspace_id: Workspace, contact_id: str, body: ContactBody
) -> ContactOut:
    """Only the given fields change; `null` unsets a field or removes an attribute."""
    contact = await run_in_threadpool(
        lambda: _container(request).contacts.change(workspace_id, contact_id, _input(body), replace=False)
    )
    return ContactOut.of(contact)


@router.delete("/{contact_id}", status_code=204, summary="Erase a contact")
async def erase_contact(request: Request, workspace_id: Workspace, contact_id: str) -> Response:
    """Deletes the contact, its events and personal data; its email stays suppressed, hashed."""
    await run_in_threadpool(_container(request).contacts.erase, workspace_id, contact_id)
    return Response(status_code=204)


@router.get("/{contact_id}/events", response_model=EventPage, summary="A contact's events, newest first")
async def contact_events(
    request: Request,
    workspace_id: Workspace,
    contact_id: str,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPage:
    page = await run_in_threadpool(
        lambda: _container(request).contacts.events(workspace_id, contact_id, cursor=cursor, limit=limit)
    )
    return EventPage(data=[EventOut.of(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/{contact_id}/export", response_model=ContactExportOut, summary="Everything held on a contact")
async def export_contact(request: Request, workspace_id: Workspace, contact_id: str) -> ContactExportOut:
    """For data-subject access requests: profile, identities, every event, accounts, merges, lists,
    subscriptions, the consent ledger and activities."""
    data = await run_in_threadpool(_container(request).contacts.export, workspace_id, contact_id)
    return ContactExportOut(
        contact=ContactOut.of(data.contact),
        identities=[{"kind": kind, "value": value} for kind, value in data.identities],
        events=[EventOut.of(e) for e in data.events],
        accounts=[AccountOut.of(a) for a in data.accounts],
        merged=data.merged,
        lists=[{"id": item.id, "name": item.name, "added_at": at} for item, at in data.lists],
        subscriptions=[SubscriptionOut.of(s) for s in data.subscriptions],
        consents=[ConsentOut.of(r) for r in data.consents],
        activities=[ActivityOut.of(a) for a in data.activities],
    )
