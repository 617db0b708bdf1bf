"""Cross-validated evaluation of the tuned model beside the logistic-regression baseline.

Outer stratified folds hold out the test rows; everything the model learns, tuning and the F1
threshold included, comes from the training rows of the fold (their inner folds). The baseline is
fitted on the same training rows and scored on the same test rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from intentflow.intent.evaluate import best_f1_threshold, scores
from intentflow.intent.learners import LogisticBaseline, TunedLightGBM
from intentflow.intent.splits import check_split, stratified_folds
from intentflow.intent.table import TrainingTable

SUMMARY = ("roc_auc", "pr_auc", "f1", "log_loss", "brier")


def cross_validate(
    table: TrainingTable,
    *,
    folds: int = 5,
    trials: int = 30,
    inner_folds: int = 3,
    seed: int = 42,
    threads: int = 0,
    on_fold: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Mean and per-fold scores of the tuned model and of the baseline."""
    features, labels = table.features, table.labels
    results: list[dict[str, Any]] = []
    for number, (train, test) in enumerate(stratified_folds(labels, folds, seed=seed)):
        check_split(train, test)
        model = TunedLightGBM(
            trials=trials, inner_folds=inner_folds, seed=seed + number, threads=threads
        )
        model.fit(features.iloc[train], labels[train])
        assert model.out_of_fold is not None and model.best is not None
        threshold = best_f1_threshold(labels[train], model.out_of_fold)
        baseline = LogisticBaseline().fit(features.iloc[train], labels[train])
        base_threshold = best_f1_threshold(
            labels[train], baseline.predict_proba(features.iloc[train])
        )
        fold = {
            "fold": number,
            "model": scores(
                labels[test], model.predict_proba(features.iloc[test]), threshold=threshold
            ),
            "baseline": scores(
                labels[test], baseline.predict_proba(features.iloc[test]), threshold=base_threshold
            ),
            "best_params": model.best.params,
            "inner_roc_auc": model.best.roc_auc,
        }
        results.append(fold)
        if on_fold:
            on_fold(number, fold)
    summary: dict[str, Any] = {
        key: float(np.mean([f["model"][key] for f in results])) for key in SUMMARY
    }
    summary.update(
        {
            f"baseline_{key}": float(np.mean([f["baseline"][key] for f in results]))
            for key in SUMMARY
        }
    )
    summary.update(
        {
            "roc_auc_std": float(np.std([f["model"]["roc_auc"] for f in results])),
            "folds": results,
            "rows": len(labels),
            "positives": table.positives,
            "features": list(map(str, features.columns)),
            "trials": trials,
            "inner_folds": inner_folds,
            "seed": seed,
        }
    )
    return summary
