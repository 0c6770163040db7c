"""Admin REST API: message templates (versioned), layouts and snippets; preview for a contact."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.errors import FieldError, Invalid
from nurture.domain.templates.model import (
    BodyFormat,
    Category,
    Content,
    Layout,
    Snippet,
    Template,
    TemplateKind,
)
from nurture.services.templates import TemplateInput, TemplateService

router = APIRouter(prefix="/api/v1", tags=["templates"])
Workspace = Annotated[str, Depends(secret_workspace)]


def _service(request: Request) -> TemplateService:
    container: Container = request.app.state.container
    return container.templates


class TemplateBody(BaseModel):
    """An email (subject, optional preheader and sender, `html` or `mjml`, optional `text`) or an SMS
    (`text` only). Sender fields left out come from the workspace's sender settings."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    kind: TemplateKind = TemplateKind.EMAIL
    category: Category = Category.MARKETING
    subject: str | None = None
    preheader: str | None = None
    from_name: str | None = None
    from_email: str | None = None
    reply_to: str | None = None
    html: str | None = None
    mjml: str | None = None
    text: str | None = None
    layout_id: str | None = None

    def input(self) -> TemplateInput:
        if self.html is not None and self.mjml is not None:
            raise Invalid([FieldError("mjml", "give either html or mjml, not both")])
        body_format = BodyFormat.MJML if self.mjml is not None else BodyFormat.HTML if self.html else None
        content = Content(
            subject=self.subject,
            preheader=self.preheader,
            from_name=self.from_name,
            from_email=self.from_email,
            reply_to=self.reply_to,
            body_format=body_format,
            body=self.mjml if self.mjml is not None else self.html,
            text=self.text,
            layout_id=self.layout_id,
        )
        return TemplateInput(self.name, self.kind, self.category, content)


class TemplateOut(BaseModel):
    id: str
    name: str
    kind: TemplateKind
    category: Category
    version: int
    subject: str | None
    preheader: str | None
    from_name: str | None
    from_email: str | None
    reply_to: str | None
    html: str | None
    mjml: str | None
    text: str | None
    layout_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Template) -> TemplateOut:
        c = t.content
        return cls(
            id=t.id,
            name=t.name,
            kind=t.kind,
            category=t.category,
            version=t.version,
            subject=c.subject,
            preheader=c.preheader,
            from_name=c.from_name,
            from_email=c.from_email,
            reply_to=c.reply_to,
            html=c.body if c.body_format is BodyFormat.HTML else None,
            mjml=c.body if c.body_format is BodyFormat.MJML else None,
            text=c.text,
            layout_id=c.layout_id,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )


class TemplatePage(BaseModel):
    data: list[TemplateOut]
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    created_at: datetime


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: str | None = None
    version: int | None = Field(default=None, ge=1)
    event: dict[str, Any] | None = Field(default=None, description="A sample triggering event")
    run: dict[str, Any] | None = Field(default=None, description="Sample journey run data")


class PreviewOut(BaseModel):
    template_id: str
    version: int
    layout_version: int | None
    subject: str | None
    preheader: str | None
    from_name: str | None
    html: str | None
    text: str


class LayoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    format: BodyFormat = BodyFormat.HTML
    body: str


class LayoutOut(BaseModel):
    id: str
    name: str
    format: BodyFormat
    body: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, layout: Layout) -> LayoutOut:
        return cls(**layout.__dict__)


class SnippetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    body: str


class SnippetOut(BaseModel):
    id: str
    name: str
    body: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, snippet: Snippet) -> SnippetOut:
        return cls(**snippet.__dict__)


# templates


