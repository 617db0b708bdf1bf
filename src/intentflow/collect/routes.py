"""HTTP routes of the collector: the native batch API and Segment's tracking API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from intentflow.collect.body import check_content_type, read_body
from intentflow.collect.collector import BatchResult
from intentflow.collect.exceptions import CollectError, PayloadTooLargeError, UnauthorizedError
from intentflow.collect.runtime import CollectorRuntime
from intentflow.events import event_json_schema

router = APIRouter()
T = TypeVar("T")

SegmentCall = Literal["track", "page", "screen", "identify", "alias", "group"]


class NativeBody(msgspec.Struct):
    events: list[msgspec.Raw]


class SegmentBatchBody(msgspec.Struct):
    batch: list[msgspec.Raw]
    writeKey: str | None = None  # noqa: N815 - Segment's wire name


class SegmentSingleKey(msgspec.Struct):
    writeKey: str | None = None  # noqa: N815 - Segment's wire name


_native = msgspec.json.Decoder(NativeBody)
_segment_batch = msgspec.json.Decoder(SegmentBatchBody)
_segment_key = msgspec.json.Decoder(SegmentSingleKey)
_segment_message = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def runtime_of(request: Request) -> CollectorRuntime:
    """The collector runtime the app was built with."""
    runtime: CollectorRuntime = request.app.state.runtime
    return runtime


async def _body(request: Request, runtime: CollectorRuntime) -> bytes:
    headers = request.headers
    check_content_type(headers.get("content-type"))
    return await read_body(
        request.stream(),
        content_length=headers.get("content-length"),
        content_encoding=headers.get("content-encoding"),
        limit=runtime.settings.collect.max_body_bytes,
    )


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes, shape: str) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise CollectError(f"body must be {shape}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise CollectError(
            f"malformed JSON: {str(exc).removeprefix('JSON is malformed: ')}"
        ) from None
    except RecursionError:
        raise CollectError("malformed JSON: nested too deeply") from None


def _keyed(runtime: CollectorRuntime, key: str | None, decode: Callable[[], T]) -> T:
    """Decode a body that may carry the write key; without any key a bad body is a 401."""
    try:
        return decode()
    except CollectError:
        _require_key(runtime, key)
        raise


def _check_batch_size(runtime: CollectorRuntime, count: int) -> None:
    limit = runtime.settings.collect.max_batch_events
    if count > limit:
        raise PayloadTooLargeError(f"batch of {count} events is over the limit of {limit}")


def _reply(result: BatchResult, extra: dict[str, Any] | None = None) -> Response:
    status = 400 if result.rejected and not result.accepted and not result.duplicates else 200
    body = msgspec.structs.asdict(result)
    body["rejected"] = [{"index": r.index, "reason": r.reason} for r in result.rejected]
    if extra:
        body.update(extra)
    return Response(_encoder.encode(body), status_code=status, media_type="application/json")


def _header_key(request: Request, runtime: CollectorRuntime) -> str | None:
    key = runtime.keys.from_header(request.headers.get("authorization"))
    return key if runtime.keys.valid(key) else None


def _require_key(runtime: CollectorRuntime, key: str | None) -> None:
    if not runtime.keys.valid(key):
        raise UnauthorizedError(
            "a valid write key is required (HTTP Basic username or Bearer token)"
        )


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
    runtime = runtime_of(request)
    _require_key(runtime, _header_key(request, runtime))
    body = await _body(request, runtime)
    envelope = _decode(_native, body, 'an object with an "events" list')
    _check_batch_size(runtime, len(envelope.events))
    result = await runtime.collector.accept(envelope.events, fmt="native", source="api")
    return _reply(result)


@router.post("/v1/batch", summary="Segment-compatible batch")
async def segment_batch(request: Request) -> Response:
    """Segment's ``/v1/batch``: ``{"batch": [message, ...]}`` with the write key as the Basic
    username or as ``writeKey`` in the body."""
    runtime = runtime_of(request)
    key = _header_key(request, runtime)
    body = await _body(request, runtime)
    envelope = _keyed(
        runtime, key, lambda: _decode(_segment_batch, body, 'an object with a "batch" list')
    )
    _require_key(runtime, key or envelope.writeKey)
    _check_batch_size(runtime, len(envelope.batch))
    result = await runtime.collector.accept(envelope.batch, fmt="segment", source="segment")
    return _reply(result, {"success": not result.rejected})


async def _segment_single(request: Request, call: SegmentCall) -> Response:
    runtime = runtime_of(request)
    key = _header_key(request, runtime)
    body = await _body(request, runtime)
    message = _keyed(runtime, key, lambda: _decode(_segment_message, body, "a JSON object"))
    _require_key(runtime, key or _decode(_segment_key, body, "a JSON object").writeKey)
    message.setdefault("type", call)
    result = await runtime.collector.accept(
        [_encoder.encode(message)], fmt="segment", source="segment"
    )
    return _reply(result, {"success": not result.rejected})


@router.post("/v1/track", summary="Segment-compatible track call")
async def segment_track(request: Request) -> Response:
    """Segment's ``/v1/track``."""
    return await _segment_single(request, "track")


@router.post("/v1/page", summary="Segment-compatible page call")
async def segment_page(request: Request) -> Response:
    """Segment's ``/v1/page``."""
    return await _segment_single(request, "page")


@router.post("/v1/screen", summary="Segment-compatible screen call")
async def segment_screen(request: Request) -> Response:
    """Segment's ``/v1/screen``."""
    return await _segment_single(request, "screen")


@router.post("/v1/identify", summary="Segment-compatible identify call")
async def segment_identify(request: Request) -> Response:
    """Segment's ``/v1/identify``."""
    return await _segment_single(request, "identify")


@router.post("/v1/alias", summary="Segment-compatible alias call")
async def segment_alias(request: Request) -> Response:
    """Segment's ``/v1/alias``."""
    return await _segment_single(request, "alias")


@router.post("/v1/group", summary="Segment-compatible group call")
async def segment_group(request: Request) -> Response:
    """Segment's ``/v1/group``."""
    return await _segment_single(request, "group")


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
