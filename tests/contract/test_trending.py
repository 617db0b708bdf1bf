"""Trending on every backend: weights by event type, decay with age, windows that slide, top
lists overall and per category, and the two backends agreeing on the same stream."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator

import pytest

from intentflow.features.kinds import MICROS
from intentflow.state.base import TrendingStore
from intentflow.state.memory import MemoryTrending
from intentflow.state.redis import RedisTrending
from intentflow.stream.trending import WINDOWS, Hit, hit

MINUTE = 60 * MICROS
NOW = 10_000 * MINUTE  # on a bucket edge of every window


def _open(kind: str, url: str | None) -> TrendingStore:
    if kind == "memory":
        return MemoryTrending()
    assert url is not None
    return RedisTrending(url, namespace=f"test-{uuid.uuid4().hex}")


@pytest.fixture(params=["memory", "redis"])
def trending(request: pytest.FixtureRequest) -> Iterator[TrendingStore]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    store = _open(str(request.param), url)
    yield store
    store.close()


def test_a_purchase_outweighs_carts_and_views(trending: TrendingStore) -> None:
    events = [
        {"type": "purchase", "item_id": "bought", "category": "shoes", "us": NOW - MINUTE},
        {"type": "add_to_cart", "item_id": "carted", "category": "shoes", "us": NOW - MINUTE},
        {"type": "product_view", "item_id": "viewed", "category": "bags", "us": NOW - MINUTE},
        {"type": "page_view", "us": NOW - MINUTE},  # no item: nothing to add
    ]
    hits = [h for h in map(hit, events) if h is not None]
    assert len(hits) == 3
    trending.add(hits)
    top = trending.top("15m", 3, NOW)
    assert [name for name, _ in top] == ["bought", "carted", "viewed"]
    assert top[0][1] == pytest.approx(5.0) and top[2][1] == pytest.approx(1.0)
    assert [n for n, _ in trending.top("1h", 5, NOW, category="shoes")] == ["bought", "carted"]
    assert [n for n, _ in trending.top("24h", 5, NOW, of="categories")] == ["shoes", "bags"]


def test_older_hits_count_less_and_leave_the_window(trending: TrendingStore) -> None:
    window = WINDOWS["15m"]
    trending.add(
        [
            Hit(NOW - 14 * MINUTE, "old", None, 1.0),
            Hit(NOW - 14 * MINUTE, "old", None, 1.0),
            Hit(NOW - MINUTE, "new", None, 1.0),
            Hit(NOW - 16 * MINUTE, "gone", None, 9.0),  # before the 15 minutes
        ]
    )
    top = dict(trending.top("15m", 10, NOW))
    assert set(top) == {"old", "new"}
    assert top["new"] == pytest.approx(window.decay(window.bucket(NOW - MINUTE), NOW))
    assert top["old"] == pytest.approx(2 * window.decay(window.bucket(NOW - 14 * MINUTE), NOW))
    assert top["old"] < 2 * top["new"]  # two old views weigh less than twice a new one
    assert "gone" in dict(trending.top("1h", 10, NOW))


def test_both_backends_rank_a_stream_alike(redis_url: str) -> None:
    rng = random.Random(3)
    hits = [
        Hit(
            NOW - rng.randrange(0, 20 * 3600) * MICROS,
            f"i{rng.randrange(40)}",
            f"c{rng.randrange(4)}",
            rng.choice([1.0, 2.0, 3.0, 5.0]),
        )
        for _ in range(3000)
    ]
    memory, redis = MemoryTrending(), RedisTrending(redis_url, namespace=uuid.uuid4().hex)
    for start in range(0, len(hits), 500):
        memory.add(hits[start : start + 500])
        redis.add(hits[start : start + 500])
    for window in WINDOWS:
        for category in (None, "c1"):
            ours, theirs = (
                memory.top(window, 10, NOW, category=category),
                redis.top(window, 10, NOW, category=category),
            )
            assert [n for n, _ in ours] == [n for n, _ in theirs]
            assert all(
                math.isclose(a, b, rel_tol=1e-9)
                for (_, a), (_, b) in zip(ours, theirs, strict=True)
            )
    redis.close()
