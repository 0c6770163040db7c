"""The Segment HTTP Tracking API: server routes, analytics.js browser routes, project settings.

The ingest routes (`/v1/track`, `/v1/batch`, … and analytics.js's short `/v1/t`, …) are plain ASGI
endpoints (`IngestEndpoint`), not FastAPI routes: on the hottest path of the system, FastAPI's
per-request machinery (a Request object, dependency solving, response handling) cost more than
reading, validating and queueing the event. `openapi_paths` writes their part of the schema.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nurture.api.auth import basic_user
from nurture.api.metrics import EVENTS_DUPLICATE, EVENTS_INGESTED
from nurture.api.problems import PROBLEM, domain_problem
from nurture.api.responses import json_response
from nurture.bootstrap import Container
from nurture.domain.errors import Invalid, NotFound, NurtureError, Unauthorized
from nurture.domain.keys import KeyKind
from nurture.domain.tracking import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
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


class IngestEndpoint:
    """One tracking route as an ASGI app: read the body, validate it with the domain's parsers, check
    the write key, submit it to group commit and answer after the commit that holds it. Domain errors
    become the same RFC 9457 problems as everywhere else (`problems.domain_problem`)."""

    def __init__(self, kind: MessageType | None, summary: str, description: str = "") -> None:
        self.kind = kind  # None: /v1/batch
        self.limit = MAX_BATCH_BYTES if kind is None else MAX_EVENT_BYTES
        self.summary = summary
        self.description = description  # empty: left out of the schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = encoding = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-encoding":
                encoding = value.decode("latin-1")
        body = await _read_body(receive)
        if body is None:
            return  # the client went away; there is no one to answer
        try:
            await self._ingest(scope["app"].state.container, body, encoding, authorization)
        except NurtureError as exc:
            await domain_problem(exc)(scope, receive, send)
            return
        await send(_OK_START)
        await send(_OK_BODY)

    async def _ingest(self, container: Container, body: bytes, encoding: str, authorization: str) -> None:
        data = _decode_json(body, encoding, self.limit)
        batch = parse_batch(data) if self.kind is None else parse_single(data, self.kind)
        write_key = basic_user(authorization) or batch.write_key
        if not write_key:
            raise Unauthorized("send the write key as the HTTP Basic user name or as `writeKey` in the body")
        workspaces = container.workspaces
        workspace_id = workspaces.authenticate_cached(write_key, KeyKind.WRITE)
        if workspace_id is None:
            workspace_id = await run_in_threadpool(workspaces.authenticate, write_key, KeyKind.WRITE)
        # concurrent requests share commits (group commit); the answer still waits for its own commit
        result = await asyncio.wrap_future(container.ingest.submit(workspace_id, batch))
        if self.kind is not None:
            EVENTS_INGESTED.labels(self.kind.value).inc()
        else:
            for kind, count in Counter(message.type.value for message in batch.messages).items():
                EVENTS_INGESTED.labels(kind).inc(count)
        if result.duplicates:
            EVENTS_DUPLICATE.inc(result.duplicates)


_OK = b'{"success":true}'
_OK_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_OK)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in CORS_HEADERS.items()),
    ],
}
_OK_BODY: Message = {"type": "http.response.body", "body": _OK}


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _decode_json(raw: bytes, encoding: str, limit: int) -> Any:
    """The body as JSON: gzip undone (bounded, so a small bomb cannot blow up), size checked."""
    if encoding.lower() == "gzip":
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


ENDPOINTS: dict[str, IngestEndpoint] = {
    **{
        f"/v1/{kind.value}": IngestEndpoint(
            kind,
            f"Segment {kind.value}",
            f"Segment `{kind.value}` call (HTTP Basic: write key as user name).",
        )
        for kind in MessageType
    },
    "/v1/batch": IngestEndpoint(
        None, "Segment batch", "Up to 500 KB of messages of any type; stored all together or not at all."
    ),
    **{f"/v1/{short}": IngestEndpoint(kind, f"analytics.js {kind.value}") for short, kind in _SHORT.items()},
}
# registered by the app ahead of every other route
routes = [Route(path, endpoint, methods=["POST"]) for path, endpoint in ENDPOINTS.items()]


class TrackingCors:
    """Every answer under /v1/, errors included, carries the CORS headers: browsers post there, and a
    page can only read why an event was refused (or stop retrying it) when the answer allows it.

    A POST to a tracking endpoint is handed straight to it (the same object `routes` registers, which
    writes its own CORS headers), past the route search and the layers below this middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        endpoint = ENDPOINTS.get(scope["path"]) if scope["method"] == "POST" else None
        if endpoint is not None:
            scope["route"] = _ROUTES[scope["path"]]  # what the request metric is labelled with
            await endpoint(scope, receive, _with_cors(send))
        else:
            await self.app(scope, receive, _with_cors(send))


_ROUTES = {route.path: route for route in routes}


def _with_cors(send: Send) -> Send:
    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start" and message is not _OK_START:
            headers = MutableHeaders(scope=message)
            for name, value in CORS_HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return send_with_cors


def openapi_paths() -> dict[str, Any]:
    """The ingest routes' part of /openapi.json (FastAPI documents only its own routes)."""
    problem = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/TrackingProblem"}}}}
    ok = {
        "type": "object",
        "properties": {"success": {"type": "boolean", "enum": [True]}},
        "required": ["success"],
    }
    return {
        path: {
            "post": {
                "tags": ["tracking"],
                "summary": endpoint.summary,
                "description": endpoint.description,
                "operationId": f"ingest_{endpoint.kind.value if endpoint.kind else 'batch'}",
                "security": [{"WriteKey": []}],
                "requestBody": {
                    "required": True,
                    "description": "Segment message JSON (`Content-Encoding: gzip` accepted); the write "
                    "key may come as `writeKey` instead of HTTP Basic.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {
                        "description": "Stored and committed (or a messageId stored before)",
                        "content": {"application/json": {"schema": ok}},
                    },
                    "400": {"description": "Invalid; `errors` names each field", **problem},
                    "401": {"description": "No write key, or an unknown one", **problem},
                },
            }
        }
        for path, endpoint in ENDPOINTS.items()
        if endpoint.description
    }


OPENAPI_COMPONENTS: dict[str, dict[str, Any]] = {
    "securitySchemes": {
        "WriteKey": {"type": "http", "scheme": "basic", "description": "The write key as the user name."}
    },
    "schemas": {
        "TrackingProblem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}


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
