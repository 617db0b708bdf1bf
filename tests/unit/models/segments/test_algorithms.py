"""Every algorithm behind one interface: it finds well-separated groups, places everyone by its
own rule, and the density ones leave far-away people unclassified."""

from __future__ import annotations

import numpy as np
import pytest

from intentflow.models.segments.algorithms import (
    ALGORITHMS,
    NOISE,
    AgglomerativeAlgorithm,
    DBSCANAlgorithm,
    HDBSCANAlgorithm,
    KMeansAlgorithm,
    assign,
    density_exemplars,
    knee_eps,
)
from intentflow.models.segments.choose import best_k, scan_k, validity
from intentflow.models.segments.inputs import SegmentError
from tests.unit.models.segments.conftest import FOUR, groups, same_partition

SIZES = (400, 300, 200, 100)


def _points(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    frame = groups(FOUR, SIZES, spread=0.4, seed=seed)
    return frame[["f0", "f1", "f2"]].to_numpy(), frame["truth"].to_numpy()


@pytest.mark.parametrize("name", ["kmeans", "agglomerative"])
def test_k_is_chosen_by_the_scores_and_the_groups_are_found(name: str) -> None:
    points, truth = _points()
    algorithm = ALGORITHMS[name]()
    scores, starts = scan_k(points, algorithm, list(range(2, 9)), seed=1)
    assert starts[4].shape == (4, 3)
    assert [s.k for s in scores] == list(range(2, 9))
    assert best_k(scores) == 4 and best_k(scores, "consensus") == 4
    best = max(scores, key=lambda s: s.silhouette)
    assert best.k == 4 and best.silhouette > 0.7
    # Davies-Bouldin is lowest and Calinski-Harabasz highest at the true k too
    assert min(scores, key=lambda s: s.davies_bouldin).k == 4
    assert max(scores, key=lambda s: s.calinski_harabasz).k == 4
    clustering = algorithm.fit(points, 4, seed=1)
    assert clustering.k == 4 and same_partition(clustering.labels, truth)
    np.testing.assert_array_equal(assign(points, clustering), clustering.labels)


def test_minibatch_kmeans_for_many_people_finds_the_same_groups() -> None:
    points, truth = _points()
    clustering = KMeansAlgorithm(minibatch_above=100).fit(points, 4, seed=3)
    assert same_partition(clustering.labels, truth)


def test_agglomerative_on_a_sample_places_the_rest_by_nearest_centroid() -> None:
    points, truth = _points()
    clustering = AgglomerativeAlgorithm(sample=150).fit(points, 4, seed=2)
    assert same_partition(clustering.labels, truth)


@pytest.mark.parametrize(
    "algorithm",
    [DBSCANAlgorithm(), HDBSCANAlgorithm(min_cluster_size=30)],
    ids=["dbscan", "hdbscan"],
)
def test_density_algorithms_find_the_groups_and_leave_strays_unclassified(
    algorithm: DBSCANAlgorithm | HDBSCANAlgorithm,
) -> None:
    points, truth = _points()
    strays = np.array([[20.0, 20, 20], [-20, 15, 0], [15, -20, 10]])
    everyone = np.vstack([points, strays])
    clustering = algorithm.fit(everyone, None, seed=0)
    assert clustering.k == 4
    labels = clustering.labels
    assert (labels[-3:] == NOISE).all()
    placed = labels[:-3] != NOISE
    assert placed.mean() > 0.95
    assert same_partition(labels[:-3][placed], truth[placed])
    # a new person near a group joins it; one far from all is unclassified
    fresh = np.array([[6.1, 0.1, -0.1], [40.0, -40, 40]])
    near, far = assign(fresh, clustering)
    assert near == labels[np.flatnonzero(truth == 1)[0]] and far == NOISE
    scores = validity(everyone, labels, seed=0)
    assert scores["silhouette"] > 0.7


def test_density_algorithms_say_so_when_people_form_no_groups() -> None:
    uniform = np.random.default_rng(0).uniform(size=(600, 2))
    with pytest.raises(SegmentError, match="no separate dense groups"):
        DBSCANAlgorithm(eps=0.5).fit(uniform, None, seed=0)


def test_the_knee_of_the_k_distance_curve_separates_groups_from_gaps() -> None:
    points, _ = _points()
    eps = knee_eps(points, 6)
    assert 0.2 < eps < 3.0  # within a group (spread 0.4), far below the gap between them (6)


def test_too_few_distinct_people_for_the_range_is_an_error() -> None:
    same = np.array([[1.0, 2.0]] * 10 + [[3.0, 4.0]] * 10)
    with pytest.raises(SegmentError, match="2 distinct feature rows"):
        scan_k(same, KMeansAlgorithm(), [3, 4], seed=0)
    scores, _ = scan_k(same, KMeansAlgorithm(), [2, 3, 4], seed=0)  # two segments can be
    assert [s.k for s in scores] == [2]


def test_consensus_takes_the_best_mean_rank_of_the_three_scores() -> None:
    from intentflow.models.segments.choose import KScore

    scores = [  # silhouette alone picks 4; Davies-Bouldin and Calinski-Harabasz agree on 3
        KScore(2, 0.40, 1.30, 100.0),
        KScore(3, 0.45, 0.80, 300.0),
        KScore(4, 0.46, 1.10, 200.0),
    ]
    assert best_k(scores, "silhouette") == 4
    assert best_k(scores, "davies_bouldin") == 3 and best_k(scores, "calinski_harabasz") == 3
    assert best_k(scores, "consensus") == 3 and best_k(scores) == 4
    with pytest.raises(SegmentError, match="choose k by 'gap'"):
        best_k(scores, "gap")


def test_an_algorithm_keeps_nothing_from_one_population_to_the_next() -> None:
    algorithm = AgglomerativeAlgorithm()
    even = np.r_[np.zeros((50, 1)), np.full((50, 1), 10.0)]
    uneven = np.r_[np.zeros((10, 1)), np.full((90, 1), 10.0)]
    assert sorted(np.bincount(algorithm.scan(even, [2], 0)[2]).tolist()) == [50, 50]
    assert sorted(np.bincount(algorithm.scan(uneven, [2], 0)[2]).tolist()) == [10, 90]


def test_every_density_cluster_keeps_exemplars_however_small() -> None:
    rng = np.random.default_rng(0)
    big = rng.normal(0, 0.3, size=(19_980, 2))
    tiny = rng.normal(8, 0.01, size=(5, 2))
    labels = np.r_[np.zeros(19_980, dtype=int), np.ones(5, dtype=int)]
    exemplars, exemplar_labels, radius = density_exemplars(np.vstack([big, tiny]), labels, 0)
    assert set(exemplar_labels.tolist()) == {0, 1} and (exemplar_labels == 1).sum() == 5
    assert len(exemplars) <= 2010 and (radius > 0).all()
