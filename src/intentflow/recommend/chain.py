"""Generators one after the other: the first one's items, then the next one's new ones, until
``n`` (the simplest routing: what the person did, what goes with it, what is popular)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from intentflow.recommend.base import Generator, History, Scored


class Chain:
    """Items of each generator in turn, none twice; scored by place (1, 1/2, 1/3...)."""

    def __init__(self, generators: Sequence[Generator], name: str):
        self.generators = list(generators)
        self.name = name

    def fit(self, interactions: pd.DataFrame) -> Chain:
        for generator in self.generators:
            generator.fit(interactions)
        return self

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        taken, items = set(exclude), list[str]()
        for generator in self.generators:
            if len(items) >= n:
                break
            for scored in generator.recommend(history, n - len(items), taken):
                taken.add(scored.item)
                items.append(scored.item)
        return [Scored(item, 1 / (place + 1)) for place, item in enumerate(items)]
