"""A raw-ASGI fast path for the write endpoints.

Batches arrive hundreds of times a second; the framework's routing, dependency and middleware
layers cost about as much per request as validating a hundred events. This middleware answers
``POST`` to the write paths straight from :func:`~intentflow.collect.handlers.handle` (the same
function the documented FastAPI routes call) and passes everything else on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Receive, Scope, Send

from intentflow.collect.batch import Kind
from intentflow.collect.handlers import SEGMENT_CALLS, handle
from intentflow.collect.runtime import CollectorRuntime

PATHS: dict[str, Kind] = {"/v1/events": "events", "/v1/batch": "batch"}
PATHS.update({f"/v1/{call}": call for call in SEGMENT_CALLS})


class WriteFastPath:
    """ASGI middleware: the write endpoints without the framework around them."""

    def __init__(self, app: ASGIApp, runtime: CollectorRuntime):
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if call is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        reply = await handle(self.runtime, call, headers, _chunks(receive))
        response_headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        response_headers.extend((k.lower().encode(), v.encode()) for k, v in reply.headers.items())
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": reply.body})


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return
