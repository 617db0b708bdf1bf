"""Calibration (a score of 0.7 means 70 %) and the high-intent threshold, both learnt on
validation scores, never on test rows.

- ``platt`` (the default): a logistic curve on the model's log-odds. Two parameters, safe on few
  rows, and strictly increasing, so calibrated scores rank people exactly as the model does;
- ``isotonic``: a monotone step function fitted to the validation scores. More flexible, but it
  needs many rows, and its flat steps tie people the model told apart, which costs ranking
  quality (ROC-AUC, PR-AUC);
- ``none``: the model's own probability.

A calibrator is plain numbers, stored as JSON with the model.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> raw = rng.uniform(0, 1, 4000); y = (rng.uniform(0, 1, 4000) < raw ** 2).astype(int)
>>> cal = Calibrator.fit("platt", raw, y)
>>> bool(abs(cal.apply(np.array([0.5]))[0] - 0.25) < 0.08)
True
>>> Calibrator.from_json(cal.to_json()).apply(np.array([0.5])) == cal.apply(np.array([0.5]))
array([ True])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

Method = Literal["isotonic", "platt", "none"]
EPS = 1e-7


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities (clipped away from 0 and 1)."""
    q = np.clip(p, EPS, 1 - EPS)
    return np.asarray(np.log(q / (1 - q)))


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from the model's probability to a calibrated one."""

    method: Method
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, method: Method, probabilities: np.ndarray, labels: np.ndarray) -> Calibrator:
        """Fit ``method`` on validation probabilities and their labels."""
        if method == "none":
            return cls("none")
        if method == "platt":
            lr = LogisticRegression(C=1e6, max_iter=1000)
            lr.fit(logit(probabilities).reshape(-1, 1), labels)
            return cls("platt", {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])})
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(probabilities, labels)
        return cls(
            "isotonic",
            {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()},
        )

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        if self.method == "platt":
            z = self.params["a"] * logit(probabilities) + self.params["b"]
            return np.asarray(1.0 / (1.0 + np.exp(-z)))
        if self.method == "isotonic":
            return np.asarray(np.interp(probabilities, self.params["x"], self.params["y"]))
        return np.asarray(probabilities, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrator:
        return cls(data["method"], dict(data.get("params", {})))


@dataclass(frozen=True)
class Threshold:
    """The high-intent threshold and how it was chosen on validation data."""

    value: float
    rule: str
    precision: float
    recall: float


def choose_threshold(
    labels: np.ndarray, probabilities: np.ndarray, *, target_precision: float | None = None
) -> Threshold:
    """The lowest threshold whose validation precision reaches ``target_precision`` (the most
    people flagged at that precision), or the threshold with the best F1 when no target is set
    or none reaches it.

    >>> y = np.array([0, 0, 1, 0, 1, 1]); p = np.array([.1, .2, .3, .4, .5, .6])
    >>> choose_threshold(y, p, target_precision=0.9).value
    0.5
    >>> choose_threshold(y, p).rule
    'best F1'
    """
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    precision, recall = precision[:-1], recall[:-1]
    if target_precision is not None:
        reached = np.flatnonzero(precision >= target_precision)
        if len(reached):
            i = int(reached[0])
            return Threshold(
                float(thresholds[i]),
                f"precision >= {target_precision:g}",
                float(precision[i]),
                float(recall[i]),
            )
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    i = int(np.argmax(f1))
    rule = (
        "best F1"
        if target_precision is None
        else (f"best F1 (no threshold reached precision {target_precision:g})")
    )
    return Threshold(float(thresholds[i]), rule, float(precision[i]), float(recall[i]))
