"""The intent model as it is stored and served: boosters, feature schema, calibrator, threshold,
reasons::

    model = IntentModel.load("intentflow-data/models")      # the registry's champion
    model.predict_proba(features_table)                     # calibrated probabilities
    model.score_one({"product_views_1h": 12, ...})          # Scored(probability, high_intent,
                                                            #        reasons)

A model reads the features it was trained on: :meth:`IntentModel.load` with ``feature_version``
(the feature catalog's version, or a table's schema version) refuses a model trained on other
features, and scoring a table without one of the model's columns is an error naming them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from intentflow.models.intent import KIND
from intentflow.models.intent.boosting import LEARNERS, TunedBoosting, sigmoid
from intentflow.models.intent.calibrate import Calibrator, Threshold
from intentflow.models.intent.reasons import Reason
from intentflow.models.intent.schema import FeatureMismatchError, Schema
from intentflow.models.registry import META, version_folder

MODEL_FILE = "model.json"
NEGLIGIBLE = 0.005
"""Contributions smaller than this (in log-odds) are no reason."""


class FeatureVersionError(FeatureMismatchError):
    """A model trained on another version of the features than the ones offered."""


def ranked_importance(columns: tuple[str, ...], shap: np.ndarray) -> list[tuple[str, float]]:
    """Mean absolute SHAP value per feature (``shap``: one column per feature), largest first."""
    mean = np.abs(shap).mean(axis=0)
    return sorted(zip(columns, map(float, mean), strict=True), key=lambda x: -x[1])


@dataclass(frozen=True)
class Scored:
    """One person's score: calibrated probability, class by the stored threshold, reasons."""

    probability: float
    high_intent: bool
    reasons: list[Reason]


@dataclass
class IntentModel:
    """A trained, calibrated intent model (see the module's doc)."""

    booster: TunedBoosting
    schema: Schema
    calibrator: Calibrator
    threshold: Threshold
    feature_version: str
    descriptions: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    # --- scoring -------------------------------------------------------------------------
    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        return self.calibrator.apply(sigmoid(margin))

    def predict_proba(self, features: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        """Calibrated purchase probability per row of a feature table, or of one person's
        features (a mapping of feature name to value; absent features count as missing)."""
        matrix = (
            self.schema.matrix(features)
            if isinstance(features, pd.DataFrame)
            else self.schema.vector(features)
        )
        return self.calibrate(self.booster.margin(matrix))

    def explain(self, table: pd.DataFrame, top: int = 3) -> list[Scored]:
        """Probability, class and top reasons per row of a feature table."""
        return self.score_matrix(self.schema.matrix(table), top)

    def score_one(self, features: Mapping[str, Any], top: int = 3) -> Scored:
        """One person's probability, class and top ``top`` reasons, from a mapping of feature
        name to value (absent features count as missing)."""
        return self.score_matrix(self.schema.vector(features), top)[0]

    def score_matrix(self, matrix: np.ndarray, top: int = 3) -> list[Scored]:
        """Probability, class and top reasons per row of the schema's float matrix."""
        contributions = self.booster.contributions(matrix)
        probabilities = self.calibrate(contributions.sum(axis=1))
        out = []
        for row, values, p in zip(contributions, matrix, probabilities, strict=True):
            order = np.argsort(-np.abs(row[:-1]))[:top]
            reasons = [
                self.reason(int(i), float(values[i]), float(row[i]))
                for i in order
                if abs(row[i]) >= NEGLIGIBLE
            ]
            out.append(Scored(float(p), bool(p >= self.threshold.value), reasons))
        return out

    def reason(self, i: int, value: float, contribution: float) -> Reason:
        column = self.schema.columns[i]
        shown: float | str | None = None if math.isnan(value) else value
        if column in self.schema.categories and shown is not None:
            shown = self.schema.categories[column][int(value)]
        return Reason(column, shown, contribution, self.descriptions.get(column, ""))

    def importance(self, table: pd.DataFrame) -> list[tuple[str, float]]:
        """Global importance: mean absolute SHAP value per feature, largest first."""
        contributions = self.booster.contributions(self.schema.matrix(table))
        return ranked_importance(self.schema.columns, contributions[:, :-1])

    # --- storage -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the model's files into ``folder`` (boosters as the libraries' own text or
        JSON formats; everything else as JSON: no pickles)."""
        files = self.booster.save(folder)
        spec = {
            "learner": self.booster.name,
            "boosters": files,
            "categorical": self.booster.categorical,
            "schema": self.schema.to_json(),
            "calibrator": self.calibrator.to_json(),
            "threshold": self.threshold.__dict__,
            "feature_version": self.feature_version,
            "descriptions": self.descriptions,
        }
        (folder / MODEL_FILE).write_text(json.dumps(spec, indent=1))

    @classmethod
    def read(cls, folder: Path) -> IntentModel:
        """A model from one version's folder."""
        spec = json.loads((folder / MODEL_FILE).read_text())
        booster = LEARNERS[spec["learner"]](categorical=list(spec["categorical"]))
        booster.load(folder, spec["boosters"])
        meta = json.loads((folder / META).read_text()) if (folder / META).exists() else {}
        return cls(
            booster,
            Schema.from_json(spec["schema"]),
            Calibrator.from_json(spec["calibrator"]),
            Threshold(**spec["threshold"]),
            spec["feature_version"],
            dict(spec.get("descriptions", {})),
            meta,
        )

    @classmethod
    def load(
        cls,
        source: str | Path,
        version: str | None = None,
        *,
        feature_version: str | None = None,
    ) -> IntentModel:
        """A model from a registry (``source`` is its root; the champion unless ``version``) or
        from one version's folder. With ``feature_version``, a model trained on other features
        is refused with :class:`FeatureVersionError`."""
        model = cls.read(version_folder(source, KIND, version, MODEL_FILE))
        if feature_version is not None and feature_version != model.feature_version:
            raise FeatureVersionError(
                f"model {model.version} was trained on features of version "
                f"{model.feature_version}, these are version {feature_version}: retrain the "
                "model (intentflow train intent) or build the features it knows"
            )
        return model

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unregistered"))
