"""Builds the FastAPI application around a container."""

from __future__ import annotations

import fcntl
import gc
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nurture import __version__
from nurture.api import (
    accounts,
    activities,
    alerts,
    catalog,
    consents,
    contact_audiences,
    contacts,
    deliveries,
    imports,
    journeys,
    lists,
    messages,
    messaging,
    ops,
    pages,
    problems,
    routing,
    scoring,
    segments,
    sms,
    templates,
    topics,
    tracking,
    webhooks,
)
from nurture.api.metrics import HTTP_REQUESTS
from nurture.bootstrap import Container, build
from nurture.logs import configure
from nurture.settings import EMBEDDED_LOCK

log = structlog.get_logger("nurture.http")


class _Observe:
    """Records a duration metric per route and logs each request (pure ASGI: cheap on the hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], path, str(status)).observe(elapsed)
            log.debug(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(elapsed * 1000, 2),
            )


def create_app(container: Container, *, run_worker: bool = False) -> FastAPI:
    """The app; with `run_worker` the background worker runs in this process while it serves."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            for worker in container.background():
                worker.start()
        yield
        container.close()

    app = FastAPI(
        title="nurture",
        version=__version__,
        summary="Marketing automation: Segment-compatible tracking API and admin REST API.",
        lifespan=lifespan,
    )
    app.state.container = container
    problems.install(app)
    app.router.routes.extend(tracking.routes)  # plain ASGI endpoints, ahead of every other route
    _document_tracking(app)
    for module in (
        tracking,
        contacts,
        contact_audiences,
        consents,
        accounts,
        catalog,
        imports,
        lists,
        activities,
        scoring,
        segments,
        templates,
        journeys,
        webhooks,
        sms,
        alerts,
        messages,
        messaging,
        topics,
        pages,
        deliveries,
        ops,
    ):
        app.include_router(module.router)
    for router in (routing.owners_router, routing.routing_router, routing.assign_router):
        app.include_router(router)
    app.include_router(segments.contact_router)
    app.include_router(journeys.contact_router)
    app.add_middleware(tracking.TrackingCors)
    app.add_middleware(_Observe)
    return app


def _document_tracking(app: FastAPI) -> None:
    """/openapi.json: FastAPI's schema plus the tracking endpoints, which are not FastAPI routes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"] = {**tracking.openapi_paths(), **schema["paths"]}
            components = schema.setdefault("components", {})
            for part, entries in tracking.OPENAPI_COMPONENTS.items():
                components.setdefault(part, {}).update(entries)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> Any:
    """Factory for `uvicorn --factory` (one per worker process), configured from NURTURE_ settings."""
    container = build()
    configure(container.settings.log_level, container.settings.log_json)
    app = create_app(container, run_worker=container.settings.embedded_worker and _worker_lock())
    # Everything made so far (modules, routes, the container) lives as long as the process; moving it
    # out of the collector's generations means collections triggered by per-request garbage no
    # longer walk it.
    gc.collect()
    gc.freeze()
    return app


_held: list[int] = []  # the lock's descriptor, open for the life of the process


def _worker_lock() -> bool:
    """Whether this HTTP process runs the embedded workers: always when it is the only one; of
    several, the one that holds the lock file `nurture serve` named (a process that dies lets it go,
    and the one started in its place takes it), so idle workers do not poll once per process."""
    path = os.environ.get(EMBEDDED_LOCK)
    if not path:
        return True
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        return False
    _held.append(handle)
    return True
