"""Popular items in the categories a person interacts with most: their category affinity,
then what everyone interacts with most there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pandas as pd

from intentflow.recommend.base import History, Scored, best

CATEGORIES = 3
"""The person's categories drawn from, the most frequent first."""


class AffinityPopular:
    """The best items of each of the person's :data:`CATEGORIES` top categories in turn (by how
    many of their events are in each; ties: the latest first)."""

    name = "affinity"

    def fit(self, interactions: pd.DataFrame) -> AffinityPopular:
        known = interactions.dropna(subset=["category"])
        self.category_of_ = dict(
            zip(known["item"].astype(str), known["category"].astype(str), strict=True)
        )
        totals = known.groupby(["category", "item"])["weight"].sum()
        per: dict[str, dict[str, float]] = {}
        for (category, item), weight in totals.items():
            per.setdefault(str(category), {})[str(item)] = float(weight)
        self.best_ = {category: best(items, 100) for category, items in per.items()}
        return self

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        counts: Counter[str] = Counter()
        latest: dict[str, int] = {}
        for place, item in enumerate(history):
            category = self.category_of_.get(item)
            if category is not None:
                counts[category] += 1
                latest[category] = place
        ranked = sorted(counts, key=lambda c: (-counts[c], -latest[c]))[:CATEGORIES]
        return self.in_categories(ranked, n, exclude)

    def in_categories(
        self, categories: Iterable[str], n: int, exclude: Iterable[str] = ()
    ) -> list[Scored]:
        """The best items of each of ``categories`` in turn, at most ``n``, none of
        ``exclude``."""
        taken, out = set(exclude), list[Scored]()
        if n <= 0:
            return out
        for category in categories:
            for scored in self.best_.get(category, ()):
                if scored.item not in taken:
                    taken.add(scored.item)
                    out.append(scored)
                    if len(out) == n:
                        return out
        return out
