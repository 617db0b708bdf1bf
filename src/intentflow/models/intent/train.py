"""Training the intent model: split, tune, calibrate, choose the threshold, evaluate on
untouched test rows beside two baselines.

For each outer split (one held-out test part, or every fold with ``cv``):

1. the test rows are set aside: stratified (the positive share in every fold), grouped by person
   (a person is on one side only) or in time (the latest cutoffs are the test part); the split is
   checked by :func:`~intentflow.models.intent.splits.check_split`;
2. the training rows are split again the same way for validation; the booster is tuned there
   (:mod:`~intentflow.models.intent.boosting`), and its validation predictions fit the calibrator
   and choose the high-intent threshold;
3. the test rows are scored by the model, by logistic regression and by the rule (a column such
   as add-to-cart count), each fitted on the same training rows.

>>> TrainOptions(split="temporal").test_folds
5
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

import intentflow
from intentflow.models.intent.boosting import LEARNERS, Final, Search, Trial
from intentflow.models.intent.calibrate import (
    Calibrator,
    Method,
    choose_threshold,
)
from intentflow.models.intent.evaluate import scores
from intentflow.models.intent.learners import LogisticBaseline, RuleBaseline
from intentflow.models.intent.model import IntentModel, ranked_importance
from intentflow.models.intent.schema import Schema
from intentflow.models.intent.splits import (
    Split,
    check_split,
    grouped_folds,
    stratified_folds,
    stratified_holdout,
    time_cut,
)
from intentflow.models.intent.table import TableError, TrainingTable

Strategy = Literal["stratified", "grouped", "temporal"]
SUMMARY = ("roc_auc", "pr_auc", "f1", "log_loss", "brier")
SHAP_SAMPLE = 2000
"""Test rows whose SHAP values are kept with a model."""


@dataclass(frozen=True)
class TrainOptions:
    """How to train (every field has a sound default)."""

    learner: str = "lightgbm"
    """``lightgbm`` or ``xgboost``."""
    search: Search = "tpe"
    """Optuna's TPE sampler, or a grid."""
    trials: int = 30
    """The search's trial budget."""
    inner_folds: int = 3
    """Validation folds inside the training rows (stratified and grouped splits)."""
    split: Strategy = "stratified"
    """How test (and validation) rows are held out."""
    test_share: float = 0.2
    """The held-out share when not cross-validating (exact for a stratified split; grouped and
    temporal splits hold out about ``1 / round(1 / test_share)``)."""
    calibration: Method = "platt"
    """``platt``, ``isotonic`` or ``none`` (:mod:`~intentflow.models.intent.calibrate`)."""
    target_precision: float | None = None
    """Choose the threshold for this validation precision (default: the best F1)."""
    rule: str | None = None
    """The rule baseline's column (for the lake's features: add-to-carts in 24h)."""
    final: Final = "refit"
    """The model: one booster refitted on all training rows with the best trial's parameters
    (as accurate as the average of the validation boosters on the UCI table, and a third of the
    scoring time), or those validation boosters averaged (``bagged``)."""
    seed: int = 42
    threads: int = 0

    @property
    def test_folds(self) -> int:
        return max(2, round(1 / self.test_share))


def default_split(table: TrainingTable) -> Strategy:
    """In time for the lake's features over three or more cutoffs spaced at least a label
    horizon apart (the latest for testing, the one before for validation), by person otherwise,
    and stratified for a table of your own."""
    if table.feature_version is None:
        return "stratified"
    if table.times is None:
        return "grouped"
    distinct = np.unique(table.times)
    spaced = table.reach is None or bool(np.all(np.diff(distinct) >= table.reach))
    return "temporal" if len(distinct) >= 3 and spaced else "grouped"


@dataclass
class Fold:
    """One outer split: the model trained on its training rows and its test predictions."""

    model: IntentModel
    test_rows: np.ndarray
    predictions: pd.DataFrame
    """One row per test row: ``label`` and each scorer's probability."""
    metrics: dict[str, dict[str, Any]]
    """Test scores per scorer: ``model``, ``logistic_regression``, ``rule``."""
    explained: tuple[np.ndarray, np.ndarray]
    """Feature values and SHAP values (one column per feature) of the first
    :data:`SHAP_SAMPLE` test rows: the report's SHAP summary and the global importance."""


