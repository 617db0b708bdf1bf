"""Profiles against everyone, and names from the rules on recency, frequency, money, activity,
carts and tenure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intentflow.models.segments.profile import (
    UNCLASSIFIED,
    name_segments,
    profiles,
    to_frame,
    to_markdown,
)

# (segment, people, days since last visit, orders, revenue, events, carts, days since first seen)
KINDS = {
    1: (200, 2.0, 6, 900.0, 80, 4, 300.0),  # buy often and much, seen lately
    2: (200, 60.0, 1, 40.0, 10, 1, 400.0),  # bought before, gone quiet
    3: (300, 3.0, 0, 0.0, 120, 1, 200.0),  # busy, never buy
    4: (200, 1.0, 0, 0.0, 4, 0, 2.0),  # just arrived, little done
    5: (200, 5.0, 0, 0.0, 30, 12, 150.0),  # carts, no purchases
}


def _lake_like() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    rows, segments = [], []
    for seg, (n, days, orders, revenue, events, carts, first) in KINDS.items():
        jitter = rng.uniform(0.8, 1.2, size=(n, 6))
        rows.append(
            np.column_stack(
                [
                    days * jitter[:, 0],
                    np.round(orders * jitter[:, 1]),
                    revenue * jitter[:, 2],
                    np.round(events * jitter[:, 3]),
                    np.round(carts * jitter[:, 4]),
                    first * jitter[:, 5],
                ]
            )
        )
        segments += [seg] * n
    columns = [
        "days_since_last_visit",
        "orders_90d",
        "revenue_90d",
        "events_30d",
        "add_to_carts_30d",
        "days_since_first_seen",
    ]
    return pd.DataFrame(np.vstack(rows), columns=columns), np.array(segments)


def test_profiles_measure_each_segment_against_everyone() -> None:
    raw, segments = _lake_like()
    text = pd.DataFrame({"top_category_1": np.where(segments == 3, "shoes", "books")})
    found = profiles(raw, segments, text)
    assert [p.id for p in found] == [1, 2, 3, 4, 5]
    assert sum(p.size for p in found) == len(raw)
    assert sum(p.share for p in found) == pytest.approx(1.0)
    busy = found[2]
    assert busy.mean["events_30d"] == pytest.approx(raw["events_30d"][segments == 3].mean())
    assert busy.lift["events_30d"] == pytest.approx(
        busy.mean["events_30d"] / raw["events_30d"].mean()
    )
    assert busy.top["top_category_1"][0][:2] == ("shoes", 1.0)
    assert busy.standouts(1)[0][0] == "events_30d"


def test_names_follow_the_rules() -> None:
    raw, segments = _lake_like()
    found = profiles(raw, segments)
    name_segments(found, raw)
    assert {p.id: p.name for p in found} == {
        1: "Loyal big spenders",
        2: "At risk",
        3: "Window shoppers",
        4: "New visitors",
        5: "Cart abandoners",
    }


def test_names_are_distinct_kept_names_stay_and_strays_are_unclassified() -> None:
    raw, segments = _lake_like()
    segments = np.where(segments == 5, 3, segments)  # two busy groups...
    segments[np.flatnonzero(segments == 3)[:150]] = 6  # ...split in three
    segments[:5] = -1
    found = profiles(raw, segments)
    name_segments(found, raw, kept={1: "Our best"})
    names = {p.id: p.name for p in found}
    assert names[-1] == UNCLASSIFIED and names[1] == "Our best"
    assert len(set(names.values())) == len(names)


def test_a_table_without_the_lakes_roles_is_named_by_its_strongest_lifts() -> None:
    raw = pd.DataFrame(
        {"ratings": [1.0, 2, 1, 50, 60, 55], "mean_rating": [4.5, 4, 4.2, 3, 3.1, 2.9]}
    )
    found = profiles(raw, np.array([1, 1, 1, 2, 2, 2]))
    name_segments(found, raw)
    assert found[0].name.startswith("Low ratings")
    assert found[1].name.startswith("High ratings")


def test_exports_list_every_segment() -> None:
    raw, segments = _lake_like()
    found = profiles(raw, segments)
    name_segments(found, raw)
    frame = to_frame(found)
    assert frame["name"].tolist() == [p.name for p in found]
    assert {"events_30d_mean", "events_30d_median", "events_30d_lift"} <= set(frame.columns)
    markdown = to_markdown(found)
    assert all(f"| {p.id} | {p.name} |" in markdown for p in found)
