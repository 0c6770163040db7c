"""Delivery reports over HTTP: ESP delivery-event webhooks (authenticated by a secret path token and the
provider's own signature), their configuration (secret key), and inbound DSN/ARF mail (secret key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.api.responses import json_response
from nurture.bootstrap import Container
from nurture.domain.errors import Invalid

router = APIRouter(tags=["deliveries"])
Workspace = Annotated[str, Depends(secret_workspace)]
MAX_BODY = 10 * 1024 * 1024


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Invalid.one("body", f"is larger than {MAX_BODY} bytes")
    return body


@router.post(
    "/api/v1/delivery-reports/{provider}/{token}",
    summary="Receive a provider's delivery events (SES via SNS, SendGrid, Postmark, Mailgun)",
)
async def receive(request: Request, provider: str, token: str) -> Response:
    """The URL `POST /api/v1/delivery-reports` answered, given to the provider as its webhook URL.
    The token finds the workspace; the provider's signature is checked with the configured key."""
    container: Container = request.app.state.container
    body = await _body(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    receipt = await run_in_threadpool(container.delivery_webhooks.receive, provider, token, body, headers)
    answer: dict[str, Any] = receipt.applied.as_json()
    if receipt.subscribe_url:
        answer["subscribe_url"] = receipt.subscribe_url
    return json_response(answer, 200)


@router.get("/api/v1/delivery-reports", summary="The delivery webhooks configured (no secrets)")
async def list_webhooks(request: Request, workspace_id: Workspace) -> Response:
    container: Container = request.app.state.container
    found = await run_in_threadpool(container.delivery_webhooks.list, workspace_id)
    return json_response(
        {
            "data": [
                {
                    "provider": w.provider,
                    "path_prefix": w.path_prefix,
                    "settings": w.settings,
                    "created_at": w.created_at.isoformat(),
                }
                for w in found
            ]
        },
        200,
    )


@router.post("/api/v1/delivery-reports", status_code=201, summary="Configure a provider's webhook")
async def configure(
    request: Request,
    workspace_id: Workspace,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[{"provider": "mailgun", "signing_key": "key-…"}],
            description="`provider` and what its signature is checked with: SendGrid `public_key`, "
            "Mailgun `signing_key`, SES `certificates_pem` (+ `topic_arns`), Postmark `basic_password`.",
        ),
    ],
) -> Response:
    """Answers the webhook path with a new secret token, shown only now; configuring again replaces it."""
    container: Container = request.app.state.container
    provider = body.get("provider")
    if not isinstance(provider, str) or not provider:
        raise Invalid.one("provider", "is required: ses, sendgrid, postmark or mailgun")
    settings = {k: v for k, v in body.items() if k != "provider"}
    made = await run_in_threadpool(container.delivery_webhooks.configure, workspace_id, provider, settings)
    return json_response({"provider": made.provider, "token": made.token, "path": made.path}, 201)


@router.delete("/api/v1/delivery-reports/{provider}", status_code=204, summary="Remove a webhook")
async def remove(request: Request, workspace_id: Workspace, provider: str) -> Response:
    container: Container = request.app.state.container
    await run_in_threadpool(container.delivery_webhooks.remove, workspace_id, provider)
    return Response(status_code=204)


@router.post(
    "/api/v1/bounces/inbound",
    summary="Apply a bounce (DSN, RFC 3464) or complaint (ARF, RFC 5965) mail, as received",
    openapi_extra={
        "requestBody": {"required": True, "content": {"message/rfc822": {"schema": {"type": "string"}}}}
    },
)
async def inbound(request: Request, workspace_id: Workspace) -> Response:
    """For an MTA or inbound-mail service that pipes the bounce address's mail here."""
    container: Container = request.app.state.container
    body = await _body(request)
    applied = await run_in_threadpool(container.deliveries.ingest_report, workspace_id, body)
    return json_response(applied.as_json(), 200)
