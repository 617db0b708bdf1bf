"""Choosing k: validity scores over a range of k, on a sample for scale.

For every k the algorithm clusters a sample of people (at most ``SCAN_SAMPLE``); the clusters
are scored by the silhouette (on at most ``SILHOUETTE_SAMPLE`` of them: it costs the square
of the people), Davies-Bouldin (lower is better) and Calinski-Harabasz (higher is better).
The chosen k has the best silhouette; the whole table is stored with the model and plotted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
from sklearn import config_context
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from intentflow.models.segments.algorithms import NOISE, Algorithm, sample_rows
from intentflow.models.segments.inputs import SegmentError

SCAN_SAMPLE: Final = 100_000
SILHOUETTE_SAMPLE: Final = 10_000


@dataclass(frozen=True)
class KScore:
    """The validity scores of one k."""

    k: int
    silhouette: float
    davies_bouldin: float
    calinski_harabasz: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validity(points: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, float]:
    """Silhouette (sampled), Davies-Bouldin and Calinski-Harabasz of a clustering; people left
    unclassified by a density algorithm are not scored."""
    kept = labels != NOISE
    points, labels = points[kept], labels[kept]
    if len(np.unique(labels)) < 2:
        raise SegmentError("fewer than two clusters to score")
    rows = sample_rows(len(points), SCAN_SAMPLE, seed)
    points, labels = points[rows], labels[rows]
    silhouette_rows = sample_rows(len(points), SILHOUETTE_SAMPLE, seed)
    sampled = labels[silhouette_rows]
    silhouette = float("nan")
    if 1 < len(np.unique(sampled)) < len(sampled):
        with config_context(working_memory=128):  # MB per chunk of pairwise distances
            silhouette = float(silhouette_score(points[silhouette_rows], sampled))
    return {
        "silhouette": silhouette,
        "davies_bouldin": float(davies_bouldin_score(points, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(points, labels)),
    }


def scan_k(
    points: np.ndarray,
    algorithm: Algorithm,
    ks: list[int],
    seed: int,
    *,
    on_k: Any = None,
) -> list[KScore]:
    """The validity scores of every k in ``ks`` on a sample of ``points``."""
    sample = points[sample_rows(len(points), SCAN_SAMPLE, seed)]
    distinct = len(np.unique(sample, axis=0)) if len(sample) <= 50_000 else len(sample)
    usable = [k for k in ks if k < distinct]
    if not usable:
        raise SegmentError(
            f"{distinct} distinct feature rows: too few to choose among {min(ks)} to "
            f"{max(ks)} segments"
        )
    scores = []
    for k, labels in algorithm.scan(sample, usable, seed).items():
        if len(np.unique(labels)) >= 2:
            scores.append(KScore(k=k, **validity(sample, labels, seed)))
        if on_k is not None:
            on_k(k)
    if not scores:
        raise SegmentError("no k in the range gives two or more clusters")
    return scores


def best_k(scores: list[KScore]) -> int:
    """The k with the best silhouette (the smaller k on a tie)."""
    ranked = sorted(scores, key=lambda s: (-np.nan_to_num(s.silhouette, nan=-2.0), s.k))
    return ranked[0].k