@dataclass
class Training:
    """The folds of a training run and their mean test scores."""

    folds: list[Fold]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> IntentModel:
        """The model to register: the first fold's (its test rows are the reference split)."""
        return self.folds[0].model


def _splits(
    table: TrainingTable, rows: np.ndarray, strategy: Strategy, k: int, seed: int
) -> list[Split]:
    """``k`` splits of ``rows`` (indices into the table), as indices into the table; in time,
    one split whose later part holds the latest ``1 / k`` of the times."""
    labels = table.labels[rows]
    if strategy == "temporal":
        if table.times is None:
            raise TableError("a split in time needs the rows' times (a time column)")
        times = table.times[rows]
        earlier, later = time_cut(times, 1 / k)
        if table.reach is not None:  # labels of earlier rows must end before the later part
            earlier = earlier[times[earlier] + table.reach <= times[later].min()]
            if not len(earlier):
                raise TableError(
                    "every earlier cutoff's label horizon reaches into the later cutoffs: "
                    "space the cutoffs wider than the horizon, or split by person"
                )
        return [(rows[earlier], rows[later])]
    if strategy == "grouped":
        if table.groups is None:
            raise TableError("a split grouped by person needs the rows' person (a group column)")
        local = grouped_folds(labels, table.groups[rows], k, seed=seed)
    else:
        local = stratified_folds(labels, k, seed=seed)
    return [(rows[train], rows[test]) for train, test in local]


def _check(table: TrainingTable, train: np.ndarray, test: np.ndarray, strategy: Strategy) -> None:
    check_split(
        train,
        test,
        groups=table.groups if strategy == "grouped" else None,
        times=table.times if strategy == "temporal" else None,
    )


