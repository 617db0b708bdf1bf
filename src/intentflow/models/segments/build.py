"""Segmenting people end to end: prepare, choose k, cluster, keep ids stable, profile, name,
and register the model.

>>> import numpy as np, pandas as pd
>>> from intentflow.models.segments.inputs import from_frame
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"id": range(300), "visits": np.r_[rng.normal(2, .3, 150),
...                       rng.normal(9, .3, 150)], "spend": rng.normal(5, 1, 300)})
>>> result = segment(from_frame(frame, "id"), SegmentOptions(k_max=4))
>>> result.model.centroids.shape[0], sorted(np.bincount(result.segments).tolist())
(2, [0, 150, 150])
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from intentflow.models.registry import Registry
from intentflow.models.segments.algorithms import (
    ALGORITHMS,
    NOISE,
    AgglomerativeAlgorithm,
    Algorithm,
    DBSCANAlgorithm,
    HDBSCANAlgorithm,
    KMeansAlgorithm,
    centroids_of,
    sample_rows,
)
from intentflow.models.segments.choose import CRITERIA, KScore, best_k, scan_k, validity
from intentflow.models.segments.inputs import People, SegmentError
from intentflow.models.segments.model import KIND, FeatureVersionError, SegmentModel
from intentflow.models.segments.prepare import Preprocessor, fill_values, filled_column
from intentflow.models.segments.profile import Profile, name_segments, profiles, to_frame
from intentflow.models.segments.profile import to_markdown as profiles_markdown
from intentflow.models.segments.refresh import Matching, first_ids, match, migrations, spreads

MAP_SAMPLE: Final = 5000
"""People kept (in the clustering space) with the model, for its maps."""
ASSIGNMENTS: Final = "assignments.parquet"
SAMPLE: Final = "sample.npz"


@dataclass(frozen=True)
class SegmentOptions:
    """How to segment (the defaults are ``SegmentSettings``')."""

    algorithm: str = "kmeans"
    k: int | None = None
    """A fixed number of segments (kmeans, agglomerative); None chooses it in k_min..k_max."""
    k_min: int = 2
    k_max: int = 12
    choose_by: str = "silhouette"
    """How k is chosen: the best ``silhouette``, ``davies_bouldin`` or ``calinski_harabasz``,
    or ``consensus`` (the best mean rank of the three)."""
    scaling: Literal["zscore", "minmax"] = "zscore"
    pca: float | None = None
    features: tuple[str, ...] = ()
    """Segment on these features only (default: all the input offers)."""
    max_correlation: float = 0.95
    """Leave out a feature correlated beyond this with an earlier one."""
    seed: int = 42
    minibatch_above: int = 200_000
    eps: float | None = None
    """DBSCAN's neighbourhood radius (default: the knee of the k-distance curve)."""
    min_samples: int | None = None
    """DBSCAN's core size (default: twice the dimensions, at least 4)."""
    min_cluster_size: int | None = None
    """HDBSCAN's smallest cluster (default: 1 % of its sample, at least 10)."""

    def algorithm_(self) -> Algorithm:
        """A fresh instance of the chosen algorithm."""
        if self.algorithm not in ALGORITHMS:
            raise SegmentError(
                f"algorithm {self.algorithm!r}: choose one of {', '.join(ALGORITHMS)}"
            )
        if self.algorithm == "kmeans":
            return KMeansAlgorithm(minibatch_above=self.minibatch_above)
        if self.algorithm == "agglomerative":
            return AgglomerativeAlgorithm()
        if self.algorithm == "dbscan":
            return DBSCANAlgorithm(eps=self.eps, min_samples=self.min_samples)
        return HDBSCANAlgorithm(min_cluster_size=self.min_cluster_size)


@dataclass
class Segmentation:
    """A segmentation of people, ready to register."""

    model: SegmentModel
    people: People
    segments: np.ndarray
    """Each person's segment id."""
    scores: list[KScore]
    validity: dict[str, float]
    profiles: list[Profile]
    previous: str | None = None
    matching: Matching | None = None
    migrations: list[dict[str, Any]] | None = None
    sample: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros((0, 0)), np.zeros(0))
    )
    seconds: float = 0.0
    chosen_by: str = "given"
    """How k was chosen (``given``, ``found`` by a density algorithm, or the criterion)."""

    @property
    def k(self) -> int:
        return len(self.model.ids)


