"""Popular and trending items: the items with the most weighted interactions, over all the
interactions fitted on or over their last minutes (trending)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from intentflow.features.kinds import MICROS
from intentflow.recommend.base import History, Scored, best

KEPT = 1_000
"""The best items kept: enough for any page, after exclusions."""


class Popular:
    """Items by their weighted interactions in the ``window_s`` before the last one fitted on
    (None: all of them)."""

    def __init__(self, window_s: float | None = None, name: str = "popular"):
        self.window_s = window_s
        self.name = name

    def fit(self, interactions: pd.DataFrame) -> Popular:
        frame = interactions
        if self.window_s is not None and len(frame):
            frame = frame[frame["us"] >= frame["us"].max() - int(self.window_s * MICROS)]
        totals = frame.groupby("item")["weight"].sum()
        scores = dict(zip(totals.index.astype(str), totals.astype(float), strict=True))
        self.ranked_ = best(scores, KEPT)
        return self

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        left = set(exclude)
        return [s for s in self.ranked_ if s.item not in left][:n]


def trending(window_s: float = 15 * 60) -> Popular:
    """The items most interacted with in the last ``window_s`` (15 minutes)."""
    return Popular(window_s, name="trending")