@router.get("/templates", response_model=TemplatePage, summary="List templates")
async def list_templates(
    request: Request,
    workspace_id: Workspace,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TemplatePage:
    page = await run_in_threadpool(_service(request).list, workspace_id, cursor, limit)
    return TemplatePage(data=[TemplateOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.post("/templates", response_model=TemplateOut, status_code=201, summary="Create a template")
async def create_template(request: Request, workspace_id: Workspace, body: TemplateBody) -> TemplateOut:
    """Refused (400, with field, line and column) when any Liquid or MJML in it does not parse."""
    data = body.input()
    return TemplateOut.of(await run_in_threadpool(_service(request).create, workspace_id, data))


@router.get("/templates/{template_id}", response_model=TemplateOut, summary="Get a template")
async def get_template(request: Request, workspace_id: Workspace, template_id: str) -> TemplateOut:
    return TemplateOut.of(await run_in_threadpool(_service(request).get, workspace_id, template_id))


@router.put("/templates/{template_id}", response_model=TemplateOut, summary="Save a new version")
async def replace_template(
    request: Request, workspace_id: Workspace, template_id: str, body: TemplateBody
) -> TemplateOut:
    """The body is the whole template; a changed content becomes the next version."""
    data = body.input()
    saved = await run_in_threadpool(_service(request).replace, workspace_id, template_id, data)
    return TemplateOut.of(saved)


@router.delete("/templates/{template_id}", status_code=204, summary="Delete a template")
async def delete_template(request: Request, workspace_id: Workspace, template_id: str) -> Response:
    """Its versions are kept for the messages that used them."""
    await run_in_threadpool(_service(request).delete, workspace_id, template_id)
    return Response(status_code=204)


@router.get("/templates/{template_id}/versions", response_model=list[VersionOut], summary="Versions")
async def template_versions(request: Request, workspace_id: Workspace, template_id: str) -> list[VersionOut]:
    found = await run_in_threadpool(_service(request).versions, workspace_id, template_id)
    return [VersionOut(version=v, created_at=at) for v, at in found]


@router.get("/templates/{template_id}/versions/{version}", response_model=TemplateOut, summary="One version")
async def template_version(
    request: Request, workspace_id: Workspace, template_id: str, version: int
) -> TemplateOut:
    found = await run_in_threadpool(_service(request).version, workspace_id, template_id, version)
    return TemplateOut.of(found)


@router.post("/templates/{template_id}/preview", response_model=PreviewOut, summary="Preview")
async def preview_template(
    request: Request,
    workspace_id: Workspace,
    template_id: str,
    body: Annotated[PreviewBody | None, Body()] = None,
) -> PreviewOut:
    """Subject, preheader, HTML (CSS inlined) and text as they would be sent to `contact_id`."""
    ask = body or PreviewBody()
    shown = await run_in_threadpool(
        lambda: _service(request).preview(
            workspace_id,
            template_id,
            contact_id=ask.contact_id,
            event=ask.event,
            run=ask.run,
            version=ask.version,
        )
    )
    m = shown.message
    return PreviewOut(
        template_id=template_id,
        version=shown.version,
        layout_version=shown.layout_version,
        subject=m.subject,
        preheader=m.preheader,
        from_name=m.from_name,
        html=m.html,
        text=m.text,
    )


# layouts


@router.get("/layouts", response_model=list[LayoutOut], summary="List layouts")
async def list_layouts(request: Request, workspace_id: Workspace) -> list[LayoutOut]:
    return [LayoutOut.of(x) for x in await run_in_threadpool(_service(request).layouts, workspace_id)]


@router.post("/layouts", response_model=LayoutOut, status_code=201, summary="Create a layout")
async def create_layout(request: Request, workspace_id: Workspace, body: LayoutBody) -> LayoutOut:
    saved = await run_in_threadpool(
        _service(request).save_layout, workspace_id, None, body.name, body.format, body.body
    )
    return LayoutOut.of(saved)


@router.get("/layouts/{layout_id}", response_model=LayoutOut, summary="Get a layout")
async def get_layout(request: Request, workspace_id: Workspace, layout_id: str) -> LayoutOut:
    return LayoutOut.of(await run_in_threadpool(_service(request).layout, workspace_id, layout_id))


@router.put("/layouts/{layout_id}", response_model=LayoutOut, summary="Replace a layout")
async def replace_layout(
    request: Request, workspace_id: Workspace, layout_id: str, body: LayoutBody
) -> LayoutOut:
    """Templates using it render with the new version from their next message on."""
    saved = await run_in_threadpool(
        _service(request).save_layout, workspace_id, layout_id, body.name, body.format, body.body
    )
    return LayoutOut.of(saved)


@router.delete("/layouts/{layout_id}", status_code=204, summary="Delete a layout")
async def delete_layout(request: Request, workspace_id: Workspace, layout_id: str) -> Response:
    """409 while a template uses it."""
    await run_in_threadpool(_service(request).delete_layout, workspace_id, layout_id)
    return Response(status_code=204)


# snippets


@router.get("/snippets", response_model=list[SnippetOut], summary="List snippets")
async def list_snippets(request: Request, workspace_id: Workspace) -> list[SnippetOut]:
    return [SnippetOut.of(x) for x in await run_in_threadpool(_service(request).snippets, workspace_id)]


@router.post("/snippets", response_model=SnippetOut, status_code=201, summary="Create a snippet")
async def create_snippet(request: Request, workspace_id: Workspace, body: SnippetBody) -> SnippetOut:
    saved = await run_in_threadpool(_service(request).save_snippet, workspace_id, None, body.name, body.body)
    return SnippetOut.of(saved)


@router.get("/snippets/{snippet_id}", response_model=SnippetOut, summary="Get a snippet")
async def get_snippet(request: Request, workspace_id: Workspace, snippet_id: str) -> SnippetOut:
    return SnippetOut.of(await run_in_threadpool(_service(request).snippet, workspace_id, snippet_id))


@router.put("/snippets/{snippet_id}", response_model=SnippetOut, summary="Replace a snippet")
async def replace_snippet(
    request: Request, workspace_id: Workspace, snippet_id: str, body: SnippetBody
) -> SnippetOut:
    saved = await run_in_threadpool(
        _service(request).save_snippet, workspace_id, snippet_id, body.name, body.body
    )
    return SnippetOut.of(saved)


@router.delete("/snippets/{snippet_id}", status_code=204, summary="Delete a snippet")
async def delete_snippet(request: Request, workspace_id: Workspace, snippet_id: str) -> Response:
    await run_in_threadpool(_service(request).delete_snippet, workspace_id, snippet_id)
    return Response(status_code=204)
