"""SMS: the workspace's provider settings (admin API), and the provider's callbacks: inbound messages
(STOP / START) and delivery statuses. The callbacks are authenticated by the secret in their URL and,
when an auth token is configured, by the `X-Twilio-Signature` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.services.sms import SmsSettingsView

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])
Workspace = Annotated[str, Depends(secret_workspace)]
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class SmsSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        default=None, description="Twilio-compatible API root; default https://api.twilio.com"
    )
    account_sid: str | None = None
    auth_token: str | None = Field(default=None, description="Left out: the stored token is kept")
    from_number: str | None = Field(default=None, description="E.164, e.g. +14155550123")
    messaging_service_sid: str | None = None


class SmsSettingsOut(BaseModel):
    provider: str
    base_url: str | None
    account_sid: str | None
    from_number: str | None
    messaging_service_sid: str | None
    auth_token_set: bool
    configured: bool = Field(description="Whether this workspace can send SMS (its settings or the server's)")
    inbound_url: str | None = Field(description="Set as the number's incoming-message webhook (STOP/START)")
    status_callback_url: str | None = Field(
        description="Where delivery reports arrive (nurture asks for them)"
    )

    @classmethod
    def of(cls, view: SmsSettingsView) -> SmsSettingsOut:
        s = view.settings
        return cls(
            provider=s.provider,
            base_url=s.base_url,
            account_sid=s.account_sid,
            from_number=s.from_number,
            messaging_service_sid=s.messaging_service_sid,
            auth_token_set=s.auth_token is not None,
            configured=view.configured,
            inbound_url=view.inbound_url,
            status_callback_url=view.status_callback_url,
        )


@router.get("/settings", response_model=SmsSettingsOut, summary="The workspace's SMS provider")
async def get_settings(request: Request, workspace_id: Workspace) -> SmsSettingsOut:
    return SmsSettingsOut.of(await run_in_threadpool(_container(request).sms.settings, workspace_id))


@router.put("/settings", response_model=SmsSettingsOut, summary="Set the workspace's SMS provider")
async def put_settings(request: Request, workspace_id: Workspace, body: SmsSettingsBody) -> SmsSettingsOut:
    """Fields left out fall back to the server's NURTURE_SMS_URL / NURTURE_SMS_FROM (the auth token, when
    left out, stays as stored). The answer holds the callback URLs to configure at the provider."""
    given = body.model_dump(exclude_unset=True)
    return SmsSettingsOut.of(
        await run_in_threadpool(_container(request).sms.put_settings, workspace_id, given)
    )


async def _callback(request: Request) -> tuple[list[str], dict[str, list[str]], str | None]:
    form = await request.form()
    params: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        params.setdefault(name, []).append(value if isinstance(value, str) else "")
    # the URL the provider signed: as this server saw it, and as it is published (behind a proxy)
    public = _container(request).settings.base_url()
    seen = str(request.url)
    published = f"{public}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")
    return [seen, published], params, request.headers.get("x-twilio-signature")


@router.post("/inbound/{token}", summary="Inbound SMS webhook (Twilio format)", response_class=Response)
async def inbound(request: Request, token: str) -> Response:
    """STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (and Twilio's OPTOUT, REVOKE) unsubscribe the
    sender's contacts from SMS and suppress the number; START, YES, UNSTOP undo it; HELP and other
    text change nothing. Answers empty TwiML."""
    urls, params, signature = await _callback(request)
    await run_in_threadpool(_container(request).sms.inbound, token, urls, params, signature)
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/status/{token}", status_code=204, summary="SMS delivery status callback (Twilio format)")
async def delivery_status(request: Request, token: str, message_id: str | None = None) -> Response:
    """`delivered` becomes a delivered message event; `undelivered` and `failed` a bounce."""
    urls, params, signature = await _callback(request)
    await run_in_threadpool(
        _container(request).sms.delivery_status, token, urls, message_id, params, signature
    )
    return Response(status_code=204)
