"""People with known groups for the segment tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def groups(
    centers: Sequence[Sequence[float]],
    sizes: Sequence[int],
    *,
    spread: float = 0.3,
    seed: int = 0,
    first_id: int = 0,
) -> pd.DataFrame:
    """People around each center (one column per coordinate, ``f0``, ``f1``...), keyed by
    ``user_id``, with a ``truth`` column naming their group."""
    rng = np.random.default_rng(seed)
    parts = []
    for group, (center, size) in enumerate(zip(centers, sizes, strict=True)):
        points = rng.normal(center, spread, size=(size, len(center)))
        part = pd.DataFrame(points, columns=[f"f{i}" for i in range(len(center))])
        part["truth"] = group
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "user_id", [f"u{first_id + i}" for i in range(len(frame))])
    return frame


FOUR = ((0, 0, 0), (6, 0, 0), (0, 6, 0), (0, 0, 6))
"""Four well-separated centers in three dimensions."""


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings split the rows alike (up to the labels' names)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))
