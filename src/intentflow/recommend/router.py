"""The serving policy's routing, offline: each person evaluated gets the strategy the policy
gives them from what they did before the cutoff, and its sources' items in turn, as the API
would answer (:mod:`.service`), so that ``intentflow evaluate recs`` measures the router itself.

What routing reads offline: the person's interactions before the cutoff (fewer than
``min_events``: sparse), and, for high intent, an item in their cart then (added and not bought
since). The intent model is not trained at each cutoff here: the cart stands in for its score,
as the add-to-cart rule it is compared with does (Step 3). Segments are not used offline. The
live trending lists are the interactions of the ``trending_window`` before the cutoff; a page's
``context`` is unknown offline and draws nothing. The policy's ``exclude_purchased`` holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from intentflow.recommend.affinity import CATEGORIES, AffinityPopular
from intentflow.recommend.base import History, Scored, best
from intentflow.recommend.covisit import CoVisitation
from intentflow.recommend.policy import Policy
from intentflow.recommend.popular import Popular
from intentflow.recommend.recent import RecentItems
from intentflow.stream.trending import WINDOWS


@dataclass
class Signals:
    """What routing and the sources read of one person before the cutoff."""

    events: int = 0
    cart: list[str] = field(default_factory=list)
    bought: set[str] = field(default_factory=set)
    categories: list[str] = field(default_factory=list)


def _signals(interactions: pd.DataFrame) -> dict[str, Signals]:
    out: dict[str, Signals] = {}
    frame = interactions.sort_values("us", kind="stable")
    for person, rows in frame.groupby("person", sort=False):
        signals = Signals(events=len(rows))
        carted: dict[str, int] = {}
        left: dict[str, int] = {}
        for item, kind, us in zip(rows["item"], rows["type"], rows["us"], strict=True):
            if kind == "add_to_cart":
                carted[str(item)] = int(us)
            elif kind == "purchase":
                left[str(item)] = int(us)
                signals.bought.add(str(item))
        held = [i for i, us in carted.items() if us > left.get(i, -1)]
        signals.cart = sorted(held, key=lambda i: -carted[i])
        counts = Counter(str(c) for c in rows["category"].dropna())
        signals.categories = [c for c, _ in counts.most_common(CATEGORIES)]
        out[str(person)] = signals
    return out


class PolicyRouter:
    """The policy's routing and sources over fitted generators (see the module's doc)."""

    def __init__(self, policy: Policy, name: str = "router"):
        self.policy = policy
        self.name = name

    def fit(self, interactions: pd.DataFrame) -> PolicyRouter:
        window_us = WINDOWS[self.policy.trending_window].seconds * 10**6
        latest = int(interactions["us"].max()) if len(interactions) else 0
        recent = interactions[interactions["us"] >= latest - window_us]
        self.covisitation_ = CoVisitation().fit(interactions)
        self.affinity_ = AffinityPopular().fit(interactions)
        self.popular_ = Popular().fit(interactions)
        self.trending_ = Popular().fit(recent)
        self.trending_affinity_ = AffinityPopular().fit(recent)
        self.signals_ = _signals(interactions)
        return self

    def with_policy(self, policy: Policy, name: str = "router") -> PolicyRouter:
        """The same fitted generators under another policy (whose trending window is this
        one's)."""
        if policy.trending_window != self.policy.trending_window:
            raise ValueError("another trending window needs fitting again")
        other = PolicyRouter(policy, name)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        return other

    def strategy(self, signals: Signals | None) -> str:
        """The strategy the policy gives a person with these signals."""
        if signals is None or signals.events < self.policy.min_events:
            return "sparse"
        return "high_intent" if signals.cart else "casual"

    def _sources(
        self, signals: Signals, history: History
    ) -> dict[str, Callable[[int, set[str]], list[Scored]]]:
        return {
            "recent": lambda n, ex: RecentItems().recommend(history, n, ex),
            "cart": lambda n, ex: self.covisitation_.recommend(signals.cart[::-1], n, ex),
            "covisitation": lambda n, ex: self.covisitation_.recommend(history, n, ex),
            "affinity": lambda n, ex: self.affinity_.in_categories(signals.categories, n, ex),
            "trending_affinity": lambda n, ex: self.trending_affinity_.in_categories(
                signals.categories, n, ex
            ),
            "trending": lambda n, ex: self.trending_.recommend([], n, ex),
            "popular": lambda n, ex: self.popular_.recommend([], n, ex),
            "context": lambda n, ex: [],
        }

    def recommend_for(
        self, person: str, history: History, n: int, exclude: Iterable[str] = ()
    ) -> list[Scored]:
        """What the router answers ``person`` (items scored by place: 1, 1/2, 1/3...)."""
        signals = self.signals_.get(person) or Signals()
        taken = set(exclude)
        if self.policy.rules.exclude_purchased:
            taken |= signals.bought
        sources = self._sources(signals, history)
        items: list[str] = []
        for name in self.policy.strategies[self.strategy(self.signals_.get(person))]:
            if len(items) >= n:
                break
            for scored in sources[name](n - len(items), taken):
                taken.add(scored.item)
                items.append(scored.item)
        return best({item: 1 / (place + 1) for place, item in enumerate(items)}, n)

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        """A stranger's answer (the sparse strategy)."""
        return self.recommend_for("", history, n, exclude)
