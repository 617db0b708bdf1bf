"""The item catalog in Redis, shared by every process of a deployment: one hash of the items put
(``{namespace}:items``, JSON) and one of the items seen in events (``{namespace}:items:seen``).
Items are not forgotten by idling, as people are: the catalog is the shop's."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import redis

from intentflow.items.base import ItemStore, Seen
from intentflow.items.model import Item


class RedisItems(ItemStore):
    """The item catalog on the Redis server at ``url`` (see the module's doc)."""

    def __init__(self, url: str, *, namespace: str = "intentflow"):
        self.client = redis.Redis.from_url(url)
        self.put_key = f"{namespace}:items"
        self.seen_key = f"{namespace}:items:seen"

    def put_many(self, items: Sequence[Item]) -> None:
        if not items:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.put_key, mapping={i.item_id: i.model_dump_json() for i in items})
        pipe.hdel(self.seen_key, *[i.item_id for i in items])
        pipe.execute()

    def read(self, ids: Sequence[str]) -> tuple[dict[str, Item], dict[str, Seen]]:
        if not ids:
            return {}, {}
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.put_key, list(ids))
        pipe.hmget(self.seen_key, list(ids))
        put_raw, seen_raw = pipe.execute()
        put = {i: Item.model_validate_json(r) for i, r in zip(ids, put_raw, strict=True) if r}
        seen = {
            i: Seen.from_list(json.loads(r))
            for i, r in zip(ids, seen_raw, strict=True)
            if r and i not in put
        }
        return put, seen

    def write_seen(self, seen: Mapping[str, Seen]) -> None:
        if seen:
            self.client.hset(
                self.seen_key, mapping={k: json.dumps(s.to_list()) for k, s in seen.items()}
            )

    def counts(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hlen(self.put_key)
        pipe.hlen(self.seen_key)
        put, seen = pipe.execute()
        return {"put": int(put), "seen": int(seen)}

    def close(self) -> None:
        self.client.close()
