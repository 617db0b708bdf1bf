"""The scaled-out state backend: people in Redis, one key each, with a TTL.

A person is one string key, ``{namespace}:person:{id}``, holding their encoded state; a put sets
it with the store's TTL, so an idle person expires on the server. Batches go in one round trip
(``MGET`` to read; to write, ``SET ... PX`` per person and the source positions into the hash
``{namespace}:positions``, in one ``MULTI``/``EXEC`` transaction, so that the states and the
positions they include change together). Keys are namespaced, so deployments share
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
        self.positions_key = f"{namespace}:positions"
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

    def put_many(
        self, people: Mapping[str, OnlinePerson], positions: Mapping[str, int] | None = None
    ) -> None:
        with self.client.pipeline(transaction=bool(positions)) as pipe:
            for person, state in people.items():
                pipe.set(self._key(person), encode(state), px=self.ttl_ms)
            if positions:
                pipe.hset(self.positions_key, mapping={k: v for k, v in positions.items()})
            pipe.execute()

    def positions(self) -> dict[str, int]:
        stored: dict[bytes, bytes] = self.client.hgetall(self.positions_key)  # type: ignore[assignment]
        return {k.decode(): int(v) for k, v in stored.items()}

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
