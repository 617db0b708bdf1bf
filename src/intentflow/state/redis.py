"""The scaled-out state backend: people in Redis, one key each, with a TTL.

A person is one string key, ``{namespace}:p:{catalog version}:{id}``, holding their encoded state
(a catalog of other features, after an upgrade, starts its people afresh rather than misread
them, and the old keys expire); a put sets
it with the store's TTL, so an idle person expires on the server. Batches go in one round trip
each way: ``MGET`` to read, and to write one call of the script :data:`WRITE`, which sets each
person with ``PX``, the source positions into the hash ``{namespace}:positions`` and the batch's
trending increments, atomically (a script runs alone on the server), so that the states, the
positions they include and the trending they fed change together. One call instead of a command
per person and increment keeps the client's packing and parsing, which dominated the write, to
a minimum. Keys are namespaced, so deployments share a server without meeting. The scripts touch
keys of several people: one Redis server (or a primary with replicas), not Redis Cluster.

An anonymous id linked to its user is a key ``{namespace}:a:{anonymous id}`` holding the user
id, with the same TTL, written in the same script call as the states.

A state is stored as :mod:`~intentflow.state.codec` encodes it: zstd against a dictionary of the
deployment's own states, kept at ``{namespace}:dictionary:{catalog version}``. A store keeps the
last ``cache_people`` people it wrote, decoded, with the SHA-1 of what it wrote; a read (the script
:data:`READ`) sends those hashes and the server answers "as you wrote it" for each person whose
value is still that, so the processor that owns a partition decodes its people only when another
wrote them meanwhile (after a rebalance). A state written elsewhere, expired or deleted is never
read from the cache.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec
import redis
import zstandard

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, OnlinePerson
from intentflow.state.base import Ranked, StateConflictError, StateStore, StoreStats, TrendingStore
from intentflow.state.codec import Codec, Shelf
from intentflow.stream.trending import Hit

log = logging.getLogger(__name__)

UNREADABLE = (ValueError, TypeError, IndexError, KeyError, msgspec.DecodeError, zstandard.ZstdError)
"""What decoding a damaged state (or one whose dictionary is gone) raises."""

CACHE_PEOPLE = 20_000
"""People a store keeps decoded after writing them (see :class:`RedisStore`)."""


class RedisStore(StateStore):
    """People's online state in Redis (see the module's doc)."""

    def __init__(
        self,
        url: str,
        catalog: Catalog,
        *,
        namespace: str,
        ttl_s: float,
        cache_people: int = CACHE_PEOPLE,
    ):
        self.catalog = catalog
        self.client = redis.Redis.from_url(url)
        self.prefix = f"{namespace}:p:{catalog.version}:"
        self.positions_key = f"{namespace}:positions"
        self.links_prefix = f"{namespace}:a:"
        self.ttl_ms = int(ttl_s * 1000)
        self.cache_people = cache_people
        self._script = self.client.register_script(WRITE)
        self._read = self.client.register_script(READ)
        self.namespace = namespace
        self._reads = threading.local()
        """Per thread (the API reads beside the processor), what its last read found of each
        person (the SHA-1 of the value, or "" for none): the write after it changes a person
        only if they are still so."""
        self.unreadable = 0
        """States that could not be decoded (and were read as absent)."""
        self._held: OrderedDict[str, tuple[str, OnlinePerson]] = OrderedDict()
        """The people last written, decoded, with the hash of what was written."""
        self.codec = Codec(catalog, Shelf(self._stored, self._offer))

    def _shelved(self, name: str) -> str:
        return f"{self.namespace}:{name}"

    def _stored(self, name: str) -> bytes | None:
        return self.client.get(self._shelved(name))  # type: ignore[return-value]

    def _offer(self, name: str, data: bytes) -> bytes:
        key = self._shelved(name)
        self.client.set(key, data, nx=True)
        return self.client.get(key)  # type: ignore[return-value]

    def _key(self, person: str) -> str:
        return self.prefix + person

    def get_many(self, people: Sequence[str]) -> dict[str, OnlinePerson]:
        if not people:
            return {}
        # a cached person is handed out and forgotten until written back: a batch that fails
        # after changing it must not find the change on its next read
        held = [self._held.pop(p, None) for p in people]
        values: list[bytes | None] = self._read(
            keys=[self._key(p) for p in people], args=[h[0] if h else "" for h in held]
        )
        out = {}
        found: dict[str, str] = {}
        self._reads.found = found
        for person, value, cached in zip(people, values, held, strict=True):
            if value is None:
                found[person] = ""
            elif value == b"" and cached:
                found[person] = cached[0]
                out[person] = cached[1]
            else:
                found[person] = hashlib.sha1(value).hexdigest()
                try:
                    out[person] = self.codec.decode(value)
                except UNREADABLE as exc:  # the person starts afresh, the stream goes on
                    self.unreadable += 1
                    log.error("cannot read the state of %r, starting it afresh: %s", person, exc)
        return out

    def put_many(
        self,
        people: Mapping[str, OnlinePerson],
        positions: Mapping[str, int] | None = None,
        *,
        links: Mapping[str, str] | None = None,
        gone: Sequence[str] = (),
    ) -> None:
        self._write(people, positions or {}, b"", links or {}, gone)

    def find(self, person: str) -> tuple[str, OnlinePerson | None]:
        """One round trip (two for a linked anonymous id), and nothing taken from the
        processor's cache."""
        found: list[bytes | None] = self.client.mget(  # type: ignore[assignment]
            [self._key(person), self.links_prefix + person]
        )
        value, linked = found
        owner = person
        if value is None and linked is not None:
            owner = linked.decode()
            value = self.client.get(self._key(owner))  # type: ignore[assignment]
        if not value:
            return owner, None
        try:
            return owner, self.codec.decode(value)
        except UNREADABLE as exc:
            log.error("cannot read the state of %r: %s", owner, exc)
            return owner, None

    def aliases(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        found: list[bytes | None] = self.client.mget([self.links_prefix + i for i in ids])  # type: ignore[assignment]
        return {i: user.decode() for i, user in zip(ids, found, strict=True) if user is not None}

    def commit(
        self,
        people: Mapping[str, OnlinePerson],
        positions: Mapping[str, int],
        trending: TrendingStore | None = None,
        hits: Sequence[Hit] = (),
        *,
        links: Mapping[str, str] | None = None,
        gone: Sequence[str] = (),
    ) -> None:
        if not isinstance(trending, RedisTrending) or not _same_server(
            self.client, trending.client
        ):
            super().commit(people, positions, trending, hits, links=links, gone=gone)
            return
        increments = trending.increments(hits) if hits else b""
        self._write(people, positions, increments, links or {}, gone)

    def _write(
        self,
        people: Mapping[str, OnlinePerson],
        positions: Mapping[str, int],
        increments: bytes,
        links: Mapping[str, str],
        gone: Sequence[str],
    ) -> None:
        if not people and not positions and not increments and not links and not gone:
            return
        flat = [str(x) for pair in positions.items() for x in pair]  # offsets may pass 2**64
        encoded = [self.codec.encode(state) for state in people.values()]
        linked = [x for a, user in links.items() for x in (self.links_prefix + a, user)]
        for person in gone:
            self._held.pop(person, None)
        read_as: dict[str, str] = getattr(self._reads, "found", {})
        self._reads.found = {}
        expected = [read_as.get(p, "*") for p in [*people, *gone]]
        try:
            found = self._script(
                keys=[self.positions_key, self._shelved(self.codec.name), *map(self._key, people)],
                args=[
                    self.ttl_ms,
                    _pack(flat),
                    increments,
                    _pack(linked) if linked else b"",
                    _pack([self._key(p) for p in gone]) if gone else b"",
                    _pack(expected),
                    self.codec.digest,
                    *encoded,
                ],
            )
        except redis.ResponseError as exc:
            if "CONFLICT" not in str(exc):
                raise
            if "dictionary" in str(exc):
                self.codec.reload()
            raise StateConflictError(str(exc).split("CONFLICT ", 1)[-1]) from None
        if not found and self.codec.dictionary is not None:
            log.warning("the states' dictionary was gone from Redis: stored again")
            self.codec.restore()
        if self.cache_people:
            held = self._held
            for (person, state), data in zip(people.items(), encoded, strict=True):
                held[person] = (hashlib.sha1(data).hexdigest(), state)
                held.move_to_end(person)
            while len(held) > self.cache_people:
                held.popitem(last=False)

    def positions(self) -> dict[str, int]:
        stored: dict[bytes, bytes] = self.client.hgetall(self.positions_key)  # type: ignore[assignment]
        return {k.decode(): int(v) for k, v in stored.items()}

    def delete(self, people: Sequence[str]) -> None:
        if people:
            self.client.delete(*(self._key(p) for p in people))
            for person in people:
                self._held.pop(person, None)

    def stats(self) -> StoreStats:
        people = size = 0
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            people += 1
            size += int(self.client.strlen(key))
        return StoreStats(people, size)

    def close(self) -> None:
        self.client.close()


_APPLY_INCREMENTS = """
local function increments(packed)
  if packed == '' then return end
  local t = cmsgpack.unpack(packed)
  local at = 1
  while at <= #t do
    local key, keep, n = t[at], t[at + 1], t[at + 2]
    at = at + 3
    for _ = 1, n do
      redis.call('ZINCRBY', key, t[at + 1], t[at])
      at = at + 2
    end
    redis.call('PEXPIRE', key, keep)
  end
end
"""

WRITE = (
    _APPLY_INCREMENTS
    + """
local dictionary = redis.call('GET', KEYS[2])
if dictionary and ARGV[7] ~= '' and redis.sha1hex(dictionary) ~= ARGV[7] then
  return redis.error_reply('CONFLICT the states dictionary was replaced')
end
local gone = {}
if ARGV[5] ~= '' then gone = cmsgpack.unpack(ARGV[5]) end
local expected = cmsgpack.unpack(ARGV[6])
local checked = {}
for i = 3, #KEYS do checked[#checked + 1] = KEYS[i] end
for _, key in ipairs(gone) do checked[#checked + 1] = key end
for i, key in ipairs(checked) do
  local want = expected[i]
  if want ~= '*' then
    local v = redis.call('GET', key)
    if (want == '' and v) or (want ~= '' and (not v or redis.sha1hex(v) ~= want)) then
      return redis.error_reply('CONFLICT ' .. key .. ' changed since it was read')
    end
  end
end
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 5], 'PX', ARGV[1]) end
local positions = cmsgpack.unpack(ARGV[2])
for i = 1, #positions, 2 do redis.call('HSET', KEYS[1], positions[i], positions[i + 1]) end
increments(ARGV[3])
if ARGV[4] ~= '' then
  local links = cmsgpack.unpack(ARGV[4])
  for i = 1, #links, 2 do redis.call('SET', links[i], links[i + 1], 'PX', ARGV[1]) end
end
for _, key in ipairs(gone) do redis.call('DEL', key) end
if dictionary then return 1 end
return 0
"""
)
"""Write a batch in one atomic step (KEYS: the positions hash, the states' dictionary, the
people's keys; ARGV: the TTL in ms, the positions as packed ``[partition, offset, ...]`` text,
the packed trending increments or nothing, the packed ``[link key, user, ...]`` or nothing, the
packed keys of the people to forget or nothing, the packed SHA-1 each person (then each one to
forget) had when read, "" for none or "*" for no check, the SHA-1 of the dictionary the states
are compressed with or nothing, the people's states). Nothing is written when one of them
changed since it was read (another processor wrote them), or when the stored dictionary is not
the one the states were compressed with (it was lost and another processor stored its own): the
call fails with ``CONFLICT``, and the batch is read and applied again. The dictionary is read:
under an eviction policy, it stays a recently used key; the script returns 0 when it is gone
(the client stores its own again)."""

READ = """
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v and ARGV[i] ~= '' and redis.sha1hex(v) == ARGV[i] then v = '' end
  out[i] = v
end
return out
"""
"""Read people (KEYS), each as nothing when absent, as an empty string when it is what the
client last wrote (ARGV: the SHA-1 of what it wrote, or an empty string), else as stored."""

INCREMENT = _APPLY_INCREMENTS + "increments(ARGV[1])\n"
"""Add packed trending increments (ARGV: ``[key, expiry ms, n, member, weight, ...]``)."""

TOP = """
local union = {'ZUNIONSTORE', KEYS[1], #KEYS - 1}
for i = 2, #KEYS do union[#union + 1] = KEYS[i] end
union[#union + 1] = 'WEIGHTS'
for i = 2, #ARGV do union[#union + 1] = ARGV[i] end
redis.call(unpack(union))
local best = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
redis.call('DEL', KEYS[1])
return best
"""
"""Sum the window's buckets, each weighted by its decay, into a scratch key, read the top of it
and drop it: one atomic step on the server (KEYS: scratch, buckets; ARGV: n, decays)."""


class RedisTrending(TrendingStore):
    """Trending scores in Redis: per window and bucket, a sorted set of items, one of
    categories and one of items per category, each expiring a window after its last write;
    a batch's increments go in one call of :data:`INCREMENT` (or of the state's :data:`WRITE`),
    and top lists come from :data:`TOP`."""

    def __init__(self, url: str, *, namespace: str):
        self.client = redis.Redis.from_url(url)
        self.prefix = f"{namespace}:trend:"
        self._top = self.client.register_script(TOP)
        self._increment = self.client.register_script(INCREMENT)

    def _key(self, window: str, bucket: int, part: str) -> str:
        return f"{self.prefix}{window}:{bucket}:{part}"

    def add(self, hits: Sequence[Hit]) -> None:
        if hits:
            self._increment(args=[self.increments(hits)])

    def increments(self, hits: Sequence[Hit]) -> bytes:
        """The increments of ``hits`` for :data:`INCREMENTS`: per key, its expiry and the sum of
        the weights of each member (one increment per pair, however many events share it)."""
        sums: dict[str, dict[str, float]] = {}
        keep: dict[str, int] = {}
        for name, window in self.windows.items():
            # kept a window (and a bucket) after its last write, by the server's clock: event
            # times may be old (a replay), the expiry must not be
            keep_ms = (window.seconds * MICROS + window.bucket_us) // 1000
            for h in hits:
                bucket = window.bucket(h.us)
                parts = [("items", h.item), ("categories", h.category or "")]
                if h.category is not None:
                    parts.append((f"in:{h.category}", h.item))
                for part, member in parts:
                    key = self._key(name, bucket, part)
                    members = sums.setdefault(key, {})
                    members[member] = members.get(member, 0.0) + h.weight
                    keep[key] = keep_ms
        flat: list[Any] = []
        for key, members in sums.items():
            flat += [key, keep[key], len(members)]
            for member, weight in members.items():
                flat += [member, weight]
        return _pack(flat)

    def top(
        self,
        window: str,
        n: int,
        now_us: int,
        *,
        category: str | None = None,
        of: Literal["items", "categories"] = "items",
    ) -> Ranked:
        spec = self.windows[window]
        part = (
            "categories"
            if of == "categories"
            else "items"
            if category is None
            else (f"in:{category}")
        )
        buckets = range(spec.first_bucket(now_us), spec.bucket(now_us) + 1)
        keys = [self._key(window, b, part) for b in buckets]
        decays = [repr(spec.decay(b, now_us)) for b in buckets]
        scratch = f"{self.prefix}scratch:{window}:{part}"
        extra = 1 if of == "categories" else 0  # the empty category may take a place
        found = self._top(keys=[scratch, *keys], args=[n + extra, *decays])
        pairs = [
            (name.decode(), float(score))
            for name, score in zip(found[::2], found[1::2], strict=True)
        ]
        return [(name, score) for name, score in pairs if name][:n]

    def close(self) -> None:
        self.client.close()


def _same_server(one: redis.Redis, other: redis.Redis) -> bool:
    """True when two clients talk to the same server and database."""
    first, second = one.connection_pool.connection_kwargs, other.connection_pool.connection_kwargs
    fields = ("host", "port", "path", "db")
    return all(first.get(f) == second.get(f) for f in fields)


def _pack(values: list[Any]) -> bytes:
    return _packer.encode(values)


_packer = msgspec.msgpack.Encoder()
