"""The scaled-out state backend: people in Redis, one key each, with a TTL.

A person is one string key, ``{namespace}:person:{id}``, holding their encoded state; a put sets
it with the store's TTL, so an idle person expires on the server. Batches go in one pipelined
round trip (``MGET`` to read, ``SET ... PX`` to write). Keys are namespaced, so deployments share
a server without meeting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import redis

from intentflow.features.online import Catalog, OnlinePerson
from intentflow.state.base import StateStore, StoreStats, decode, encode


class RedisStore(StateStore):
    """People's online state in Redis (see the module's doc)."""

    def __init__(self, url: str, catalog: Catalog, *, namespace: str, ttl_s: float):
        self.catalog = catalog
        self.client = redis.Redis.from_url(url)
        self.prefix = f"{namespace}:person:"
        self.ttl_ms = int(ttl_s * 1000)

    def _key(self, person: str) -> str:
        return self.prefix + person

    def get_many(self, people: Sequence[str]) -> dict[str, OnlinePerson]:
        if not people:
            return {}
        values: list[bytes | None] = self.client.mget([self._key(p) for p in people])  # type: ignore[assignment]
        return {
            person: decode(self.catalog, value)
            for person, value in zip(people, values, strict=True)
            if value is not None
        }

    def put_many(self, people: Mapping[str, OnlinePerson]) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for person, state in people.items():
                pipe.set(self._key(person), encode(state), px=self.ttl_ms)
            pipe.execute()

    def delete(self, people: Sequence[str]) -> None:
        if people:
            self.client.delete(*(self._key(p) for p in people))

    def stats(self) -> StoreStats:
        people = size = 0
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            people += 1
            size += int(self.client.strlen(key))
        return StoreStats(people, size)

    def close(self) -> None:
        self.client.close()
