"""The write endpoints, independent of the web framework.

:func:`handle` takes the call (``events`` for the native API, ``batch`` or a single Segment call),
the request headers (lower-case names) and the body chunks, and returns the reply. The FastAPI
routes and the raw-ASGI fast path both call it, so every write has one behaviour and one set of
error messages.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple

import msgspec

from intentflow.collect.batch import Kind
from intentflow.collect.body import check_content_type, read_body
from intentflow.collect.collector import BatchResult
from intentflow.collect.exceptions import CollectError, UnauthorizedError
from intentflow.collect.runtime import CollectorRuntime
from intentflow.collect.validate import now_utc

log = logging.getLogger(__name__)

SEGMENT_CALLS: tuple[Kind, ...] = ("track", "page", "screen", "identify", "alias", "group")
_encoder = msgspec.json.Encoder()
_ALL_ACCEPTED = {
    n: _encoder.encode({"accepted": n, "duplicates": 0, "rejected": []}) for n in range(1, 1001)
}


class Reply(NamedTuple):
    """Status, JSON body and extra headers of a reply."""

    status: int
    body: bytes
    headers: dict[str, str]


async def handle(
    runtime: CollectorRuntime, call: Kind, headers: Mapping[str, str], chunks: AsyncIterator[bytes]
) -> Reply:
    """Run one write call; request-level problems become 4xx replies with their reason."""
    try:
        return await _handle(runtime, call, headers, chunks)
    except CollectError as exc:
        extra = {"WWW-Authenticate": 'Basic realm="intentflow"'} if exc.status == 401 else {}
        return Reply(exc.status, _encoder.encode({"error": exc.reason}), extra)
    except Exception:  # never a 500: the client may retry, nothing was acknowledged
        log.exception("write call %s failed", call)
        body = {"error": "the collector could not take this request now; retry it"}
        return Reply(503, _encoder.encode(body), {"Retry-After": "1"})


async def _handle(
    runtime: CollectorRuntime, call: Kind, headers: Mapping[str, str], chunks: AsyncIterator[bytes]
) -> Reply:
    key = runtime.keys.from_header(headers.get("authorization"))
    key = key if runtime.keys.valid(key) else None
    if call == "events":
        _require_key(runtime, key)
    check_content_type(headers.get("content-type"))
    body = await read_body(
        chunks,
        content_length=headers.get("content-length"),
        content_encoding=headers.get("content-encoding"),
        limit=runtime.settings.collect.max_body_bytes,
    )
    received_at = now_utc()
    outcome = await runtime.validation.run(body, call, received_at)
    if outcome.error is not None:
        if key is None:
            _require_key(runtime, outcome.write_key)
        raise CollectError(outcome.error, status=outcome.status)
    _require_key(runtime, key or outcome.write_key)
    result = await runtime.collector.commit(outcome, call, received_at)
    return _reply(result, None if call == "events" else {"success": not result.rejected})


def _require_key(runtime: CollectorRuntime, key: str | None) -> None:
    if not runtime.keys.valid(key):
        raise UnauthorizedError(
            "a valid write key is required (HTTP Basic username or Bearer token)"
        )


def _reply(result: BatchResult, extra: dict[str, Any] | None) -> Reply:
    if (
        not extra
        and not result.rejected
        and not result.duplicates
        and result.accepted in _ALL_ACCEPTED
    ):
        return Reply(200, _ALL_ACCEPTED[result.accepted], {})
    status = 400 if result.rejected and not result.accepted and not result.duplicates else 200
    body = msgspec.structs.asdict(result)
    body["rejected"] = [{"index": r.index, "reason": r.reason} for r in result.rejected]
    if extra:
        body.update(extra)
    return Reply(status, _encoder.encode(body), {})
