"""One contract, every state backend: the memory store and a real Redis server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, OnlinePerson, online_features
from intentflow.state.base import StateStore, decode, encode
from intentflow.state.memory import MemoryStore
from intentflow.state.redis import RedisStore, RedisTrending
from intentflow.stream.trending import Hit

CATALOG = Catalog.of(online_features())
DAY = 86_400 * MICROS


def _store(
    kind: str, redis_url: str | None, ttl_s: float = 3600.0, max_people: int = 1000
) -> StateStore:
    if kind == "memory":
        return MemoryStore(CATALOG, ttl_s=ttl_s, max_people=max_people)
    assert redis_url is not None
    return RedisStore(redis_url, CATALOG, namespace=f"test-{uuid.uuid4().hex}", ttl_s=ttl_s)


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_url") if kind == "redis" else None


@pytest.fixture
def store(kind: str, url: str | None) -> Iterator[StateStore]:
    opened = _store(kind, url)
    yield opened
    opened.close()


def _events(person: OnlinePerson, start_us: int, count: int) -> None:
    kinds = ("product_view", "add_to_cart", "purchase", "page_view", "email_open")
    for i in range(count):
        event: dict[str, Any] = {
            "type": kinds[i % len(kinds)],
            "us": start_us + i * 97 * MICROS,
            "item_id": str(i % 7),
            "category": f"c{i % 3}",
            "revenue": 12.5 if i % 5 == 2 else None,
        }
        person.update(event)


def test_a_person_comes_back_as_they_were_stored(store: StateStore) -> None:
    person = OnlinePerson(CATALOG)
    _events(person, 100 * DAY, 60)
    store.put("ada", person)
    back = store.get("ada")
    assert back is not None
    later = 100 * DAY + 2 * 3600 * MICROS
    twin = decode(CATALOG, encode(person))  # apart from whatever the store holds
    assert back.values(later) == twin.values(later)
    # and goes on from where it was: the same events give the same features
    _events(twin, later, 10)
    _events(back, later, 10)
    assert back.values(later + DAY) == twin.values(later + DAY)
    assert back.values(later + DAY)["events_30d"] == 70


def test_reads_return_only_the_people_held_and_deletes_forget(store: StateStore) -> None:
    one, two = OnlinePerson(CATALOG), OnlinePerson(CATALOG)
    _events(one, DAY, 3)
    _events(two, DAY, 5)
    store.put_many({"p1": one, "p2": two})
    assert set(store.get_many(["p1", "p2", "nobody"])) == {"p1", "p2"}
    assert store.get_many([]) == {}
    assert store.stats().people == 2 and store.stats().encoded_bytes > 0
    store.delete(["p1", "nobody"])
    assert set(store.get_many(["p1", "p2"])) == {"p2"}
    assert store.get("p1") is None


def test_a_reader_finds_a_person_by_their_id_or_by_a_linked_anonymous_id(
    store: StateStore,
) -> None:
    person = OnlinePerson(CATALOG)
    _events(person, DAY, 4)
    store.put_many({"user-1": person}, links={"anon-1": "user-1", "anon-2": "gone-user"})
    for asked, owner in (("user-1", "user-1"), ("anon-1", "user-1")):
        found_id, found = store.find(asked)
        assert found_id == owner and found is not None
        assert found.values(2 * DAY)["events_30d"] == 4
        assert found.trail is not None and found.trail.recent() == person.trail.recent()  # type: ignore[union-attr]
    assert store.find("nobody") == ("nobody", None)
    assert store.find("anon-2") == ("gone-user", None)  # linked to a user without state


def test_idle_people_expire(kind: str, url: str | None) -> None:
    store = _store(kind, url, ttl_s=0.3)
    person = OnlinePerson(CATALOG)
    _events(person, DAY, 2)
    store.put("idle", person)
    assert store.get("idle") is not None
    time.sleep(0.6)
    assert store.get("idle") is None
    store.close()


def test_stores_do_not_see_each_others_people(kind: str, url: str | None) -> None:
    first, second = _store(kind, url), _store(kind, url)
    person = OnlinePerson(CATALOG)
    _events(person, DAY, 2)
    first.put("shared-id", person)
    assert second.get("shared-id") is None and first.get("shared-id") is not None
    first.close()
    second.close()


def test_the_encoding_is_exact_and_names_no_feature() -> None:
    person = OnlinePerson(CATALOG)
    _events(person, 100 * DAY, 200)
    data = encode(person)
    assert decode(CATALOG, data).dump() == person.dump()
    assert b"product_views" not in data  # features travel as their catalog numbers


def test_the_memory_store_evicts_the_least_recently_active_beyond_its_cap() -> None:
    now = [0.0]
    store = MemoryStore(CATALOG, ttl_s=100, max_people=3, clock=lambda: now[0])
    for i in range(5):
        now[0] += 1
        store.put(f"p{i}", OnlinePerson(CATALOG))
    assert set(store.get_many([f"p{i}" for i in range(5)])) == {"p2", "p3", "p4"}
    assert store.evicted == 2
    now[0] += 1
    store.put("p2", OnlinePerson(CATALOG))  # active again: p3 is now the least recent
    now[0] += 1
    store.put("p5", OnlinePerson(CATALOG))
    assert set(store.get_many(["p2", "p3", "p4", "p5"])) == {"p2", "p4", "p5"}
    now[0] += 200  # everyone idle past the TTL: gone at the next write
    store.put("p6", OnlinePerson(CATALOG))
    assert store.stats().people == 1


def test_the_settings_choose_the_backend(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from intentflow.config import Settings
    from intentflow.state import open_store

    assert isinstance(open_store(Settings(), CATALOG), MemoryStore)
    monkeypatch.setenv("INTENTFLOW_STATE", "redis")
    monkeypatch.setenv("INTENTFLOW_REDIS_URL", redis_url)
    monkeypatch.setenv("INTENTFLOW_ONLINE__NAMESPACE", "from-env")
    store = open_store(Settings(), CATALOG)
    assert isinstance(store, RedisStore) and store.prefix.startswith("from-env:p:")
    store.close()


def test_redis_writes_states_positions_and_trending_in_one_script_call(redis_url: str) -> None:
    store = RedisStore(redis_url, CATALOG, namespace=f"test-{uuid.uuid4().hex}", ttl_s=60)
    trending = RedisTrending(redis_url, namespace=f"test-{uuid.uuid4().hex}")
    person = OnlinePerson(CATALOG)
    person.update({"type": "product_view", "us": MICROS, "item_id": "7", "category": "c"})
    hits = [Hit(MICROS, "7", "c", 1.0)]
    store.commit({"ada": person}, {"log": 2**70}, trending, hits)  # loads the script
    watcher = redis.Redis.from_url(redis_url)
    with watcher.monitor() as monitor:
        store.commit({"ada": person, "bob": person}, {"log": 2**70 + 1}, trending, hits)
        store.client.ping()  # the end of what this test watches
        seen: list[tuple[str, str]] = []
        while not seen or seen[-1][0] != "PING":
            command = monitor.next_command()
            seen.append((str(command["command"]).split()[0].upper(), command["client_type"]))
    calls = [name for name, kind in seen if kind != "lua"]
    ran = {name for name, kind in seen if kind == "lua"}
    assert calls == ["EVALSHA", "PING"]  # one call from the client: the script runs alone
    assert {"SET", "HSET", "ZINCRBY", "PEXPIRE"} <= ran
    assert store.positions() == {"log": 2**70 + 1}
    assert set(store.get_many(["ada", "bob"])) == {"ada", "bob"}
    assert [name for name, _ in trending.top("15m", 1, 2 * MICROS)] == ["7"]
    watcher.close()
    store.close()
    trending.close()


def test_redis_keeps_the_states_of_another_catalog_apart(redis_url: str) -> None:
    """After an upgrade that changes the features, the states stored by the old catalog are not
    read as the new one's (their numbering differs): the new catalog starts afresh."""
    namespace = f"test-{uuid.uuid4().hex}"
    old = RedisStore(redis_url, CATALOG, namespace=namespace, ttl_s=3600)
    person = OnlinePerson(CATALOG)
    _events(person, DAY, 10)
    old.put_many({"ada": person})
    fewer = Catalog.of(online_features()[:-3])
    assert fewer.version != CATALOG.version
    new = RedisStore(redis_url, fewer, namespace=namespace, ttl_s=3600)
    assert new.get_many(["ada"]) == {}
    assert set(old.get_many(["ada"])) == {"ada"}
    old.close()
    new.close()


def test_an_intent_score_comes_back_as_it_was_put(store: StateStore) -> None:
    from intentflow.features.online import IntentScore
    from intentflow.models.intent.reasons import Reason

    person = OnlinePerson(CATALOG)
    _events(person, DAY, 5)
    reasons = [
        Reason("add_to_carts_1h", 2.0, 1.23456),
        Reason("days_since_last_visit", 0.123456789, -0.5),
        Reason("top_category_1", "shoes", 0.4),  # batch-only: missing online, by name
        Reason("not_a_catalog_feature", "mobile", 0.019, "a description the catalog lacks"),
    ]
    person.intent = IntentScore.of(0.123456789, True, reasons, 7 * DAY, "20261127T060000-abc123")
    store.put_many({"ada": person})
    back = store.get_many(["ada"])["ada"].intent
    assert back == person.intent
    assert back is not None and back.score == 0.123457
    assert back.words()[0] == "add to cart events in 1h: 2, raises the intent (+1.23 log-odds)"
    assert back.words()[2].startswith("category of the person's top-1 category in 30d: shoes")
    assert back.words()[3].startswith("not a catalog feature: mobile, raises")