def _check(people: People, options: SegmentOptions, previous: SegmentModel | None) -> None:
    if len(people) < 2:
        raise SegmentError(f"{len(people)} person: segments need two people or more")
    if options.k is not None and options.k < 2:
        raise SegmentError(f"k={options.k}: two segments or more")
    if options.k is not None and options.k > len(people):
        raise SegmentError(f"k={options.k} segments for {len(people)} people: fewer people")
    if options.k_min < 2 or options.k_min > options.k_max:
        raise SegmentError(f"k range {options.k_min}..{options.k_max}: from 2, min <= max")
    if options.choose_by not in CRITERIA:
        raise SegmentError(f"choose k by {options.choose_by!r}: one of {', '.join(CRITERIA)}")
    if options.k is not None and options.algorithm in ("dbscan", "hdbscan"):
        raise SegmentError(f"{options.algorithm} finds its own number of segments: drop --k")
    if previous is not None and previous.feature_version != people.feature_version:
        raise FeatureVersionError(
            f"the previous segments {previous.version} were built on features of version "
            f"{previous.feature_version}, these are version {people.feature_version}: a "
            "refresh must read the same features (segment anew without --previous)"
        )
    offered = [str(c) for c in people.features.columns]
    if previous is not None and previous.preprocessor.inputs_ != offered:
        raise FeatureVersionError(
            f"the previous segments {previous.version} were built on "
            f"{', '.join(previous.preprocessor.inputs_)}; these people offer "
            f"{', '.join(offered)}: a refresh must read the same features"
        )


def select(people: People, features: tuple[str, ...]) -> People:
    """``people`` with only the named features (all when none are named)."""
    if not features:
        return people
    unknown = [f for f in features if f not in people.features.columns]
    if unknown:
        known = ", ".join(map(str, people.features.columns))
        raise SegmentError(f"no feature {', '.join(unknown)}; known: {known}")
    return dataclasses.replace(people, features=people.features[list(features)])


