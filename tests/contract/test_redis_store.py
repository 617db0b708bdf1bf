"""What only the Redis store does: compress states against a dictionary it learns, and keep the
people it wrote decoded without ever reading a stale one."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, OnlinePerson, online_features
from intentflow.state.base import StateConflictError, encode
from intentflow.state.codec import COMPRESSED
from intentflow.state.redis import RedisStore

CATALOG = Catalog.of(online_features())
DAY = 86_400 * MICROS


def _person(seed: int, count: int = 12) -> OnlinePerson:
    person = OnlinePerson(CATALOG)
    kinds = ("page_view", "product_view", "add_to_cart", "product_view", "purchase")
    for i in range(count):
        person.update(
            {
                "type": kinds[(seed + i) % len(kinds)],
                "us": 100 * DAY + seed * 7_919 * MICROS + i * 61 * MICROS,
                "item_id": f"sku-{(seed * 31 + i) % 997:05d}",
                "category": f"home/c{(seed + i) % 6}",
                "revenue": 19.5 if (seed + i) % 5 == 4 else None,
            }
        )
    return person


def _store(url: str, namespace: str, samples: int = 200, cache: int = 1000) -> RedisStore:
    store = RedisStore(url, CATALOG, namespace=namespace, ttl_s=3600, cache_people=cache)
    store.codec.samples = samples
    return store


def test_states_are_compressed_once_a_dictionary_is_learned(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    writer = _store(redis_url, namespace)
    people = {f"p{i}": _person(i, 5 + i % 20) for i in range(300)}
    for name, person in people.items():
        writer.put(name, person)
    assert writer.codec.trained
    client = redis.Redis.from_url(redis_url)
    stored = {name: client.get(writer.prefix + name) or b"" for name in people}
    firsts = [stored[f"p{i}"][0] for i in range(300)]
    assert firsts[:199].count(COMPRESSED) == 0 and firsts[200:].count(COMPRESSED) == 100
    later = [name for name in people if stored[name][0] == COMPRESSED]
    packed = sum(len(stored[name]) for name in later)
    assert packed < 0.75 * sum(len(encode(people[name])) for name in later)
    # a processor that starts afterwards reads both kinds with the stored dictionary
    reader = _store(redis_url, namespace)
    back = reader.get_many(list(people))
    assert {name: p.dump() for name, p in back.items()} == {
        name: p.dump() for name, p in people.items()
    }
    assert reader.codec.trained
    for store in (writer, reader):
        store.close()
    client.close()


def test_processors_learning_at_once_keep_the_first_dictionary(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    first, second = _store(redis_url, namespace), _store(redis_url, namespace)
    for i in range(250):
        first.put(f"a{i}", _person(i))
        second.put(f"b{i}", _person(1000 + i))
    assert first.codec.trained and second.codec.trained
    # the second's own dictionary lost the race: it writes with the first's
    third = _store(redis_url, namespace)
    names = [f"a{i}" for i in range(250)] + [f"b{i}" for i in range(250)]
    assert len(third.get_many(names)) == 500
    assert first.codec.encode(_person(7)) == second.codec.encode(
        _person(7)
    )  # one dictionary, so the same bytes
    for store in (first, second, third):
        store.close()


def test_a_person_changed_by_another_processor_is_read_as_changed(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    owner, other = _store(redis_url, namespace), _store(redis_url, namespace)
    owner.put("ada", _person(1, 3))
    moved = other.get("ada")  # the partition moved to another processor, which goes on
    assert moved is not None
    moved.update({"type": "purchase", "us": 101 * DAY, "item_id": "x", "revenue": 5.0})
    other.put("ada", moved)
    back = owner.get("ada")
    assert back is not None and back.dump() == moved.dump()
    other.delete(["ada"])
    assert owner.get("ada") is None
    for store in (owner, other):
        store.close()


def test_a_change_never_written_is_not_read_back(redis_url: str) -> None:
    store = _store(redis_url, f"test-{uuid.uuid4().hex}")
    person = _person(2, 4)
    stored = person.dump()
    store.put("bo", person)
    held = store.get("bo")
    assert held is not None
    held.update({"type": "purchase", "us": 101 * DAY, "item_id": "y", "revenue": 9.0})
    # the batch failed before its write: the next read gives what is stored
    again = store.get("bo")
    assert again is not None and again is not held and again.dump() == stored
    store.close()


def test_the_cache_keeps_at_most_its_people(redis_url: str) -> None:
    store = _store(redis_url, f"test-{uuid.uuid4().hex}", cache=3)
    store.put_many({f"p{i}": _person(i, 2) for i in range(10)})
    assert len(store._held) == 3
    assert set(store.get_many([f"p{i}" for i in range(10)])) == {f"p{i}" for i in range(10)}
    store.close()


def test_a_damaged_state_reads_as_absent_and_the_others_still_read(redis_url: str) -> None:
    store = _store(redis_url, f"test-{uuid.uuid4().hex}")
    store.put_many({"ok": _person(1), "cut": _person(2), "alien": _person(3)})
    client = redis.Redis.from_url(redis_url)
    whole = client.get(store.prefix + "cut") or b""
    client.set(store.prefix + "cut", whole[: len(whole) // 2])
    client.set(store.prefix + "alien", bytes((COMPRESSED,)) + b"no dictionary knows this")
    fresh = _store(redis_url, store.namespace)  # nothing cached
    assert set(fresh.get_many(["ok", "cut", "alien"])) == {"ok"}
    assert fresh.unreadable == 2
    for opened in (store, fresh):
        opened.close()
    client.close()


def _dictionary_lost(redis_url: str) -> tuple[RedisStore, redis.Redis, str]:
    """A store that compresses its states, its dictionary then deleted from the server (evicted,
    or by hand); with a client and the dictionary's key."""
    namespace = f"test-{uuid.uuid4().hex}"
    writer = _store(redis_url, namespace)
    for i in range(220):
        writer.put(f"p{i}", _person(i))
    client = redis.Redis.from_url(redis_url)
    shelved = f"{namespace}:{writer.codec.name}"
    assert client.get(shelved) == writer.codec.dictionary
    client.delete(shelved)
    return writer, client, shelved


