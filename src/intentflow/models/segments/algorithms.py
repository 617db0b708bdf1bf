"""Clustering algorithms behind one interface.

Each algorithm gives labels for a k scan on a sample (:meth:`Algorithm.scan`) and a
:class:`Clustering` of everyone (:meth:`Algorithm.fit`) that can also place a new person:

- ``kmeans``: K-Means (MiniBatch K-Means above ``minibatch_above`` people), started from the
  scan's centroids; a person belongs to the nearest centroid.
- ``agglomerative``: Ward linkage on a sample (one tree, cut at every k of the scan), then
  everyone to the nearest centroid of the cut.
- ``dbscan`` and ``hdbscan``: density clusters on a sample; people in no dense region are
  *unclassified* (label -1, a segment of their own). A person belongs to the cluster of the
  nearest stored exemplar (a sample of each cluster's members) when it lies within that
  cluster's radius, and is unclassified otherwise. They find their own number of clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.neighbors import NearestNeighbors

from intentflow.models.segments.inputs import SegmentError

NOISE = -1
EXEMPLARS = 2000
"""Stored exemplars of density clusters, over all clusters."""
MIN_EXEMPLARS = 10
"""Stored exemplars of each density cluster, however small."""


@dataclass(frozen=True)
class Clustering:
    """Everyone's cluster (0..k-1, or -1 unclassified) and what places a new person."""

    labels: np.ndarray
    centroids: np.ndarray
    """Mean of each cluster's members in the clustering space (k x dims)."""
    exemplars: np.ndarray | None = None
    exemplar_labels: np.ndarray | None = None
    radius: np.ndarray | None = None
    """Per cluster: how far from its nearest exemplar a person may be and still belong."""
    params: dict[str, float] | None = None

    @property
    def k(self) -> int:
        return len(self.centroids)


def nearest(points: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest center of each point (chunked, memory-bounded)."""
    index, distance = pairwise_distances_argmin_min(points, centers)
    return index.astype(np.int64), distance


def assign(points: np.ndarray, clustering: Clustering) -> np.ndarray:
    """The cluster of each point, by the clustering's own rule (see the module's doc)."""
    if clustering.exemplars is None:
        return nearest(points, clustering.centroids)[0]
    assert clustering.exemplar_labels is not None and clustering.radius is not None
    index, distance = nearest(points, clustering.exemplars)
    labels = clustering.exemplar_labels[index]
    return np.where(distance <= clustering.radius[labels], labels, NOISE)


def centroids_of(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The mean point of each cluster 0..k-1."""
    return np.vstack([points[labels == c].mean(axis=0) for c in range(k)])


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted row numbers of a uniform sample of ``size`` out of ``n`` (all when fewer)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


class Algorithm(Protocol):
    """One clustering algorithm (see the module's doc)."""

    name: ClassVar[str]
    chooses_k: ClassVar[bool]
    """Whether k is chosen by the scan (False: the algorithm finds its own)."""

    def scan(self, sample: np.ndarray, ks: list[int], seed: int) -> dict[int, np.ndarray]:
        """Labels of the sample for every k (empty when the algorithm does not take a k)."""
        ...

    def fit(
        self, points: np.ndarray, k: int | None, seed: int, start: np.ndarray | None = None
    ) -> Clustering:
        """Cluster everyone (``start``: centroids to start from, where the algorithm can)."""
        ...


def placed(points: np.ndarray, centers: np.ndarray) -> Clustering:
    """Everyone at their nearest center; centers nobody is nearest to are dropped. The
    centers are kept as they are, so that placing anyone again gives the same labels."""
    labels = nearest(points, centers)[0]
    present = np.unique(labels)
    if len(present) != len(centers):
        remap = np.full(len(centers), NOISE)
        remap[present] = np.arange(len(present))
        labels, centers = remap[labels], centers[present]
    return Clustering(labels, np.asarray(centers, dtype=np.float64))


