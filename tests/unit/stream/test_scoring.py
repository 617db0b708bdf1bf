"""Intent scores that follow events: throttled per person, from the registry's champion, a new
champion picked up without a restart, a broken one refused; trending fed by the same batches."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, online_features
from intentflow.models.intent import KIND
from intentflow.models.intent.model import MODEL_FILE
from intentflow.models.registry import Registry
from intentflow.state.base import decode, encode
from intentflow.state.memory import MemoryStore, MemoryTrending
from intentflow.stream.processor import Processor
from intentflow.stream.scoring import Scorer
from tests.models import train_online_model

CATALOG = Catalog.of(online_features())


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("models")
    first = train_online_model(root, 1)
    second = train_online_model(root, 2)
    Registry(root).promote(KIND, first)
    return root, first, second


def _events(person: str, kinds: list[str], start: int, offset: int) -> list[dict[str, Any]]:
    return [
        {
            "type": kind,
            "user_id": person,
            "item_id": f"i{i}",
            "category": "shoes",
            "us": start + i * 10 * MICROS,
            "message_id": f"{person}-{offset + i}",
            "partition": "log",
            "offset": offset + i,
        }
        for i, kind in enumerate(kinds)
    ]


def test_scores_follow_events_at_most_every_two_seconds(models: tuple[Path, str, str]) -> None:
    root, first, _ = models
    now = [1_000.0]
    scorer = Scorer(str(root), every_s=2.0, clock=lambda: now[0])
    store = MemoryStore(CATALOG, ttl_s=3600, max_people=100)
    trending = MemoryTrending()
    processor = Processor(store, scorer=scorer, trending=trending)
    start = 10**15
    carter = _events("carter", ["product_view", "add_to_cart", "add_to_cart"], start, 0)
    viewer = _events("viewer", ["product_view", "page_view"], start, 100)
    assert processor.process(carter + viewer).scored == 2
    held = store.get_many(["carter", "viewer"])
    high, low = held["carter"].intent, held["viewer"].intent
    assert high is not None and low is not None
    assert high.model_version == first and high.score > low.score
    assert high.scored_at_us == 1_000 * MICROS
    assert any("add to cart" in reason for reason in high.words())
    # a burst within two seconds is not scored again; after them it is
    now[0] += 1
    more = _events("carter", ["add_to_cart"], start + 60 * MICROS, 200)
    assert processor.process(more).scored == 0
    now[0] += 1.5
    again = _events("carter", ["add_to_cart"], start + 70 * MICROS, 300)
    assert processor.process(again).scored == 1
    # the same batches fed trending: i0 was viewed twice and carted twice (1 + 1 + 3 + 3), i1
    # and i2 carted once (a page view weighs nothing); the scores decay with a minute of age
    top = trending.top("15m", 5, start + 80 * MICROS)
    assert [name for name, _ in top][:1] == ["i0"] and {n for n, _ in top} == {"i0", "i1", "i2"}
    assert top[0][1] == pytest.approx(8.0, rel=0.15) and top[1][1] == pytest.approx(3.0, rel=0.15)
    # the score travels with the person's state
    carter_now = store.get("carter")
    assert carter_now is not None
    assert decode(CATALOG, encode(carter_now)).intent == carter_now.intent


def test_a_new_champion_is_picked_up_and_a_broken_one_is_refused(
    models: tuple[Path, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    root, first, second = models
    now = [0.0]
    scorer = Scorer(str(root), check_every_s=10, clock=lambda: now[0])
    model = scorer.champion()
    assert model is not None and model.version == first
    registry = Registry(root)
    registry.promote(KIND, second)
    now[0] += 5
    champion = scorer.champion()
    assert champion is not None and champion.version == first  # looked up every 10 s
    now[0] += 6
    champion = scorer.champion()
    assert champion is not None and champion.version == second
    broken = registry.register(KIND, lambda f: (f / MODEL_FILE).write_text("{not json"), {})
    registry.promote(KIND, broken)
    now[0] += 11
    with caplog.at_level(logging.ERROR, logger="intentflow.stream.scoring"):
        champion = scorer.champion()
    assert champion is not None and champion.version == second  # the previous one serves
    assert scorer.failures == 1 and f"cannot load intent model {broken}" in caplog.text
    registry.promote(KIND, first)  # leave the module's registry as it was


def test_people_crossing_into_high_intent_are_noted_once(tmp_path: Path) -> None:
    train_online_model(tmp_path, 3, lift=0.9)  # carts make buyers: a cart crosses the threshold
    now = [0.0]
    scorer = Scorer(str(tmp_path), every_s=0, clock=lambda: now[0])
    processor = Processor(MemoryStore(CATALOG, ttl_s=3600, max_people=100), scorer=scorer)
    start = 10**15
    processor.process(_events("buyer", ["product_view"], start, 0))
    processor.process(_events("browser", ["product_view"], start, 10))
    assert scorer.crossed == 0
    processor.process(_events("buyer", ["add_to_cart", "add_to_cart"], start + MICROS, 20))
    now[0] += 1
    processor.process(_events("buyer", ["add_to_cart"], start + 30 * MICROS, 30))  # still high
    processor.process(_events("browser", ["page_view"], start + 40 * MICROS, 40))
    assert scorer.crossed == 1
    ((name, score),) = scorer.crossings
    assert name == "buyer" and score.high_intent and score.scored_at_us == 0
