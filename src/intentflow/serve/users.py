"""Per-person answers from the online state: the current intent score and segment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from intentflow.features.kinds import MICROS
from intentflow.features.online import OnlinePerson
from intentflow.serve.auth import read_key
from intentflow.serve.recs import recommender

router = APIRouter(tags=["users"], dependencies=[Depends(read_key)])


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


def person_of(request: Request, user_id: str) -> tuple[str, OnlinePerson]:
    """A person's id (the user an anonymous id is linked to) and online state: 404 when there
    is none, 503 when this server keeps no online state."""
    found = recommender(request)
    if found.people is None:
        raise HTTPException(
            503, "this server keeps no online state: enable the stream or use the redis state"
        )
    person_id, person = found.person(user_id)
    if person is None:
        raise HTTPException(
            404, f"no online state for {user_id!r}: no events seen yet, or idle past the TTL"
        )
    return person_id, person


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
    user_id, person = person_of(request, user_id)
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


class Segment(BaseModel):
    """A person's behavioral segment, from their current online features."""

    user_id: str
    segment: int | None = Field(description="the segment's id; null: no segments model yet")
    name: str | None
    distance: float | None = Field(description="to the segment's centre, in clustering space")
    model_version: str | None
    detail: str | None = None


@router.get(
    "/v1/users/{user_id}/segment",
    summary="A person's segment",
    response_model=Segment,
    responses={404: {"description": "no events of this person in the online state"}},
)
def segment(user_id: str, request: Request) -> dict[str, Any]:
    """The segments champion's placing of the person on their features now (an anonymous id
    linked to a user answers with the user's)."""
    found = recommender(request)
    person_id, person = person_of(request, user_id)
    model = None if found.segments is None else found.segments.current()
    if model is None:
        return {
            "user_id": person_id,
            "segment": None,
            "name": None,
            "distance": None,
            "model_version": None,
            "detail": "no segments model is promoted yet: run intentflow segment",
        }
    placed = model.assign_one(person.values(found.now_us()))
    return {
        "user_id": person_id,
        "segment": placed.segment,
        "name": placed.name,
        "distance": round(placed.distance, 6),
        "model_version": model.version,
    }
