"""Metrics of a scored test set: ranking, calibration and the high-intent threshold.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> scores(y, p, threshold=0.5)["roc_auc"]
0.75
>>> best_f1_threshold(y, p)
0.35
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)


def best_f1_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The score threshold with the best F1 (chosen on validation data, applied to test)."""
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def top_share(labels: np.ndarray, probabilities: np.ndarray, share: float) -> dict[str, float]:
    """Precision, recall and lift among the ``share`` highest scores."""
    n = max(1, round(len(labels) * share))
    top = np.argsort(-probabilities, kind="stable")[:n]
    hits = float(labels[top].sum())
    base = float(labels.mean())
    return {
        "precision": hits / n,
        "recall": hits / max(1.0, float(labels.sum())),
        "lift": (hits / n) / base if base else 0.0,
    }


def scores(labels: np.ndarray, probabilities: np.ndarray, *, threshold: float) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, log loss, Brier score, F1 at ``threshold``, and the top 5 % and 10 %."""
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "log_loss": float(log_loss(labels, clipped)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "f1": float(f1_score(labels, probabilities >= threshold)),
        "threshold": float(threshold),
        "top_5pct": top_share(labels, probabilities, 0.05),
        "top_10pct": top_share(labels, probabilities, 0.10),
    }
