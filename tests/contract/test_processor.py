"""The stream processor on every state backend: exactly-once effect across a crash, late
events, repeated messages, people keyed as the catalog keys them."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from intentflow.features.kinds import MICROS
from intentflow.state.base import StateStore, TrendingStore
from intentflow.state.memory import MemoryTrending
from intentflow.state.redis import RedisTrending
from intentflow.stream.processor import Processor
from tests.contract.test_state_stores import _store

MINUTE = 60 * MICROS


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(kind: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    opened: list[StateStore] = []

    def make() -> StateStore:
        opened.append(_store(kind, url))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def _stream(count: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = ("product_view", "add_to_cart", "purchase", "page_view")
    out = []
    for offset in range(count):
        out.append(
            {
                "message_id": f"m{offset}",
                "partition": "log",
                "offset": offset,
                "type": rng.choice(kinds),
                "user_id": f"u{rng.randrange(20)}",
                "us": offset * 7 * MICROS + rng.randrange(3 * MICROS),
                "item_id": str(rng.randrange(50)),
                "category": f"c{rng.randrange(4)}",
                "revenue": 10.0,
            }
        )
    return out


def _everyone(store: StateStore, at: int) -> dict[str, Any]:
    people = store.get_many([f"u{i}" for i in range(20)])
    return {p: s.values(at) for p, s in people.items()}


def test_a_crash_and_a_redelivery_count_nothing_twice(make_store: Any) -> None:
    events = _stream(700)
    batches = [events[i : i + 100] for i in range(0, 700, 100)]
    clean = make_store()
    for batch in batches:
        Processor(clean).process(batch)

    crashed = make_store()
    first = Processor(crashed)
    for batch in batches[:4]:
        first.process(batch)
    # the processor dies; its successor reads the positions back, and the source delivers
    # again from an older offset (Kafka's last commit lagged behind the state)
    second = Processor(crashed)
    assert second.positions == {"log": 399}
    results = [second.process(batch) for batch in batches[2:]]
    assert sum(r.repeated for r in results) == 200 and sum(r.events for r in results) == 300
    end = 700 * 7 * MICROS
    assert _everyone(crashed, end) == _everyone(clean, end)


def test_late_events_are_counted_and_left_out(make_store: Any) -> None:
    store = make_store()
    processor = Processor(store, lateness_s=60)
    base = {"type": "product_view", "item_id": "1", "partition": "log", "user_id": "ada"}
    processor.process([{**base, "message_id": "a", "offset": 1, "us": 1000 * MICROS}])
    applied = processor.process(
        [
            {**base, "message_id": "b", "offset": 2, "us": 950 * MICROS},  # within 60 s
            {**base, "message_id": "c", "offset": 3, "us": 900 * MICROS},  # behind
        ]
    )
    assert (applied.events, applied.late) == (1, 1) and processor.late == 1
    person = store.get("ada")
    assert person is not None
    assert person.values(1001 * MICROS)["product_views_15m"] == 2


def test_repeats_in_a_batch_count_once_and_people_are_keyed_like_the_catalog(
    make_store: Any,
) -> None:
    store = make_store()
    processor = Processor(store)
    view = {"type": "product_view", "item_id": "1", "partition": "log", "us": MINUTE}
    applied = processor.process(
        [
            {**view, "message_id": "a", "offset": 1, "user_id": "ada"},
            {**view, "message_id": "a", "offset": 2, "user_id": "ada"},  # a client's retry
            {**view, "message_id": "b", "offset": 3, "anonymous_id": "anon-1"},
            {**view, "message_id": "c", "offset": 4, "user_id": None, "anonymous_id": None},
        ]
    )
    assert (applied.events, applied.repeated, applied.people) == (2, 1, 2)
    assert set(store.get_many(["ada", "anon-1"])) == {"ada", "anon-1"}
    assert store.positions() == {"log": 4}


def _view(message: str, offset: int, us: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "product_view",
        "item_id": "shoe",
        "user_id": "ada",
        "partition": "log",
        "message_id": message,
        "offset": offset,
        "us": us,
        **extra,
    }


def test_a_repeat_at_the_last_offset_does_not_come_back_after_a_restart(
    make_store: Any,
) -> None:
    store = make_store()
    Processor(store).process([_view("x", 1, MINUTE), _view("x", 2, MINUTE)])
    assert store.positions() == {"log": 2}
    again = Processor(store).process([_view("x", 2, MINUTE)])
    assert (again.events, again.repeated) == (0, 1)
    person = store.get("ada")
    assert person is not None and person.values(2 * MINUTE)["product_views_15m"] == 1


class _Failing(MemoryTrending):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def add(self, hits: Any) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("trending is down")
        super().add(hits)


def test_a_trending_failure_loses_its_hits_but_not_the_batch_and_late_events_skip_trending(
    make_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    trending = _Failing()
    processor = Processor(store, trending=trending, lateness_s=60)
    batch = [_view("a", 1, 100 * MINUTE), _view("b", 2, 100 * MINUTE + 1)]
    with caplog.at_level(logging.ERROR):
        assert processor.process(batch).events == 2  # the states are written all the same
    assert "lost 2 trending hits" in caplog.text
    retried = processor.process(batch)  # a source that gives the batch again changes nothing
    assert (retried.events, retried.repeated, retried.late) == (0, 2, 0)
    person = store.get("ada")
    assert person is not None and person.values(101 * MINUTE)["product_views_15m"] == 2
    assert trending.top("1h", 5, 102 * MINUTE) == []
    # an event 10 minutes behind the watermark beside an on-time one: only the latter trends
    applied = processor.process(
        [_view("c", 3, 90 * MINUTE, item_id="old"), _view("d", 4, 101 * MINUTE, item_id="new")]
    )
    assert (applied.events, applied.late) == (1, 1)
    assert [name for name, _ in trending.top("1h", 5, 102 * MINUTE)] == ["new"]


def test_a_redelivered_batch_adds_nothing_to_trending(
    kind: str, make_store: Any, request: pytest.FixtureRequest
) -> None:
    store = make_store()
    trending: TrendingStore = (
        MemoryTrending()
        if kind == "memory"
        else RedisTrending(request.getfixturevalue("redis_url"), namespace=uuid.uuid4().hex)
    )
    batch = _stream(200)
    Processor(store, trending=trending, lateness_s=60).process(batch)
    now = 200 * 7 * MICROS
    before = trending.top("1h", 50, now)
    assert sum(score for _, score in before) > 200  # views 1, carts 3, purchases 5
    again = Processor(store, trending=trending, lateness_s=60).process(batch)  # a restart
    assert again.repeated == 200 and trending.top("1h", 50, now) == before
    trending.close()


def test_anonymous_people_and_unknown_items_are_kept_and_personless_events_only_trend(
    make_store: Any,
) -> None:
    store = make_store()
    trending = MemoryTrending()
    processor = Processor(store, trending=trending, lateness_s=60)
    anonymous = {**_view("a", 1, MINUTE, item_id="never-seen"), "user_id": None}
    anonymous["anonymous_id"] = "anon-1"
    nobody = {**_view("b", 2, MINUTE, item_id="never-seen"), "user_id": None}
    applied = processor.process([anonymous, nobody])
    assert (applied.events, applied.people) == (1, 1)
    person = store.get("anon-1")
    assert person is not None and person.values(2 * MINUTE)["product_views_15m"] == 1
    assert store.get("ada") is None
    assert trending.top("15m", 1, 2 * MINUTE) == [("never-seen", pytest.approx(2.0, rel=0.1))]


def _linked_stream() -> list[dict[str, Any]]:
    """Browsing anonymously, logging in (an event with both ids), going on as the user, then
    an event with the anonymous id alone (another tab, not logged in): all one person's."""
    out = []
    for i in range(12):
        event = _view(f"m{i}", i, i * 30 * MICROS, item_id=f"sku-{i % 5}", category="shoes")
        event["user_id"] = "ada" if 4 <= i < 11 else None
        event["anonymous_id"] = "anon-7" if i < 5 or i == 11 else None
        if i == 6:
            event["type"] = "add_to_cart"
        out.append(event)
    return out