@dataclass
class KMeansAlgorithm:
    """K-Means, MiniBatch K-Means for many people."""

    name: ClassVar[str] = "kmeans"
    chooses_k: ClassVar[bool] = True
    minibatch_above: int = 200_000
    n_init: int = 3
    """K-Means++ starts per k of the scan (the final fit starts from the scan's centroids);
    one start is faster and, on the Taobao people, lands in visibly worse optima."""

    def scan(self, sample: np.ndarray, ks: list[int], seed: int) -> dict[int, np.ndarray]:
        return {k: KMeans(k, n_init=self.n_init, random_state=seed).fit(sample).labels_ for k in ks}

    def fit(
        self, points: np.ndarray, k: int | None, seed: int, start: np.ndarray | None = None
    ) -> Clustering:
        if k is None:
            raise SegmentError("kmeans needs a k")
        init: np.ndarray | str = start if start is not None else "k-means++"
        n_init = 1 if start is not None else self.n_init
        if len(points) > self.minibatch_above:
            model: KMeans | MiniBatchKMeans = MiniBatchKMeans(
                k, init=init, n_init=n_init, batch_size=8192, random_state=seed
            )
        else:
            model = KMeans(k, init=init, n_init=n_init, random_state=seed)
        return placed(points, np.asarray(model.fit(points).cluster_centers_))


