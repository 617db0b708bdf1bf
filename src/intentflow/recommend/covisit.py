"""Item-to-item co-visitation: items one person interacted with close in time, each pair
counted by the weight of the other item's event (a purchase counts more than a view), and the
best neighbours of each item kept. One SQL query, run by DuckDB here and by Spark through the
features' transpiler (:func:`~intentflow.features.query.to_dialect`) with the same result,
bounded per person: only events at most :data:`REACH` apart in the person's order.

A person's candidates are the neighbours of their latest items, the latest counting most.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd

from intentflow.features.kinds import MICROS
from intentflow.recommend.base import History, Scored, best, latest

REACH = 20
"""How many of a person's events apart two events may be to count as a pair (a bot's thousands
of events do not make a quadratic join)."""

LATEST = 10
"""The person's latest distinct items whose neighbours are candidates."""


def covisitation_sql(window_us: int, neighbours: int, source: str = "interactions") -> str:
    """Each item's best ``neighbours`` with their scores, from ``source``'s interactions
    (``person``, ``item``, ``us``, ``weight``) at most ``window_us`` apart (DuckDB dialect)."""
    return f"""
WITH ev AS (
  SELECT person, item, us, weight,
         ROW_NUMBER() OVER (PARTITION BY person ORDER BY us, item, weight) AS seq
  FROM {source}
),
pairs AS (
  SELECT a.item AS item, b.item AS neighbour, SUM(b.weight) AS score
  FROM ev AS a JOIN ev AS b
    ON a.person = b.person AND a.item <> b.item
   AND b.seq BETWEEN a.seq - {REACH} AND a.seq + {REACH}
   AND ABS(a.us - b.us) <= {window_us}
  GROUP BY a.item, b.item
)
SELECT item, neighbour, score FROM pairs
QUALIFY ROW_NUMBER() OVER (PARTITION BY item ORDER BY score DESC, neighbour) <= {neighbours}
ORDER BY item, score DESC, neighbour
"""


class CoVisitation:
    """Neighbours of a person's latest items (see the module's doc)."""

    name = "covisitation"

    def __init__(self, window_s: float = 3600, neighbours: int = 50):
        self.window_s = window_s
        self.neighbours = neighbours

    def fit(self, interactions: pd.DataFrame) -> CoVisitation:
        con = duckdb.connect()
        try:
            con.register("interactions", interactions[["person", "item", "us", "weight"]])
            rows = con.execute(
                covisitation_sql(int(self.window_s * MICROS), self.neighbours)
            ).fetchall()
        finally:
            con.close()
        self.neighbours_: dict[str, list[tuple[str, float]]] = {}
        for item, neighbour, score in rows:
            self.neighbours_.setdefault(str(item), []).append((str(neighbour), float(score)))
        return self

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        scores: dict[str, float] = {}
        for rank, item in enumerate(latest(history, LATEST)):
            for neighbour, score in self.neighbours_.get(item, ()):
                scores[neighbour] = scores.get(neighbour, 0.0) + score / (rank + 1)
        return best(scores, n, exclude)
