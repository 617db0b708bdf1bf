"""Stable segment ids across refreshes, and who moved where.

A refresh clusters again and then matches the new clusters to the previous segments: each new
cluster's centroid is computed in the *previous* model's space (its members' raw features
through the previous preprocessor), and the Hungarian algorithm pairs new clusters with previous
centroids at the least total distance. A pair holds only when the new centroid lies within the
previous segment's spread (the root mean square distance of its members to its centroid): then
the new cluster is the same group and keeps the previous id and name. A new cluster without a
partner is a new segment with a never-used id; a previous segment without one has vanished.

Migrations compare each person's previous segment (stored with the previous version) with the
new one: how many people moved from which segment to which, including people who are new
(``from`` is None) and people no longer present (``to`` is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from intentflow.models.segments.algorithms import NOISE


@dataclass(frozen=True)
class Matching:
    """New cluster index -> stable id, and what was matched, new or vanished."""

    ids: list[int]
    matched: dict[int, int]
    """Segment id in the new model -> id in the previous one. A matched segment keeps its id,
    so every pair is an id with itself; the ids missing are the new segments."""
    distances: dict[int, float]
    """Per matched segment: how far its centroid moved, in units of the previous spread."""
    new: list[int]
    vanished: list[int]
    next_id: int


def spreads(points: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each cluster's root mean square distance of members to its centroid."""
    out = np.zeros(len(centroids))
    for c in range(len(centroids)):
        members = points[labels == c]
        if len(members):
            out[c] = float(np.sqrt(((members - centroids[c]) ** 2).sum(axis=1).mean()))
    return out


def first_ids(sizes: np.ndarray) -> list[int]:
    """Ids of a first model: 1 for the largest cluster, 2 for the next..."""
    ids = [0] * len(sizes)
    for rank, cluster in enumerate(np.argsort(-sizes, kind="stable")):
        ids[int(cluster)] = rank + 1
    return ids


def match(
    centroids_then: np.ndarray,
    ids_then: list[int],
    spread_then: np.ndarray,
    centroids_now: np.ndarray,
    sizes_now: np.ndarray,
    next_id: int,
) -> Matching:
    """Match the new clusters' centroids (in the previous model's space) to the previous
    segments (see the module's doc)."""
    cost = np.sqrt(((centroids_now[:, None, :] - centroids_then[None, :, :]) ** 2).sum(axis=2))
    cost = np.where(np.isfinite(cost), cost, np.finfo(np.float64).max / (cost.size + 1))
    rows, cols = linear_sum_assignment(cost)
    ids: list[int | None] = [None] * len(centroids_now)
    matched, distances = {}, {}
    for new, old in zip(rows.tolist(), cols.tolist(), strict=True):
        limit = spread_then[old]
        if cost[new, old] <= limit:
            ids[new] = ids_then[old]
            matched[ids_then[old]] = ids_then[old]
            distances[ids_then[old]] = float(cost[new, old] / limit) if limit else 0.0
    fresh = []
    for cluster in np.argsort(-sizes_now, kind="stable").tolist():
        if ids[cluster] is None:
            ids[cluster] = next_id
            fresh.append(next_id)
            next_id += 1
    vanished = [i for i in ids_then if i not in matched]
    assert all(i is not None for i in ids)
    return Matching(
        ids=[int(i) for i in ids if i is not None],
        matched=matched,
        distances=distances,
        new=fresh,
        vanished=vanished,
        next_id=next_id,
    )


def migrations(before: pd.DataFrame, after: pd.DataFrame) -> list[dict[str, Any]]:
    """People per (previous segment, new segment) pair, most first; each frame has ``id`` and
    ``segment``. ``from`` is None for people who are new, ``to`` None for people gone."""
    joined = before.merge(after, on="id", how="outer", suffixes=("_from", "_to"))
    counts = (
        joined.groupby(["segment_from", "segment_to"], dropna=False)
        .size()
        .reset_index(name="people")
    )
    out = [
        {
            "from": None if pd.isna(row.segment_from) else int(row.segment_from),
            "to": None if pd.isna(row.segment_to) else int(row.segment_to),
            "people": int(row.people),
        }
        for row in counts.itertuples(index=False)
    ]
    return sorted(out, key=lambda m: (-m["people"], str(m["from"]), str(m["to"])))


def migration_matrix(moves: list[dict[str, Any]]) -> pd.DataFrame:
    """The migrations as a table: previous segment (rows, "new people" for None) by new
    segment (columns, "gone" for None)."""
    frame = pd.DataFrame(
        [
            {
                "from": "new people" if m["from"] is None else _label(m["from"]),
                "to": "gone" if m["to"] is None else _label(m["to"]),
                "people": m["people"],
            }
            for m in moves
        ],
        columns=["from", "to", "people"],
    )
    return frame.pivot_table(
        index="from", columns="to", values="people", aggfunc="sum", fill_value=0
    )


def _label(segment: Any) -> str:
    return "unclassified" if int(segment) == NOISE else str(int(segment))