@dataclass
class AgglomerativeAlgorithm:
    """Ward linkage on a sample, everyone to the nearest centroid of the cut."""

    name: ClassVar[str] = "agglomerative"
    chooses_k: ClassVar[bool] = True
    sample: int = 5000

    def _tree(self, points: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rows = sample_rows(len(points), self.sample, seed)
        return rows, linkage(points[rows], method="ward")

    def _centers(
        self, points: np.ndarray, rows: np.ndarray, tree: np.ndarray, k: int
    ) -> np.ndarray:
        cut = np.asarray(fcluster(tree, k, criterion="maxclust")) - 1
        return centroids_of(points[rows], cut, int(cut.max()) + 1)

    def scan(self, sample: np.ndarray, ks: list[int], seed: int) -> dict[int, np.ndarray]:
        rows, tree = self._tree(sample, seed)
        return {k: placed(sample, self._centers(sample, rows, tree, k)).labels for k in ks}

    def fit(
        self, points: np.ndarray, k: int | None, seed: int, start: np.ndarray | None = None
    ) -> Clustering:
        if k is None:
            raise SegmentError("agglomerative needs a k")
        rows, tree = self._tree(points, seed)
        return placed(points, self._centers(points, rows, tree, k))


def density_exemplars(
    points: np.ndarray, labels: np.ndarray, seed: int, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sample of each cluster's members (about ``EXEMPLARS`` in all, in proportion to size,
    at least ``MIN_EXEMPLARS`` of each) and each cluster's radius: the 95th percentile of a
    member's distance to its nearest other member (at least ``floor``)."""
    clusters = int(labels.max()) + 1
    members = [np.flatnonzero(labels == c) for c in range(clusters)]
    total = sum(len(m) for m in members)
    kept = np.concatenate(
        [
            m[sample_rows(len(m), max(MIN_EXEMPLARS, EXEMPLARS * len(m) // total), seed)]
            for m in members
        ]
    )
    exemplars, exemplar_labels = points[kept], labels[kept]
    radius = np.full(clusters, floor)
    for c in range(clusters):
        own = exemplars[exemplar_labels == c]
        if len(own) > 1:
            gaps = NearestNeighbors(n_neighbors=2).fit(own).kneighbors(own)[0][:, 1]
            radius[c] = max(floor, float(np.quantile(gaps, 0.95)))
    return exemplars, exemplar_labels, radius


def knee_eps(points: np.ndarray, neighbours: int) -> float:
    """DBSCAN's eps from the sorted distances to each point's ``neighbours``-th neighbour: the
    point of the curve farthest from the straight line between its ends (its knee)."""
    distances = NearestNeighbors(n_neighbors=neighbours).fit(points).kneighbors(points)[0][:, -1]
    curve = np.sort(distances)
    x = np.linspace(0.0, 1.0, len(curve))
    span = curve[-1] - curve[0]
    if span <= 0:
        return float(curve[-1]) or 1e-9
    y = (curve - curve[0]) / span
    return float(curve[int(np.argmax(x - y))])


@dataclass
class DBSCANAlgorithm:
    """DBSCAN on a sample; eps from the k-distance knee unless given."""

    name: ClassVar[str] = "dbscan"
    chooses_k: ClassVar[bool] = False
    sample: int = 20_000
    eps: float | None = None
    min_samples: int | None = None

    def scan(self, sample: np.ndarray, ks: list[int], seed: int) -> dict[int, np.ndarray]:
        return {}

    def fit(
        self, points: np.ndarray, k: int | None, seed: int, start: np.ndarray | None = None
    ) -> Clustering:
        rows = sample_rows(len(points), self.sample, seed)
        sample = points[rows]
        neighbours = self.min_samples or max(4, 2 * points.shape[1])
        neighbours = min(neighbours, len(sample) - 1)
        if neighbours < 2:
            raise SegmentError(f"dbscan needs more people than {len(sample)}")
        eps = self.eps or knee_eps(sample, neighbours)
        found = DBSCAN(eps=eps, min_samples=neighbours).fit(sample).labels_
        return _density_clustering(
            points, sample, found, seed, floor=eps, params={"eps": eps, "min_samples": neighbours}
        )


@dataclass
class HDBSCANAlgorithm:
    """HDBSCAN on a sample."""

    name: ClassVar[str] = "hdbscan"
    chooses_k: ClassVar[bool] = False
    sample: int = 10_000
    min_cluster_size: int | None = None

    def scan(self, sample: np.ndarray, ks: list[int], seed: int) -> dict[int, np.ndarray]:
        return {}

    def fit(
        self, points: np.ndarray, k: int | None, seed: int, start: np.ndarray | None = None
    ) -> Clustering:
        rows = sample_rows(len(points), self.sample, seed)
        sample = points[rows]
        size = self.min_cluster_size or max(10, len(sample) // 100)
        if len(sample) <= size:
            raise SegmentError(f"hdbscan needs more people than {len(sample)}")
        found = HDBSCAN(min_cluster_size=size, copy=True).fit(sample).labels_
        return _density_clustering(
            points, sample, found, seed, floor=0.0, params={"min_cluster_size": size}
        )


def _density_clustering(
    points: np.ndarray,
    sample: np.ndarray,
    found: np.ndarray,
    seed: int,
    *,
    floor: float,
    params: dict[str, float],
) -> Clustering:
    clusters = int(found.max()) + 1
    if clusters < 2:
        noise = float((found == NOISE).mean())
        raise SegmentError(
            f"found {clusters} dense cluster(s) ({noise:.0%} of the sample unclassified): "
            "these people form no separate dense groups; try kmeans, or set the density "
            "parameters"
        )
    exemplars, exemplar_labels, radius = density_exemplars(sample, found, seed, floor)
    centroids = centroids_of(exemplars, exemplar_labels, clusters)
    placing = Clustering(np.zeros(0, np.int64), centroids, exemplars, exemplar_labels, radius)
    labels = assign(points, placing)
    for c in range(clusters):  # members' mean where the cluster has members
        if (labels == c).any():
            centroids[c] = points[labels == c].mean(axis=0)
    return Clustering(labels, centroids, exemplars, exemplar_labels, radius, params)


ALGORITHMS: dict[
    str, type[KMeansAlgorithm | AgglomerativeAlgorithm | DBSCANAlgorithm | HDBSCANAlgorithm]
] = {
    "kmeans": KMeansAlgorithm,
    "agglomerative": AgglomerativeAlgorithm,
    "dbscan": DBSCANAlgorithm,
    "hdbscan": HDBSCANAlgorithm,
}
"""The algorithms by name."""
