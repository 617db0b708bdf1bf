"""What every candidate generator is: fitted on interactions, it answers a person's history
with scored items, best first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd


@dataclass(frozen=True)
class Scored:
    """A candidate item with its generator's score."""

    item: str
    score: float


History = Sequence[str]
"""A person's items, oldest first (repeats kept)."""


class Generator(Protocol):
    """A candidate generator (see the module's doc)."""

    name: str

    def fit(self, interactions: pd.DataFrame) -> Generator:
        """Learn from ``interactions`` (:func:`~intentflow.recommend.interactions.interactions`'s
        columns); returns itself."""
        ...

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        """At most ``n`` items for a person with ``history``, none of ``exclude``."""
        ...


def latest(history: History, limit: int, exclude: Iterable[str] = ()) -> list[str]:
    """The person's distinct items, the latest first, at most ``limit``, none of ``exclude``."""
    left, out = set(exclude), list[str]()
    for item in reversed(history):
        if len(out) >= limit:
            break
        if item not in left:
            left.add(item)
            out.append(item)
    return out


def best(scores: dict[str, float], n: int, exclude: Iterable[str] = ()) -> list[Scored]:
    """The ``n`` best of ``scores`` outside ``exclude`` (ties: the smaller item id first)."""
    left = set(exclude)
    ranked = sorted(((-s, i) for i, s in scores.items() if i not in left))
    return [Scored(item, -score) for score, item in ranked[:n]]
