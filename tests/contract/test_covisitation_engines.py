"""The co-visitation query gives the same neighbours on DuckDB and on Spark (local[2])."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd

from intentflow.features.query import to_dialect
from intentflow.recommend.covisit import REACH, CoVisitation, covisitation_sql
from intentflow.stream.trending import WEIGHTS

MINUTE = 60 * 10**6


def _interactions(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    kinds = list(WEIGHTS)
    rows = []
    for person in range(40):
        us = rng.randrange(1_000) * MINUTE
        for _ in range(rng.randrange(1, 3 * REACH)):  # some longer than the reach
            us += rng.choice((0, 1, 5, 30, 90)) * MINUTE  # repeats of a time, and long gaps
            kind = rng.choice(kinds)
            rows.append(
                {
                    "person": f"p{person}",
                    "item": f"i{rng.randrange(25)}",
                    "us": us,
                    "weight": WEIGHTS[kind],
                }
            )
    return pd.DataFrame(rows)


def test_duckdb_and_spark_find_the_same_neighbours(spark: Any) -> None:
    frame = _interactions(3)
    duck = CoVisitation(window_s=3600, neighbours=5).fit(frame).neighbours_
    spark.createDataFrame(frame).createOrReplaceTempView("interactions")
    rows = spark.sql(to_dialect(covisitation_sql(3600 * 10**6, 5), "spark")).collect()
    theirs: dict[str, list[tuple[str, float]]] = {}
    for row in rows:
        theirs.setdefault(row["item"], []).append((row["neighbour"], float(row["score"])))
    assert theirs == duck
    assert sum(map(len, duck.values())) > 50  # pairs found, neighbours cut at five
    assert max(map(len, duck.values())) == 5
