"""Where a strategy's candidates come from at serving time: each source draws scored items for
one request, from the person's online state (their latest items, cart and top categories), the
lists learned from the lake (:mod:`.lists`) and the live trending scores, and says why in words.
The policy names them (:data:`~intentflow.recommend.policy.SourceName`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from intentflow.recommend.base import Scored
from intentflow.recommend.lists import Lists
from intentflow.recommend.recent import RecentItems
from intentflow.state.base import Ranked, TrendingStore

KEPT = 200
"""Items a cached trending list holds."""


class Candidate(NamedTuple):
    """An item drawn for a request: its score, the source that drew it and why."""

    item: str
    score: float
    source: str
    reason: str


@dataclass(frozen=True)
class Context:
    """What a request knows of the person and the page."""

    history: list[str] = field(default_factory=list)
    """Their latest items, oldest first."""
    cart: list[str] = field(default_factory=list)
    """What is in their cart, the latest added first."""
    categories: list[str] = field(default_factory=list)
    """Their top categories, the first the most frequent."""
    context_item: str | None = None
    """The item on the page."""
    context_category: str | None = None
    """The category of the page (asked for, or the context item's)."""
    now_us: int = 0


class Trends:
    """Trending lists from a :class:`~intentflow.state.base.TrendingStore`, each kept
    ``ttl_s`` in memory (a request costs no round trip to Redis while its list is fresh)."""

    def __init__(
        self,
        store: TrendingStore | None,
        *,
        ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[tuple[str, str | None], tuple[float, Ranked]] = {}
        self._lock = threading.Lock()

    def top(self, window: str, now_us: int, category: str | None = None) -> Ranked:
        """The best items of ``window`` (within ``category``), best first."""
        if self.store is None:
            return []
        key = (window, category)
        now = self.clock()
        held = self._cache.get(key)
        if held is not None and now - held[0] < self.ttl_s:
            return held[1]
        ranked = self.store.top(window, KEPT, now_us, category=category)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, ranked)
        return ranked


@dataclass(frozen=True)
class Draw:
    """What every source reads: the request's context, the learned lists, the trends."""

    context: Context
    lists: Lists
    trends: Trends
    window: str

    def category_of(self, item: str) -> str | None:
        """An item's category, as the lists learned it."""
        return self.lists.affinity.category_of_.get(item)


def _ranked(ranked: Ranked, n: int, exclude: set[str]) -> list[Scored]:
    return [Scored(i, s) for i, s in ranked if i not in exclude][:n]


def _recent(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    found = RecentItems().recommend(d.context.history, n, exclude)
    return [Candidate(s.item, s.score, "recent", "you looked at it lately") for s in found]


def _goes_with(
    d: Draw, seeds: list[str], n: int, exclude: set[str], source: str, why: str
) -> list[Candidate]:
    found = d.lists.covisitation.recommend(seeds, n, exclude)
    return [Candidate(s.item, s.score, source, why) for s in found]


def _cart(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    seeds = d.context.cart[::-1]  # oldest first, as a history
    return _goes_with(d, seeds, n, exclude, "cart", "often bought with what is in your cart")


def _covisitation(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    seeds = list(d.context.history)
    if d.context.context_item is not None:
        seeds.append(d.context.context_item)
    return _goes_with(d, seeds, n, exclude, "covisitation", "often viewed with what you viewed")


def _in_categories(
    d: Draw, categories: list[str], n: int, exclude: set[str], source: str
) -> list[Candidate]:
    found = d.lists.affinity.in_categories(categories, n, exclude)
    return [
        Candidate(s.item, s.score, source, f"popular in {d.category_of(s.item) or 'its category'}")
        for s in found
    ]


def _affinity(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    return _in_categories(d, d.context.categories, n, exclude, "affinity")


def _trending_in(
    d: Draw, categories: list[str | None], n: int, exclude: set[str], source: str
) -> list[Candidate]:
    out: list[Candidate] = []
    taken = set(exclude)
    for category in categories:
        where = f" in {category}" if category is not None else ""
        ranked = d.trends.top(d.window, d.context.now_us, category)
        for s in _ranked(ranked, n - len(out), taken):
            taken.add(s.item)
            out.append(Candidate(s.item, s.score, source, f"trending{where} now"))
        if len(out) >= n:
            break
    return out


def _trending_affinity(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    categories: list[str | None] = list(d.context.categories)
    return _trending_in(d, categories, n, exclude, "trending_affinity")


def _trending(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    return _trending_in(d, [None], n, exclude, "trending")


def _popular(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    found = d.lists.popular.recommend([], n, exclude)
    out = [Candidate(s.item, s.score, "popular", "popular lately") for s in found]
    if len(out) < n:  # nothing learned from the lake yet: the last day's trends
        taken = exclude | {c.item for c in out}
        ranked = d.trends.top("24h", d.context.now_us)
        out += [
            Candidate(s.item, s.score, "popular", "popular today")
            for s in _ranked(ranked, n - len(out), taken)
        ]
    return out


def _context(d: Draw, n: int, exclude: set[str]) -> list[Candidate]:
    out: list[Candidate] = []
    item, category = d.context.context_item, d.context.context_category
    if item is not None:
        out += _goes_with(d, [item], n, exclude, "context", f"often viewed with {item}")
        category = category or d.category_of(item)
    if category is not None and len(out) < n:
        taken = exclude | {c.item for c in out}
        out += _in_categories(d, [category], n - len(out), taken, "context")
    if category is not None and len(out) < n:  # nothing learned of it yet: its trends
        taken = exclude | {c.item for c in out}
        out += _trending_in(d, [category], n - len(out), taken, "context")
    return out


SOURCES: dict[str, Callable[[Draw, int, set[str]], list[Candidate]]] = {
    "recent": _recent,
    "cart": _cart,
    "covisitation": _covisitation,
    "affinity": _affinity,
    "trending_affinity": _trending_affinity,
    "trending": _trending,
    "popular": _popular,
    "context": _context,
}
"""Each source by its policy name: ``(draw, n, exclude) -> candidates``, at most ``n``, none of
``exclude``, best first."""
