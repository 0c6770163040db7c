"""Operations: health and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.concurrency import run_in_threadpool

from nurture.api.responses import json_response

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Health")
async def healthz(request: Request) -> Response:
    """200 when the database answers, 503 otherwise."""
    ok = await run_in_threadpool(request.app.state.container.healthy)
    return json_response(
        {"status": "ok" if ok else "unavailable", "database": ok}, status_code=200 if ok else 503
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    """The whole server's counters: with several HTTP processes (`nurture serve` sets
    PROMETHEUS_MULTIPROC_DIR for them), every process's figures summed, whichever one answers."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
