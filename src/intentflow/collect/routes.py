"""HTTP routes of the collector: the native batch API, Segment's tracking API, health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from intentflow.collect.batch import Kind
from intentflow.collect.handlers import SEGMENT_CALLS, handle
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


def _segment_route(call: Kind) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _write(request, call)

    endpoint.__name__ = f"segment_{call}"
    endpoint.__doc__ = f"Segment's ``/v1/{call}``: one message, the call type implied."
    return endpoint


for _call in SEGMENT_CALLS:
    router.add_api_route(
        f"/v1/{_call}",
        _segment_route(_call),
        methods=["POST"],
        summary=f"Segment-compatible {_call} call",
    )


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
