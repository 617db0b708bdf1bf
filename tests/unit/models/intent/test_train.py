"""Training on the real online-shoppers table: splits that do not leak, tuning, calibration,
the threshold, and the test scores beside logistic regression and the rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intentflow.models.intent.splits import LeakError, stratified_folds
from intentflow.models.intent.table import TableError, TrainingTable, prepare
from intentflow.models.intent.train import Training, TrainOptions, fit_fold, train


def test_held_out_training_beats_both_baselines(
    trained: Training, shoppers_table: TrainingTable
) -> None:
    fold = trained.folds[0]
    assert len(fold.test_rows) == pytest.approx(600, abs=2)  # one fold of five
    assert set(fold.metrics) == {"model", "logistic_regression", "rule"}
    model, lr, rule = (fold.metrics[k] for k in ("model", "logistic_regression", "rule"))
    assert 0.88 < model["roc_auc"] <= 1.0
    assert model["roc_auc"] > lr["roc_auc"] and model["roc_auc"] > rule["roc_auc"] - 0.01
    assert model["top_10pct"]["lift"] > 3.0
    assert fold.predictions["label"].tolist() == shoppers_table.labels[fold.test_rows].tolist()
    meta = fold.model.meta
    assert (
        len(meta["history"]) == 3
        and meta["params"] == max(meta["history"], key=lambda t: t["roc_auc"])["params"]
    )
    assert meta["importance"][0][0] == "PageValues"
    assert meta["data"]["test_rows"] == len(fold.test_rows)


def test_calibration_and_threshold_come_from_validation_rows(trained: Training) -> None:
    fold = trained.folds[0]
    model = fold.model
    assert model.calibrator.method == "platt"
    assert model.threshold.rule == "best F1"
    test = fold.predictions
    # calibrated: the mean predicted probability is close to the test positive rate
    assert abs(test["model"].mean() - test["label"].mean()) < 0.03
    assert fold.metrics["model"]["threshold"] == model.threshold.value


def test_a_target_precision_sets_the_threshold(shoppers_table: TrainingTable) -> None:
    loose = train(shoppers_table, TrainOptions(trials=1, calibration="isotonic"))
    strict = train(
        shoppers_table, TrainOptions(trials=1, calibration="isotonic", target_precision=0.8)
    )
    assert strict.model.threshold.precision >= 0.8
    assert strict.model.threshold.value > loose.model.threshold.value
    assert strict.model.calibrator.method == "isotonic"
    test = strict.folds[0].predictions
    assert abs(test["model"].mean() - test["label"].mean()) < 0.03


def test_cross_validation_scores_every_fold(shoppers_table: TrainingTable) -> None:
    seen: list[int] = []
    result = train(
        shoppers_table, TrainOptions(trials=1), cv=3, on_fold=lambda n, _: seen.append(n)
    )
    assert seen == [0, 1, 2]
    tests = np.concatenate([f.test_rows for f in result.folds])
    assert sorted(tests.tolist()) == list(range(len(shoppers_table.labels)))
    summary = result.summary
    assert summary["roc_auc"] == pytest.approx(
        np.mean([f.metrics["model"]["roc_auc"] for f in result.folds])
    )
    assert 0.80 < summary["baseline_roc_auc"] < summary["roc_auc"]


def test_xgboost_and_grid_search_behind_the_same_interface(
    shoppers_table: TrainingTable,
) -> None:
    result = train(shoppers_table, TrainOptions(learner="xgboost", search="grid", trials=4))
    model = result.model
    assert model.booster.name == "xgboost"
    history = model.meta["history"]
    assert len(history) == 4
    grid = type(model.booster).grid
    for trial in history:
        assert all(trial["params"][k] in values for k, values in grid.items())
    assert result.folds[0].metrics["model"]["roc_auc"] > 0.85


def people_table(repeats: int = 4, people: int = 300, seed: int = 0) -> TrainingTable:
    """Each person's row repeated ``repeats`` times with a little noise: the label is the
    person's, partly random, so a model that has seen a person 'knows' their label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(people, 3))
    y = ((x[:, 0] + rng.normal(scale=2.0, size=people)) > 0.5).astype(int)
    rows = np.repeat(np.arange(people), repeats)
    frame = pd.DataFrame(x[rows] + rng.normal(scale=0.01, size=(len(rows), 3)), columns=list("abc"))
    frame["person"] = [f"p{i}" for i in rows]
    frame["label"] = y[rows]
    return prepare(frame, "label", group="person")


def test_a_split_that_leaks_people_is_caught() -> None:
    table = people_table()
    train_rows, test_rows = stratified_folds(table.labels, 5, seed=0)[0]
    with pytest.raises(LeakError, match="people are on both sides"):
        fit_fold(table, train_rows, test_rows, TrainOptions(split="grouped", trials=1))
    # the leak is real: the same model scores far better on people it has seen
    honest = train(table, TrainOptions(split="grouped", trials=2))
    assert honest.folds[0].metrics["model"]["roc_auc"] < 0.85
    groups = table.groups
    assert groups is not None
    fold = honest.folds[0]
    assert not set(groups[fold.test_rows]) & set(
        groups[np.setdiff1d(np.arange(len(groups)), fold.test_rows)]
    )


def test_a_temporal_split_tests_on_the_latest_times() -> None:
    table = people_table(repeats=1, people=600)
    times = pd.date_range("2026-01-01", periods=12, freq="D").to_numpy()[np.arange(600) % 12]
    timed = TrainingTable(table.features, table.labels, "label", times=times)
    result = train(timed, TrainOptions(split="temporal", trials=1))
    fold = result.folds[0]
    train_rows = np.setdiff1d(np.arange(600), fold.test_rows)
    assert times[fold.test_rows].min() > times[train_rows].max()
    with pytest.raises(TableError, match="time column"):
        train(people_table(), TrainOptions(split="temporal"))


def test_labels_that_reach_into_the_test_days_are_kept_out_of_training() -> None:
    table = people_table(repeats=1, people=600)
    times = pd.date_range("2026-01-01", periods=12, freq="D").to_numpy()[np.arange(600) % 12]
    reach = np.timedelta64(3, "D")
    timed = TrainingTable(table.features, table.labels, "label", times=times, reach=reach)
    fold = train(timed, TrainOptions(split="temporal", trials=1)).folds[0]
    first_test = times[fold.test_rows].min()
    # the latest training cutoff's label window ends by the first test cutoff
    train_rows = fold.model.meta["data"]["train_rows"]
    assert train_rows == int(np.sum(times + reach <= first_test))
    with pytest.raises(TableError, match="the rule's column 'nope'"):
        train(table, TrainOptions(rule="nope"))
