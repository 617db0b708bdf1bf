"""The embedded state backend: people in the process, bounded in number and idle time.

People are kept in least-recently-written order. A put moves a person to the end; people idle
longer than ``ttl_s`` are dropped from the front, and beyond ``max_people`` the least recently
active go first. Both happen as people are written, so the store never grows unbounded, and a
read never returns an expired person.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from intentflow.features.online import Catalog, OnlinePerson
from intentflow.state.base import Ranked, StateStore, StoreStats, TrendingStore, encode
from intentflow.stream.trending import Hit


class MemoryStore(StateStore):
    """People's online state in this process (see the module's doc)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        ttl_s: float,
        max_people: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.catalog = catalog
        self.ttl_s = ttl_s
        self.max_people = max_people
        self.clock = clock
        self.people: OrderedDict[str, tuple[float, OnlinePerson]] = OrderedDict()
        self.evicted = 0
        """People dropped for the cap (not for idling)."""
        self._positions: dict[str, int] = {}
        self.links: OrderedDict[str, tuple[float, str]] = OrderedDict()
        """Anonymous ids with when they were last written and the user they are linked to."""

    def get_many(self, people: Sequence[str]) -> dict[str, OnlinePerson]:
        oldest = self.clock() - self.ttl_s
        out = {}
        for person in people:
            held = self.people.get(person)
            if held is not None and held[0] >= oldest:
                out[person] = held[1]
        return out

    def put_many(
        self,
        people: Mapping[str, OnlinePerson],
        positions: Mapping[str, int] | None = None,
        *,
        links: Mapping[str, str] | None = None,
        gone: Sequence[str] = (),
    ) -> None:
        self._positions.update(positions or {})
        now = self.clock()
        self.delete(gone)
        for person, state in people.items():
            self.people[person] = (now, state)
            self.people.move_to_end(person)
        for anonymous, user in (links or {}).items():
            self.links[anonymous] = (now, user)
            self.links.move_to_end(anonymous)
        oldest = now - self.ttl_s
        for held in (self.people, self.links):
            while held and next(iter(held.values()))[0] < oldest:
                held.popitem(last=False)
        while len(self.people) > self.max_people:
            self.people.popitem(last=False)
            self.evicted += 1
        while len(self.links) > self.max_people:
            self.links.popitem(last=False)

    def aliases(self, ids: Sequence[str]) -> dict[str, str]:
        oldest = self.clock() - self.ttl_s
        found = {i: self.links.get(i) for i in ids}
        return {i: held[1] for i, held in found.items() if held is not None and held[0] >= oldest}

    def positions(self) -> dict[str, int]:
        return dict(self._positions)

    def delete(self, people: Sequence[str]) -> None:
        for person in people:
            self.people.pop(person, None)

    def stats(self) -> StoreStats:
        held = self.get_many(list(self.people))
        return StoreStats(len(held), sum(len(encode(p)) for p in held.values()))


class MemoryTrending(TrendingStore):
    """Trending scores in this process: per window, one counter per bucket for items, for
    categories and for the items of each category; buckets that leave the window are dropped."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[int, dict[str | None, defaultdict[str, float]]]] = {
            name: {} for name in self.windows
        }
        self.latest_us: int | None = None

    def add(self, hits: Sequence[Hit]) -> None:
        if not hits:
            return
        latest = max(h.us for h in hits)
        self.latest_us = latest if self.latest_us is None else max(self.latest_us, latest)
        for name, window in self.windows.items():
            buckets = self.buckets[name]
            for h in hits:
                bucket = window.bucket(h.us)
                counters = buckets.get(bucket)
                if counters is None:
                    counters = buckets[bucket] = {}
                _bump(counters, CATEGORIES, h.category or "", h.weight)
                _bump(counters, None, h.item, h.weight)
                if h.category is not None:
                    _bump(counters, h.category, h.item, h.weight)
        if self.latest_us is not None:
            for name, window in self.windows.items():
                first = window.first_bucket(self.latest_us)
                for bucket in [b for b in self.buckets[name] if b < first]:
                    del self.buckets[name][bucket]

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
        first, last = spec.first_bucket(now_us), spec.bucket(now_us)
        key = CATEGORIES if of == "categories" else category
        scores: defaultdict[str, float] = defaultdict(float)
        for bucket, counters in self.buckets[window].items():
            if first <= bucket <= last and key in counters:
                factor = spec.decay(bucket, now_us)
                for name, weight in counters[key].items():
                    scores[name] += weight * factor
        scores.pop("", None)
        return heapq.nlargest(n, scores.items(), key=lambda kv: (kv[1], kv[0]))


CATEGORIES = "\0categories"
"""The counter of categories in a bucket (no category has this name)."""


def _bump(
    counters: dict[str | None, defaultdict[str, float]], key: str | None, member: str, by: float
) -> None:
    scores = counters.get(key)
    if scores is None:
        scores = counters[key] = defaultdict(float)
    scores[member] += by
