"""Choosing k: validity scores over a range of k, on a sample for scale.

For every k the algorithm clusters a sample of people (at most ``SCAN_SAMPLE``); the clusters
are scored by the silhouette (on at most ``SILHOUETTE_SAMPLE`` of them: it costs the square
of the people), Davies-Bouldin (lower is better) and Calinski-Harabasz (higher is better).
The chosen k has the best silhouette (or, on request, the best of another score, or the best
mean rank over the three); the whole table is stored with the model and plotted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
from sklearn import config_context
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from intentflow.models.segments.algorithms import NOISE, Algorithm, centroids_of, sample_rows
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
    points: np.ndarray, algorithm: Algorithm, ks: list[int], seed: int
) -> tuple[list[KScore], dict[int, np.ndarray]]:
    """The validity scores of every k in ``ks`` on a sample of ``points``, and each k's
    centroids on the sample (where a final fit can start)."""
    sample = points[sample_rows(len(points), SCAN_SAMPLE, seed)]
    distinct = len(np.unique(sample, axis=0)) if len(sample) <= 50_000 else len(sample)
    usable = [k for k in ks if k <= distinct and k < len(sample)]
    if not usable:
        raise SegmentError(
            f"{distinct} distinct feature rows: too few to choose among {min(ks)} to "
            f"{max(ks)} segments"
        )
    scores, starts = [], {}
    for k, labels in algorithm.scan(sample, usable, seed).items():
        found = len(np.unique(labels))
        if found >= 2:
            scores.append(KScore(k=k, **validity(sample, labels, seed)))
            starts[k] = centroids_of(sample, labels, found)
    if not scores:
        raise SegmentError("no k in the range gives two or more clusters")
    return scores, starts


CRITERIA: Final = ("consensus", "silhouette", "davies_bouldin", "calinski_harabasz")


def _ranks(values: list[float], higher_is_better: bool) -> np.ndarray:
    """1 for the best value, 2 for the next... (missing values rank last)."""
    keyed = np.array([v if np.isfinite(v) else -np.inf for v in values], dtype=float)
    if not higher_is_better:
        keyed = np.array([-v if np.isfinite(v) else -np.inf for v in values], dtype=float)
    order = np.argsort(-keyed, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def best_k(scores: list[KScore], by: str = "silhouette") -> int:
    """The chosen k: the best by one criterion (the silhouette by default), or by
    ``consensus``, the best mean rank over the three. Ties go to the better silhouette, then the
    smaller k. (Calinski-Harabasz, and so the consensus, tends to grow with k when a feature is
    noise that scaling has made as wide as the signal; the silhouette does not.)"""
    if by not in CRITERIA:
        raise SegmentError(f"choose k by {by!r}: one of {', '.join(CRITERIA)}")
    silhouette = _ranks([s.silhouette for s in scores], higher_is_better=True)
    ranks = {
        "silhouette": silhouette,
        "davies_bouldin": _ranks([s.davies_bouldin for s in scores], higher_is_better=False),
        "calinski_harabasz": _ranks([s.calinski_harabasz for s in scores], higher_is_better=True),
    }
    rank: np.ndarray = (
        (ranks["silhouette"] + ranks["davies_bouldin"] + ranks["calinski_harabasz"]) / 3
        if by == "consensus"
        else ranks[by]
    )
    best = min(range(len(scores)), key=lambda i: (rank[i], silhouette[i], scores[i].k))
    return scores[best].k
