"""The person's own latest items, most recent first ("continue where you left off")."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from intentflow.recommend.base import History, Scored, latest


class RecentItems:
    """A person's distinct items, the latest first, scored 1, 1/2, 1/3..."""

    name = "recent"

    def fit(self, interactions: pd.DataFrame) -> RecentItems:
        return self

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        return [
            Scored(item, 1 / (place + 1)) for place, item in enumerate(latest(history, n, exclude))
        ]
