"""Segments of real people: the Taobao file through the lake and the feature catalog, and
MovieLens ratings (as activity) as a table of one's own. (The figures are in BENCHMARKS.md.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intentflow.config import Settings
from intentflow.models.segments.build import segment
from intentflow.models.segments.inputs import from_frame, lake_people


def test_taobao_people_fall_into_named_segments(taobao_settings: Settings) -> None:
    people = lake_people(taobao_settings)
    assert len(people) == 66_454  # everyone in the file (its README's count)
    assert people.as_of == "2017-11-26T03:10:12+00:00"  # just after the last event
    result = segment(people)
    assert 2 <= result.k <= 12
    assert result.validity["silhouette"] > 0.3  # measured 0.54 at k = 5
    names = [p.name for p in result.profiles]
    assert len(set(names)) == len(names) and all(names)
    assert sum(p.size for p in result.profiles) == len(people)
    # Taobao has no prices: revenue is constant and left out, with the reason
    assert result.model.preprocessor.dropped_.get("revenue_90d") == "constant"
    buyers = max(result.profiles, key=lambda p: p.lift["orders_90d"])
    assert buyers.active["orders_90d"] > 0.9  # one segment gathers the people who bought
    rows = np.random.default_rng(0).choice(len(people), 200, replace=False)
    for row in rows:
        placed = result.model.assign_one(people.features.iloc[row].to_dict())
        assert placed.segment == result.segments[row]


def _movielens_table(folder: Path) -> pd.DataFrame:
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    ratings["day"] = ratings["timestamp"] // 86_400
    end = ratings["timestamp"].max()
    by = ratings.groupby("userId")
    top_genre = (
        ratings.merge(movies, on="movieId")
        .assign(genre=lambda f: f["genres"].str.split("|"))
        .explode("genre")
        .groupby("userId")["genre"]
        .agg(lambda g: g.value_counts().index[0])
    )
    return pd.DataFrame(
        {
            "ratings": by.size(),
            "active_days": by["day"].nunique(),
            "days_since_last": (end - by["timestamp"].max()) / 86_400,
            "tenure_days": (by["timestamp"].max() - by["timestamp"].min()) / 86_400,
            "mean_rating": by["rating"].mean(),
            "high_share": by["rating"].apply(lambda r: (r >= 4).mean()),
            "top_genre": top_genre,
        }
    ).reset_index(names="user_id")


def test_movielens_raters_as_a_table(datasets: Path) -> None:
    folder = datasets / "movielens_small"
    if not (folder / "ratings.csv").exists():
        pytest.skip(f"{folder} not found (set INTENTFLOW_DATASETS)")
    table = _movielens_table(folder)
    assert len(table) == 610
    people = from_frame(table, "user_id")
    assert people.feature_version.startswith("table:")
    result = segment(people)
    assert 2 <= result.k <= 12 and result.validity["silhouette"] > 0.15
    heaviest = max(result.profiles, key=lambda p: p.lift["ratings"])
    assert heaviest.lift["ratings"] > 1.5 and heaviest.name.lower().startswith("high")
    assert all(p.top["top_genre"] for p in result.profiles)
    assert sum(p.size for p in result.profiles) == 610