def test_a_lost_dictionary_is_stored_again_by_the_next_write(redis_url: str) -> None:
    writer, client, shelved = _dictionary_lost(redis_url)
    namespace = writer.namespace
    writer.put("p0", _person(0, 30))
    assert client.get(shelved) == writer.codec.dictionary
    reader = _store(redis_url, namespace)
    assert len(reader.get_many([f"p{i}" for i in range(220)])) == 220
    for opened in (writer, reader):
        opened.close()
    client.close()


def test_a_write_over_a_change_made_since_the_read_is_refused_whole(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    mine, theirs = _store(redis_url, namespace), _store(redis_url, namespace)
    mine.put("ada", _person(1, 3))
    read = mine.get_many(["ada", "bo"])  # bo is not there yet
    api = threading.Thread(target=mine.get, args=("zed",))  # the API reads beside it
    api.start()
    api.join()
    other = theirs.get("ada")
    assert other is not None
    other.update({"type": "purchase", "us": 101 * DAY, "item_id": "x", "revenue": 5.0})
    theirs.put("ada", other)  # another processor wrote ada meanwhile
    read["ada"].update({"type": "page_view", "us": 101 * DAY})
    with pytest.raises(StateConflictError):
        mine.commit({"ada": read["ada"], "bo": _person(2, 2)}, {"log": 9})
    assert mine.get("bo") is None and mine.positions() == {}  # nothing of the batch
    again = mine.get("ada")
    assert again is not None and again.dump() == other.dump()
    mine.commit({"ada": again}, {"log": 9})  # read again, it goes through
    assert mine.positions() == {"log": 9}
    for store in (mine, theirs):
        store.close()


def test_a_replaced_dictionary_is_never_written_with_or_read_with(redis_url: str) -> None:
    first, client, shelved = _dictionary_lost(redis_url)
    namespace = first.namespace
    second = _store(redis_url, namespace)  # trains its own before the first writes again
    for i in range(220):
        second.put(f"q{i}", _person(500 + i))
    assert client.get(shelved) == second.codec.dictionary != first.codec.dictionary
    held = first.get_many(["p1"])
    with pytest.raises(StateConflictError):  # its states would be unreadable to every other
        first.commit(held, {})
    assert first.codec.dictionary == second.codec.dictionary
    first.commit(first.get_many(["p1"]), {})
    # the states compressed with the lost dictionary are refused, not misread
    third = _store(redis_url, namespace)
    assert set(third.get_many(["p1", "p2", "p210", "q1"])) == {"p1", "p2", "q1"}
    assert third.unreadable == 1
    for store in (first, second, third):
        store.close()
    client.close()
