"""Recommendations, similar items and trending items."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from intentflow.recommend.rules import FilterError
from intentflow.recommend.service import Answer, Ask, Recommender
from intentflow.recommend.sources import Candidate
from intentflow.serve.auth import read_key

router = APIRouter(tags=["recommendations"], dependencies=[Depends(read_key)])

MAX_N = 100
"""The most items one answer holds."""


class Recommended(BaseModel):
    """One recommended item."""

    item_id: str
    score: float = Field(
        description="its place in the strategy's order (1, 1/2...) times its boosts"
    )
    source: str = Field(description="the policy source that drew it")
    reason: str


class Recommendations(BaseModel):
    """Recommended items for a person, with what decided them."""

    user_id: str = Field(description="the person (the user an anonymous id is linked to)")
    rec_id: str = Field(description="send it back with impressions, clicks and purchases")
    strategy: str = Field(description="high_intent, casual, sparse or a segment's strategy")
    reasons: list[str] = Field(description="why this strategy")
    items: list[Recommended]
    rules: dict[str, int] = Field(description="each rule that took effect: candidates removed")
    fallback: str | None = Field(description="why popular and trending items filled the answer")
    detail: str | None = Field(description="why the answer is empty, when it is")
    segment: str | None
    intent: float | None


class Similar(BaseModel):
    """Items that go with one item."""

    item_id: str
    items: list[Recommended]
    detail: str | None = None


class Trending(BaseModel):
    """What is trending now."""

    window: str
    category: str | None
    items: list[dict[str, Any]] = Field(description="item_id and decayed score, best first")


def recommender(request: Request) -> Recommender:
    """The server's recommender."""
    found: Recommender | None = request.app.state.runtime.recommender
    if found is None:
        raise HTTPException(503, "recommendations are not ready yet")
    return found


def _items(candidates: list[Candidate]) -> list[dict[str, Any]]:
    return [
        {"item_id": c.item, "score": c.score, "source": c.source, "reason": c.reason}
        for c in candidates
    ]


def split_ids(text: str | None) -> tuple[str, ...]:
    """Item ids given comma-separated."""
    return tuple(i.strip() for i in (text or "").split(",") if i.strip())


@router.get(
    "/v1/recommendations/{user_id}",
    summary="Recommended items for a person",
    response_model=Recommendations,
    responses={422: {"description": "n out of range, a malformed filter or conflicting rules"}},
)
def recommendations(
    user_id: str,
    request: Request,
    n: Annotated[int, Query(ge=1, le=MAX_N, description="how many items")] = 10,
    context_item: Annotated[
        str | None, Query(min_length=1, max_length=256, description="the item on the page")
    ] = None,
    category: Annotated[
        str | None, Query(min_length=1, max_length=256, description="only this category")
    ] = None,
    exclude: Annotated[
        str | None, Query(max_length=10_000, description="item ids to leave out, comma-separated")
    ] = None,
    filter: Annotated[
        str | None,
        Query(max_length=1_000, description="conditions, e.g. price<=50,tag=promotion"),
    ] = None,
) -> dict[str, Any]:
    """Items for the person, routed by their intent and segment (high intent: their own items
    and what goes with them; casual: what is trending in what they like; new or sparse:
    popular items, by the page's context), with the policy's business rules applied. A person
    without state, a missing model or an empty catalog never fail: the answer says what it fell
    back to."""
    ask = Ask(user_id, n, context_item, category, split_ids(exclude), filter)
    try:
        answer = recommender(request).recommend(ask)
    except FilterError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.runtime.served(answer)
    return answer_json(answer)


def answer_json(answer: Answer) -> dict[str, Any]:
    """An answer as the API gives it."""
    return {
        "user_id": answer.user_id,
        "rec_id": answer.rec_id,
        "strategy": answer.strategy,
        "reasons": answer.reasons,
        "items": _items(answer.items),
        "rules": answer.rules,
        "fallback": answer.fallback,
        "detail": answer.detail,
        "segment": answer.segment,
        "intent": answer.intent,
    }


@router.get(
    "/v1/items/{item_id}/similar",
    summary="Items that go with an item",
    response_model=Similar,
    responses={404: {"description": "an item nothing is known of"}},
)
def similar(
    item_id: str,
    request: Request,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 10,
) -> dict[str, Any]:
    """The items people interact with close in time to this one (co-visitation), then the
    best of its category; the policy's rules apply."""
    known, found, detail = recommender(request).similar(item_id, n)
    if not known:
        raise HTTPException(404, f"unknown item {item_id!r}: never put, imported or seen in events")
    return {"item_id": item_id, "items": _items(found), "detail": detail}


@router.get("/v1/trending", summary="What is trending now", response_model=Trending)
def trending(
    request: Request,
    window: Literal["15m", "1h", "24h"] = "15m",
    category: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 10,
) -> dict[str, Any]:
    """The items with the most weighted events in the window (decayed: the latest count most),
    overall or within a category."""
    found = recommender(request)
    ranked = found.trends.top(window, found.now_us(), category)[:n]
    return {
        "window": window,
        "category": category,
        "items": [{"item_id": i, "score": round(s, 6)} for i, s in ranked],
    }
