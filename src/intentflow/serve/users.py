"""Per-person answers: the current intent score from the online state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from intentflow.features.kinds import MICROS
from intentflow.state.base import StateStore

router = APIRouter(tags=["users"])


class Intent(BaseModel):
    """A person's latest intent score, as the stream processor left it."""

    user_id: str
    score: float | None = Field(description="calibrated purchase probability; null: not scored")
    intent_class: Literal["high_intent", "casual"] | None = Field(
        alias="class", description="by the model's stored threshold"
    )
    reasons: list[str] = Field(description="what raised or lowered the score most, in words")
    scored_at: datetime | None
    model_version: str | None
    detail: str | None = Field(default=None, description="why there is no score yet")


def store_of(request: Request) -> StateStore:
    """The online state this server reads (503 when it runs none)."""
    store: StateStore | None = request.app.state.runtime.people
    if store is None:
        raise HTTPException(
            503, "this server keeps no online state: enable the stream or use the redis state"
        )
    return store


@router.get(
    "/v1/users/{user_id}/intent",
    summary="A person's current purchase intent",
    response_model=Intent,
    response_model_by_alias=True,
    responses={404: {"description": "no events of this person in the online state"}},
)
def intent(user_id: str, request: Request) -> dict[str, Any]:
    """The score, class (high intent or casual), top reasons and time of scoring, refreshed by
    the stream processor within seconds of the person's events. An anonymous id linked to a
    user answers with that user's score."""
    store = store_of(request)
    person = store.get(user_id)
    if person is None and (linked := store.aliases([user_id]).get(user_id)) is not None:
        person, user_id = store.get(linked), linked
    if person is None:
        raise HTTPException(
            404, f"no online state for {user_id!r}: no events seen yet, or idle past the TTL"
        )
    score = person.intent
    if score is None:
        return {
            "user_id": user_id,
            "score": None,
            "class": None,
            "reasons": [],
            "scored_at": None,
            "model_version": None,
            "detail": "not scored yet: no intent model is promoted, or its first score is due",
        }
    return {
        "user_id": user_id,
        "score": score.score,
        "class": "high_intent" if score.high_intent else "casual",
        "reasons": score.words(),
        "scored_at": datetime.fromtimestamp(score.scored_at_us / MICROS, UTC),
        "model_version": score.model_version,
    }
