"""The Segment HTTP Tracking API: server routes, analytics.js browser routes, project settings."""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nurture.api.auth import basic_user
from nurture.api.metrics import EVENTS_DUPLICATE, EVENTS_INGESTED
from nurture.api.responses import json_response
from nurture.bootstrap import Container
from nurture.domain.errors import Invalid, NotFound, Unauthorized
from nurture.domain.keys import KeyKind
from nurture.domain.tracking import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Batch,
    MessageType,
    parse_batch,
    parse_single,
)

router = APIRouter(tags=["tracking"])

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Max-Age": "86400",
}
_SHORT = {
    "i": MessageType.IDENTIFY,
    "t": MessageType.TRACK,
    "p": MessageType.PAGE,
    "s": MessageType.SCREEN,
    "g": MessageType.GROUP,
    "a": MessageType.ALIAS,
}
_OK = b'{"success":true}'


class TrackingCors:
    """Every answer under /v1/, errors included, carries the CORS headers: browsers post there, and a
    page can only read why an event was refused (or stop retrying it) when the answer allows it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in CORS_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _read_json(request: Request, limit: int) -> Any:
    """The body as JSON: gzip undone (bounded, so a small bomb cannot blow up), size checked."""
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error:
            raise Invalid.one("body", "Content-Encoding is gzip but the body is not valid gzip") from None
        if len(raw) <= limit and not inflater.eof:
            raise Invalid.one("body", "Content-Encoding is gzip but the gzip stream is cut short")
    if len(raw) > limit:
        raise Invalid.one("body", f"request body exceeds {limit} bytes ({limit // 1024} KB)")
    if not raw:
        raise Invalid.one("body", "is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid.one("body", f"is not valid JSON ({exc})") from None


async def _ingest(request: Request, batch: Batch) -> Response:
    container: Container = request.app.state.container
    write_key = basic_user(request) or batch.write_key
    if not write_key:
        raise Unauthorized("send the write key as the HTTP Basic user name or as `writeKey` in the body")
    workspace_id = container.workspaces.authenticate_cached(write_key, KeyKind.WRITE)
    if workspace_id is None:
        workspace_id = await run_in_threadpool(container.workspaces.authenticate, write_key, KeyKind.WRITE)
    # concurrent requests share commits (group commit); the answer still waits for its own commit
    result = await asyncio.wrap_future(container.ingest.submit(workspace_id, batch))
    for kind, count in Counter(message.type.value for message in batch.messages).items():
        EVENTS_INGESTED.labels(kind).inc(count)
    if result.duplicates:
        EVENTS_DUPLICATE.inc(result.duplicates)
    return Response(_OK, media_type="application/json", headers=CORS_HEADERS)


def _single(kind: MessageType) -> Any:
    async def endpoint(request: Request) -> Response:
        return await _ingest(request, parse_single(await _read_json(request, MAX_EVENT_BYTES), kind))

    endpoint.__name__ = f"ingest_{kind.value}"
    endpoint.__doc__ = f"Segment `{kind.value}` call (HTTP Basic: write key as user name)."
    return endpoint


for _kind in MessageType:
    router.add_api_route(
        f"/v1/{_kind.value}", _single(_kind), methods=["POST"], summary=f"Segment {_kind.value}"
    )
for _short, _kind in _SHORT.items():
    router.add_api_route(
        f"/v1/{_short}",
        _single(_kind),
        methods=["POST"],
        summary=f"analytics.js {_kind.value}",
        include_in_schema=False,
    )


@router.post("/v1/batch", summary="Segment batch")
async def ingest_batch(request: Request) -> Response:
    """Up to 500 KB of messages of any type; stored all together or not at all."""
    return await _ingest(request, parse_batch(await _read_json(request, MAX_BATCH_BYTES)))


@router.options("/v1/{path:path}", include_in_schema=False)
async def preflight(path: str) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


@router.get("/v1/projects/{write_key}/settings", summary="analytics.js settings")
async def project_settings(write_key: str, request: Request) -> Response:
    """What analytics.js loads at start: where to send events (this server) and with which key."""
    container: Container = request.app.state.container
    try:
        await run_in_threadpool(container.workspaces.authenticate, write_key, KeyKind.WRITE)
    except Unauthorized:
        raise NotFound("no workspace has this write key") from None
    host = request.headers.get("host", f"{container.settings.host}:{container.settings.port}")
    settings = {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": f"{host}/v1",
                "protocol": request.url.scheme,
                "unbundledIntegrations": [],
                "addBundledMetadata": False,
            },
        },
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
    return json_response(settings, headers=CORS_HEADERS)
