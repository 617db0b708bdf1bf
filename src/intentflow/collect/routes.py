"""HTTP routes of the collector: the native batch API, Segment's tracking API, health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from intentflow.collect.batch import Kind
from intentflow.collect.handlers import handle
from intentflow.collect.runtime import CollectorRuntime
from intentflow.events import event_json_schema

router = APIRouter()


def runtime_of(request: Request) -> CollectorRuntime:
    """The collector runtime the app was built with."""
    runtime: CollectorRuntime = request.app.state.runtime
    return runtime


async def _write(request: Request, call: Kind) -> Response:
    reply = await handle(runtime_of(request), call, request.headers, request.stream())
    return Response(reply.body, reply.status, reply.headers, media_type="application/json")


@router.post(
    "/v1/events",
    summary="Send a batch of events",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
            },
        }
    },
)
async def post_events(request: Request) -> Response:
    """Store a batch of native events. Each event is validated on its own: the good ones are kept,
    the bad ones are quarantined and listed with their index and reason."""
    return await _write(request, "events")


@router.post("/v1/batch", summary="Segment-compatible batch")
async def segment_batch(request: Request) -> Response:
    """Segment's ``/v1/batch``: ``{"batch": [message, ...]}`` with the write key as the Basic
    username or as ``writeKey`` in the body."""
    return await _write(request, "batch")


@router.post("/v1/track", summary="Segment-compatible track call")
async def segment_track(request: Request) -> Response:
    """Segment's ``/v1/track``."""
    return await _write(request, "track")


@router.post("/v1/page", summary="Segment-compatible page call")
async def segment_page(request: Request) -> Response:
    """Segment's ``/v1/page``."""
    return await _write(request, "page")


@router.post("/v1/screen", summary="Segment-compatible screen call")
async def segment_screen(request: Request) -> Response:
    """Segment's ``/v1/screen``."""
    return await _write(request, "screen")


@router.post("/v1/identify", summary="Segment-compatible identify call")
async def segment_identify(request: Request) -> Response:
    """Segment's ``/v1/identify``."""
    return await _write(request, "identify")


@router.post("/v1/alias", summary="Segment-compatible alias call")
async def segment_alias(request: Request) -> Response:
    """Segment's ``/v1/alias``."""
    return await _write(request, "alias")


@router.post("/v1/group", summary="Segment-compatible group call")
async def segment_group(request: Request) -> Response:
    """Segment's ``/v1/group``."""
    return await _write(request, "group")


@router.get("/v1/schema", summary="JSON Schema of an event")
async def schema() -> JSONResponse:
    """The JSON Schema every event is validated against."""
    return JSONResponse(event_json_schema())


@router.get("/healthz", summary="Liveness")
async def healthz() -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness")
async def readyz(request: Request) -> JSONResponse:
    """Ready to accept events: the log is open and the flusher is healthy."""
    runtime = runtime_of(request)
    ok = runtime.ready and runtime.log.healthy
    detail: dict[str, Any] = {"status": "ready" if ok else "not ready"}
    if runtime.ready:
        detail["backlog_bytes"] = runtime.log.backlog_bytes
        flusher = runtime.log.flusher
        if flusher is not None and flusher.last_error:
            detail["flush_error"] = flusher.last_error
    return JSONResponse(detail, status_code=200 if ok else 503)