def test_a_login_brings_the_anonymous_history_to_the_user(make_store: Any) -> None:
    events = _linked_stream()
    store = make_store()
    first = Processor(store)
    first.process(events[:3])  # before the login: an anonymous person
    assert store.get("anon-7") is not None and store.aliases(["anon-7"]) == {}
    first.process(events[3:8])  # the login, in a later batch
    assert store.get("anon-7") is None and store.aliases(["anon-7"]) == {"anon-7": "ada"}
    Processor(store).process(events[8:])  # a processor started afterwards follows the link
    assert store.get("anon-7") is None
    # as if every event had been ada's from the start, as the batch features count them
    alone = make_store()
    Processor(alone).process([{**e, "user_id": "ada", "anonymous_id": None} for e in events])
    ada, twin = store.get("ada"), alone.get("ada")
    assert ada is not None and twin is not None
    at = 12 * 30 * MICROS
    assert ada.values(at) == twin.values(at)
    assert ada.values(at)["product_views_15m"] == 11


def test_a_link_in_the_middle_of_a_batch_takes_its_earlier_events_too(make_store: Any) -> None:
    events = _linked_stream()
    store = make_store()
    Processor(store).process(events)
    assert store.get("anon-7") is None and set(store.aliases(["anon-7", "anon-8"])) == {"anon-7"}
    person = store.get("ada")
    assert person is not None and person.values(12 * 30 * MICROS)["events_15m"] == 12


def test_a_batch_whose_write_went_through_but_its_reply_was_lost_counts_once(
    make_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    processor = Processor(store)
    batch = [_view(f"m{i}", i, i * MINUTE) for i in range(1, 4)]
    write = store.commit

    def lost_reply(*args: Any, **kwargs: Any) -> None:
        write(*args, **kwargs)
        raise ConnectionError("the reply never came back")

    monkeypatch.setattr(store, "commit", lost_reply)
    with pytest.raises(ConnectionError):
        processor.process(batch)
    monkeypatch.setattr(store, "commit", write)
    assert processor.process(batch).repeated == 3  # the runner gives it again
    person = store.get("ada")
    assert person is not None and person.values(5 * MINUTE)["product_views_15m"] == 3


def test_a_late_login_links_the_ids_all_the_same(make_store: Any) -> None:
    store = make_store()
    processor = Processor(store, lateness_s=60)
    processor.process([_view("a", 1, 10 * MINUTE, user_id=None, anonymous_id="anon-3")])
    late = _view("b", 2, MINUTE, user_id="ada", anonymous_id="anon-3")  # 9 minutes late
    applied = processor.process([late])
    assert applied.late == 1
    assert store.aliases(["anon-3"]) == {"anon-3": "ada"} and store.get("anon-3") is None
    person = store.get("ada")
    assert person is not None and person.values(11 * MINUTE)["product_views_15m"] == 1