def segment(
    people: People,
    options: SegmentOptions | None = None,
    *,
    previous: SegmentModel | None = None,
    previous_assignments: pd.DataFrame | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Segmentation:
    """Segment ``people``; with ``previous``, keep its ids for the same groups and count
    migrations against ``previous_assignments`` (``id``, ``segment``)."""
    options = options or SegmentOptions()
    people = select(people, options.features)
    _check(people, options, previous)
    started = time.perf_counter()
    say = on_step or (lambda _: None)
    say("preparing features")
    prep = Preprocessor(
        scaling=options.scaling, pca=options.pca, max_correlation=options.max_correlation
    ).fit(people.features, people.fills)
    points = prep.transform(people.features)
    algorithm = options.algorithm_()
    scores: list[KScore] = []
    starts: dict[int, np.ndarray] = {}
    k = options.k
    if algorithm.chooses_k:
        ks = [k] if k else list(range(options.k_min, options.k_max + 1))
        say(f"scoring k = {', '.join(map(str, ks))}")
        scores, starts = scan_k(points, algorithm, ks, options.seed)
        k = k or best_k(scores, options.choose_by)
    say(f"clustering {len(people):,} people" + (f" into {k}" if k else ""))
    start = starts.get(k) if k is not None else None
    clustering = algorithm.fit(points, k, options.seed, start)
    labels = clustering.labels
    sizes = np.bincount(labels[labels >= 0], minlength=clustering.k)
    matching = None
    if previous is None:
        ids = first_ids(sizes)
    else:
        say(f"matching with {previous.version}")
        then = previous.preprocessor.transform(people.features)
        moved = centroids_of(then, labels, clustering.k)
        next_id = int(previous.meta.get("next_id", int(previous.ids.max()) + 1))
        matching = match(
            previous.centroids, previous.ids.tolist(), previous.spread, moved, sizes, next_id
        )
        ids = matching.ids
    lookup = np.append(np.asarray(ids, dtype=np.int64), NOISE)
    segments = lookup[labels]
    say("profiling")
    fills = fill_values(people.features, people.fills)  # every input, clustered on or not
    raw = pd.DataFrame({c: filled_column(people.features[c], v) for c, v in fills.items()})
    found = profiles(raw, segments, people.text)
    kept = {i: previous.names[i] for i in matching.matched} if matching and previous else {}
    name_segments(found, raw, kept)
    model = SegmentModel(
        prep,
        clustering.centroids,
        ids=ids,
        names={p.id: p.name for p in found},
        feature_version=people.feature_version,
        algorithm=options.algorithm,
        exemplars=clustering.exemplars,
        exemplar_labels=clustering.exemplar_labels,
        radius=clustering.radius,
        spread=spreads(points, labels, clustering.centroids),
        meta={"next_id": matching.next_id if matching else len(ids) + 1},
    )
    moves = None
    if previous_assignments is not None:
        now = pd.DataFrame({"id": people.ids, "segment": segments})
        moves = migrations(previous_assignments, now)
    rows = sample_rows(len(points), MAP_SAMPLE, options.seed)
    return Segmentation(
        model=model,
        people=people,
        segments=segments,
        scores=scores,
        validity=validity(points, labels, options.seed),
        profiles=found,
        previous=previous.version if previous else None,
        matching=matching,
        migrations=moves,
        sample=(points[rows], segments[rows]),
        seconds=time.perf_counter() - started,
        chosen_by=(
            "found" if not algorithm.chooses_k else "given" if options.k else options.choose_by
        ),
    )


def summary(result: Segmentation, version: str | None = None) -> dict[str, Any]:
    """The JSON summary of a segmentation (what ``intentflow segment --json`` prints)."""
    out: dict[str, Any] = {
        "model_version": version or result.model.version,
        "algorithm": result.model.algorithm,
        "people": len(result.people),
        "k": result.k,
        **{key: round(value, 4) for key, value in result.validity.items()},
        "segments": [{"id": p.id, "name": p.name, "size": p.size} for p in result.profiles],
        "feature_version": result.people.feature_version,
        "seconds": round(result.seconds, 2),
    }
    if result.matching is not None:
        out |= {
            "previous": result.previous,
            "matched": {str(k): v for k, v in result.matching.matched.items()},
            "new_segments": result.matching.new,
            "vanished_segments": result.matching.vanished,
        }
    if result.migrations is not None:
        out["migrations"] = result.migrations
    return dict(plain(out))


def meta_of(result: Segmentation) -> dict[str, Any]:
    """What ``meta.json`` keeps of a segmentation."""
    prep = result.model.preprocessor
    return {
        **{k: v for k, v in summary(result).items() if k != "model_version"},
        **result.model.meta,
        "source": result.people.source,
        "as_of": result.people.as_of,
        "scores": [s.to_dict() for s in result.scores],
        "chosen_by": result.chosen_by,
        "profiles": [p.to_dict() for p in result.profiles],
        "distances": result.matching.distances if result.matching else None,
        "preprocessing": {
            "scaling": prep.scaling,
            "columns": prep.columns_,
            "dropped": prep.dropped_,
            "log": [c for c, logged in zip(prep.columns_, prep.log_, strict=True) if logged],
            "pca_explained": prep.explained_,
        },
        "descriptions": result.people.descriptions,
    }


def register(registry: Registry, result: Segmentation, *, promote: bool = True) -> str:
    """Store the model, its profiles (CSV, Markdown), everyone's segment and a map sample as a
    new ``segments`` version; promote it to champion unless told not to."""

    def write(folder: Path) -> None:
        result.model.save(folder)
        to_frame(result.profiles).to_csv(folder / "profiles.csv", index=False)
        (folder / "profiles.md").write_text(profiles_markdown(result.profiles))
        ids = pa.array(result.people.ids.tolist())
        table = pa.table({"id": ids, "segment": pa.array(result.segments, pa.int64())})
        pq.write_table(table, folder / ASSIGNMENTS)
        np.savez(folder / SAMPLE, points=result.sample[0], segments=result.sample[1])

    meta = plain(meta_of(result))
    version = registry.register(KIND, write, meta)
    result.model.meta = {**meta, "version": version}
    if promote:
        registry.promote(KIND, version)
    return version


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN or infinity as None (JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def read_assignments(folder: Path) -> pd.DataFrame:
    """Everyone's segment as stored with a version (``id``, ``segment``)."""
    path = folder / ASSIGNMENTS
    if not path.exists():
        return pd.DataFrame({"id": pd.Series([], dtype=str), "segment": []})
    return pd.read_parquet(path).astype({"id": str})
