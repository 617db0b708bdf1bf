"""How the stream processor and the recommender of this server are doing (operational, like
``/readyz``: no personal data, no key)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from intentflow.features.kinds import MICROS
from intentflow.recommend.service import Recommender
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


@router.get("/v1/recommend/status", summary="The recommender's lists and policy")
def recommend_status(request: Request) -> dict[str, Any]:
    """What the lists served from memory were learned from (interactions, items with
    neighbours, when, the last error), the item catalog's size, the policy's strategies and the
    segments model in use."""
    runtime = request.app.state.runtime
    found: Recommender | None = runtime.recommender
    if found is None:
        return {"ready": False}
    lists = found.learner.lists
    segments = None if found.segments is None else found.segments.model
    return {
        "ready": True,
        "lists": {
            "interactions": lists.interactions,
            "items_with_neighbours": len(lists.covisitation.neighbours_),
            "popular_items": len(lists.popular.ranked_),
            "learned_at": datetime.fromtimestamp(lists.learned_at, UTC).isoformat(),
            "last_error": found.learner.last_error,
        },
        "items": found.items.counts(),
        "strategies": found.policy.strategies,
        "segments_model": None if segments is None else segments.version,
    }