def _code_version() -> str:
    """intentflow's version, with the commit when it runs from a git checkout of itself."""
    checkout = Path(intentflow.__file__).resolve().parents[2]
    commit = ""
    if (checkout / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return f"{intentflow.__version__}+{commit}" if commit else intentflow.__version__


def fit_fold(
    table: TrainingTable,
    train: np.ndarray,
    test: np.ndarray,
    options: TrainOptions,
    *,
    on_trial: Callable[[Trial], None] | None = None,
) -> Fold:
    """Train on ``train`` rows and evaluate on ``test`` rows (see the module's doc)."""
    _check(table, train, test, options.split)
    inner = _splits(table, train, options.split, options.inner_folds, options.seed)
    for fit_rows, valid_rows in inner:
        _check(table, fit_rows, valid_rows, options.split)
    position = {row: i for i, row in enumerate(train.tolist())}
    local = [
        (np.array([position[r] for r in a]), np.array([position[r] for r in b])) for a, b in inner
    ]
    schema = Schema.of(table.features.iloc[train])
    matrix = schema.matrix(table.features)
    labels = table.labels
    booster = LEARNERS[options.learner](
        trials=options.trials,
        search=options.search,
        final=options.final,
        seed=options.seed,
        threads=options.threads,
        on_trial=on_trial,
        categorical=schema.categorical,
    )
    booster.fit(matrix[train], labels[train], local)
    assert booster.out_of_fold is not None and booster.best is not None
    seen = ~np.isnan(booster.out_of_fold)
    valid_p, valid_y = booster.out_of_fold[seen], labels[train][seen]
    calibrator = Calibrator.fit(options.calibration, valid_p, valid_y)
    threshold = choose_threshold(
        valid_y, calibrator.apply(valid_p), target_precision=options.target_precision
    )
    model = IntentModel(
        booster,
        schema,
        calibrator,
        threshold,
        table.feature_version or schema.version(),
        dict(table.descriptions),
    )
    test_features = table.features.iloc[test]
    test_matrix = matrix[test]
    predictions = pd.DataFrame(
        {"label": labels[test], "model": model.calibrate(booster.margin(test_matrix))}
    )
    values = test_matrix[:SHAP_SAMPLE]
    explained = (values, booster.contributions(values)[:, :-1])
    metrics = {
        "model": scores(labels[test], predictions["model"].to_numpy(), threshold=threshold.value)
    }
    baselines: list[Any] = [LogisticBaseline()]
    if options.rule is not None:
        baselines.append(RuleBaseline(options.rule))
    for baseline in baselines:
        baseline.fit(table.features.iloc[train], labels[train])
        fitted = choose_threshold(
            labels[train],
            baseline.predict_proba(table.features.iloc[train]),
            target_precision=options.target_precision,
        )
        predictions[baseline.name] = baseline.predict_proba(test_features)
        metrics[baseline.name] = scores(
            labels[test], predictions[baseline.name].to_numpy(), threshold=fitted.value
        )
    model.meta = _meta(table, train, test, options, model, metrics, explained[1])
    return Fold(model, test, predictions, metrics, explained)


def _meta(
    table: TrainingTable,
    train: np.ndarray,
    test: np.ndarray,
    options: TrainOptions,
    model: IntentModel,
    metrics: dict[str, dict[str, Any]],
    shap: np.ndarray,
) -> dict[str, Any]:
    booster = model.booster
    assert booster.best is not None
    data: dict[str, Any] = {
        "rows": len(table.labels),
        "train_rows": len(train),
        "test_rows": len(test),
        "positives": table.positives,
        "label": table.label,
    }
    if table.times is not None:
        data["from"] = str(pd.Timestamp(table.times.min()))
        data["to"] = str(pd.Timestamp(table.times.max()))
        data["test_from"] = str(pd.Timestamp(table.times[test].min()))
    return {
        "learner": booster.name,
        "options": dataclasses.asdict(options),
        "params": booster.best.params,
        "validation_roc_auc": booster.best.roc_auc,
        "rounds": booster.best.rounds,
        "history": [t.__dict__ for t in booster.history],
        "calibration": model.calibrator.method,
        "threshold": model.threshold.__dict__,
        "feature_version": model.feature_version,
        "features": list(model.schema.columns),
        "data": data,
        "metrics": metrics,
        "importance": ranked_importance(model.schema.columns, shap)[:20],
        "code_version": _code_version(),
    }


def train(
    table: TrainingTable,
    options: TrainOptions = TrainOptions(),
    *,
    cv: int | None = None,
    on_fold: Callable[[int, Fold], None] | None = None,
    on_trial: Callable[[Trial], None] | None = None,
) -> Training:
    """Train on one held-out split, or on each of ``cv`` folds (stratified or grouped)."""
    if options.rule is not None and options.rule not in table.features.columns:
        raise TableError(f"the rule's column {options.rule!r} is not a feature of the table")
    if cv is not None and options.split == "temporal":
        raise TableError(
            "cross-validation splits by rows or people; a split in time has one test part"
        )
    k = cv or options.test_folds
    rows = np.arange(len(table.labels))
    if cv is None and options.split == "stratified":
        outer = [stratified_holdout(table.labels, options.test_share, seed=options.seed)]
    else:
        outer = _splits(table, rows, options.split, k, options.seed)
    folds = []
    for number, (train_rows, test_rows) in enumerate(outer if cv else outer[:1]):
        fold = fit_fold(
            table,
            train_rows,
            test_rows,
            dataclasses.replace(options, seed=options.seed + number),
            on_trial=on_trial,
        )
        folds.append(fold)
        if on_fold:
            on_fold(number, fold)
    return Training(folds, summarize(folds, table))


def summarize(folds: list[Fold], table: TrainingTable) -> dict[str, Any]:
    """Mean test scores of the model and of each baseline over the folds."""
    out: dict[str, Any] = {}
    for scorer, prefix in (("model", ""), ("logistic_regression", "baseline_"), ("rule", "rule_")):
        if scorer not in folds[0].metrics:
            continue
        for key in SUMMARY:
            out[f"{prefix}{key}"] = float(np.mean([f.metrics[scorer][key] for f in folds]))
    out.update(
        {
            "roc_auc_std": float(np.std([f.metrics["model"]["roc_auc"] for f in folds])),
            "folds": [
                {
                    "fold": i,
                    "test_rows": len(f.test_rows),
                    **{name: m for name, m in f.metrics.items()},
                    "best_params": f.model.meta["params"],
                    "validation_roc_auc": f.model.meta["validation_roc_auc"],
                }
                for i, f in enumerate(folds)
            ],
            "rows": len(table.labels),
            "positives": table.positives,
            "features": list(map(str, table.features.columns)),
        }
    )
    return out
