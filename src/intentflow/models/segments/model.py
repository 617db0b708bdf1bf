"""The stored segment model: it places anyone in a segment, in a batch or one at a time.

A model is the fitted :class:`~.prepare.Preprocessor`, each segment's centroid in the clustering
space with its stable id and name, and for density algorithms the exemplars and radii that
decide who is unclassified. It is saved as ``segments.json`` (and ``exemplars.npy`` when it has
exemplars) in its registry version, beside ``meta.json`` (scores, profiles, refresh matching).

>>> import numpy as np, pandas as pd
>>> from intentflow.models.segments.prepare import Preprocessor
>>> frame = pd.DataFrame({"visits": [1.0, 2, 3, 40, 41, 42]})
>>> prep = Preprocessor().fit(frame, {"visits": "zero"})
>>> points = prep.transform(frame)
>>> model = SegmentModel(prep, np.vstack([points[:3].mean(0), points[3:].mean(0)]),
...                      ids=[1, 2], names={1: "Light", 2: "Heavy"}, feature_version="v")
>>> model.assign_one({"visits": 39}).name, model.assign(frame).tolist()
('Heavy', [1, 1, 1, 2, 2, 2])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from intentflow.models.registry import version_folder
from intentflow.models.segments.algorithms import NOISE, Clustering, assign
from intentflow.models.segments.inputs import SegmentError
from intentflow.models.segments.prepare import Preprocessor
from intentflow.models.segments.profile import UNCLASSIFIED

KIND: Final = "segments"
MODEL_FILE: Final = "segments.json"
EXEMPLARS_FILE: Final = "exemplars.npy"


class FeatureVersionError(SegmentError):
    """Segments built on other features than the ones offered."""


@dataclass(frozen=True)
class Assignment:
    """A person's segment."""

    segment: int
    name: str
    distance: float
    """Distance to the segment's centroid (or, for density segments, nearest exemplar) in the
    clustering space."""


class SegmentModel:
    """Places people in segments (see the module's doc)."""

    def __init__(
        self,
        preprocessor: Preprocessor,
        centroids: np.ndarray,
        *,
        ids: Sequence[int],
        names: Mapping[int, str],
        feature_version: str,
        algorithm: str = "kmeans",
        exemplars: np.ndarray | None = None,
        exemplar_labels: np.ndarray | None = None,
        radius: np.ndarray | None = None,
        spread: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.preprocessor = preprocessor
        self.centroids = np.asarray(centroids, dtype=np.float64)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.names = {int(k): v for k, v in names.items()}
        self.names.setdefault(NOISE, UNCLASSIFIED)
        self.feature_version = feature_version
        self.algorithm = algorithm
        self.exemplars = exemplars
        self.exemplar_labels = exemplar_labels
        self.radius = radius
        self.spread = np.zeros(len(self.ids)) if spread is None else np.asarray(spread, float)
        """Per segment, the root mean square distance of its members to its centroid: how far
        a refreshed centroid may move and still be the same segment."""
        self.meta = meta or {}
        self._lookup = np.append(self.ids, NOISE)  # cluster index -1 reads the last entry

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unregistered"))

    @property
    def clustering(self) -> Clustering:
        """The placing rule as a :class:`Clustering` (without labels)."""
        return Clustering(
            np.zeros(0, np.int64),
            self.centroids,
            self.exemplars,
            self.exemplar_labels,
            self.radius,
        )

    def assign_points(self, points: np.ndarray) -> np.ndarray:
        """Segment ids of points already in the clustering space."""
        return np.asarray(self._lookup[assign(points, self.clustering)])

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        """Everyone's segment id from a frame of raw features (missing values allowed)."""
        return self.assign_points(self.preprocessor.transform(frame))

    def assign_one(self, values: Mapping[str, Any]) -> Assignment:
        """One person's segment from their current features (a mapping; missing ones are
        filled as in training)."""
        point = self.preprocessor.transform_one(values)
        if self.exemplars is None:
            distances = ((self.centroids - point) ** 2).sum(axis=1)
            cluster = int(distances.argmin())
        else:
            assert self.exemplar_labels is not None and self.radius is not None
            distances = ((self.exemplars - point) ** 2).sum(axis=1)
            nearest = int(distances.argmin())
            cluster = int(self.exemplar_labels[nearest])
            if distances[nearest] > self.radius[cluster] ** 2:
                return Assignment(NOISE, self.names[NOISE], float(np.sqrt(distances[nearest])))
            return Assignment(
                int(self.ids[cluster]),
                self.names[int(self.ids[cluster])],
                float(np.sqrt(distances[nearest])),
            )
        segment = int(self.ids[cluster])
        return Assignment(segment, self.names[segment], float(np.sqrt(distances[cluster])))

    def save(self, folder: Path) -> None:
        """Write ``segments.json`` (and the exemplars) into ``folder``."""
        data = {
            "algorithm": self.algorithm,
            "feature_version": self.feature_version,
            "preprocessor": self.preprocessor.to_dict(),
            "centroids": self.centroids.tolist(),
            "ids": self.ids.tolist(),
            "names": {str(k): v for k, v in self.names.items()},
            "radius": None if self.radius is None else self.radius.tolist(),
            "spread": self.spread.tolist(),
        }
        (folder / MODEL_FILE).write_text(json.dumps(data, indent=1))
        if self.exemplars is not None and self.exemplar_labels is not None:
            stacked = np.column_stack([self.exemplar_labels, self.exemplars])
            np.save(folder / EXEMPLARS_FILE, stacked, allow_pickle=False)

    @classmethod
    def read(cls, folder: Path) -> SegmentModel:
        """The model stored in one version's folder."""
        data = json.loads((folder / MODEL_FILE).read_text())
        exemplars = exemplar_labels = None
        if (folder / EXEMPLARS_FILE).exists():
            stacked = np.load(folder / EXEMPLARS_FILE, allow_pickle=False)
            exemplar_labels, exemplars = stacked[:, 0].astype(np.int64), stacked[:, 1:]
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        radius = data.get("radius")
        return cls(
            Preprocessor.from_dict(data["preprocessor"]),
            np.array(data["centroids"], dtype=np.float64),
            ids=data["ids"],
            names={int(k): v for k, v in data["names"].items()},
            feature_version=data["feature_version"],
            algorithm=data["algorithm"],
            exemplars=exemplars,
            exemplar_labels=exemplar_labels,
            radius=None if radius is None else np.array(radius, dtype=np.float64),
            spread=np.array(data.get("spread") or [0.0] * len(data["ids"])),
            meta=meta,
        )

    @classmethod
    def load(
        cls,
        source: str | Path,
        version: str | None = None,
        *,
        feature_version: str | None = None,
    ) -> SegmentModel:
        """A model from a registry (``source`` is its root; the champion unless ``version``) or
        from one version's folder. With ``feature_version``, segments of other features are
        refused with :class:`FeatureVersionError`."""
        model = cls.read(version_folder(source, KIND, version, MODEL_FILE))
        if feature_version is not None and feature_version != model.feature_version:
            raise FeatureVersionError(
                f"segments {model.version} were built on features of version "
                f"{model.feature_version}, these are version {feature_version}: segment anew "
                "without --previous, or build the features they know"
            )
        return model
