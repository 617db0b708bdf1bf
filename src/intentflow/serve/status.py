"""How the stream processor of this server is doing."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from intentflow.features.kinds import MICROS
from intentflow.stream.service import Stream

router = APIRouter(tags=["stream"])


@router.get("/v1/stream/status", summary="The stream processor's progress")
def stream_status(
    request: Request,
    last: Annotated[int | None, Query(ge=1, description="freshness over the last N events")] = None,
) -> dict[str, Any]:
    """What this server's processor has applied (events, late, repeated, scored), its failures
    and last error, the freshness of its recent events (from acceptance to state written, in
    milliseconds: p50, p99, max and a histogram), and its backlog."""
    stream: Stream | None = request.app.state.runtime.stream
    if stream is None:
        return {"running": False}
    found = stream.runner.status(last)
    waiting = stream.source.backlog()
    found["events_behind"] = waiting.events
    found["oldest_unprocessed_age_s"] = waiting.oldest_age_s(time.time() * MICROS)
    return found
