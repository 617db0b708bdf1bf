"""The person's own latest items, most recent first ("continue where you left off")."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from intentflow.recommend.base import History, Scored


class RecentItems:
    """A person's distinct items, the latest first, scored 1, 1/2, 1/3..."""

    name = "recent"

    def fit(self, interactions: pd.DataFrame) -> RecentItems:
        return self

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        left, out = set(exclude), list[Scored]()
        for item in reversed(history):
            if item not in left:
                left.add(item)
                out.append(Scored(item, 1 / (len(out) + 1)))
                if len(out) == n:
                    break
        return out
