"""The intent model on the real Taobao file, through the whole pipeline: lake, a training set at
a cutoff 80 minutes after the first event, a stratified 30 % person holdout, the model beside
logistic regression and the add-to-cart rule. (The tuned figures are in BENCHMARKS.md.)"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from intentflow.config import Settings
from intentflow.features.labels import PURCHASE, Within
from intentflow.features.training import training_set
from intentflow.lake.reader import Lake
from intentflow.models.intent.lake import RULE_COLUMN, from_training_set
from intentflow.models.intent.splits import check_split
from intentflow.models.intent.train import TrainOptions, train


def test_taobao_holdout_beside_the_baselines(taobao_settings: Settings) -> None:
    lake = Lake(taobao_settings.lake_dir)
    span = lake.time_range()
    assert span is not None
    first, last = span
    assert (first, last) == (
        datetime(2017, 11, 26, 1, 0, tzinfo=UTC),
        datetime(2017, 11, 26, 3, 10, 11, tzinfo=UTC),
    )
    cutoff = first + timedelta(minutes=80)
    table = from_training_set(
        training_set(lake, cutoffs=[cutoff], horizon=Within(timedelta(hours=1)), label=PURCHASE)
    )
    # one row per person seen before the cutoff; about 0.4 % of them buy afterwards
    assert table.groups is not None and len(set(table.groups)) == len(table.labels)
    assert 0.002 < table.labels.mean() < 0.008
    result = train(table, TrainOptions(trials=3, test_share=0.3, rule=RULE_COLUMN))
    fold = result.folds[0]
    assert len(fold.test_rows) == math.ceil(0.3 * len(table.labels))
    assert fold.predictions["label"].sum() == pytest.approx(0.3 * table.positives, abs=1)
    rest = np.setdiff1d(np.arange(len(table.labels)), fold.test_rows)
    check_split(rest, fold.test_rows, groups=table.groups)
    scores = {name: m["roc_auc"] for name, m in fold.metrics.items()}
    assert set(scores) == {"model", "logistic_regression", "rule"}
    # a hard slice (measured: rule 0.52, logistic regression 0.64-0.66), but the model learns
    assert scores["model"] > 0.58 and scores["model"] > scores["rule"]
