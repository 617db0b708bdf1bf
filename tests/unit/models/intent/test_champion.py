"""Champion and challenger: registered versions, compared on the challenger's test rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from intentflow.models.intent import KIND
from intentflow.models.intent.champion import challenge, register
from intentflow.models.intent.model import IntentModel
from intentflow.models.intent.table import TrainingTable
from intentflow.models.intent.train import Training
from intentflow.models.registry import Registry


def test_the_first_model_is_champion_and_a_challenger_must_beat_it(
    trained: Training, shoppers_table: TrainingTable, tmp_path: Path
) -> None:
    registry = Registry(tmp_path)
    fold = trained.folds[0]
    first = register(registry, fold, trained.summary)
    assert challenge(registry, first, fold, shoppers_table).promoted
    files = {p.name for p in registry.info(KIND, first).path.iterdir()}
    assert {"model.json", "meta.json", "test.parquet", "shap.parquet"} <= files
    assert len(pd.read_parquet(registry.info(KIND, first).path / "test.parquet")) == len(
        fold.test_rows
    )

    # the same model again: equal scores do not beat the champion by a positive margin
    second = register(registry, fold, trained.summary)
    decision = challenge(registry, second, fold, shoppers_table, metric="roc_auc", margin=0.001)
    assert not decision.promoted and decision.champion == first
    assert decision.champion_score == decision.challenger_score
    assert "does not beat" in decision.reason
    assert registry.champion(KIND) == first

    # a negative margin lets an equal challenger in; lower-is-better metrics work the same
    decision = challenge(registry, second, fold, shoppers_table, metric="log_loss", margin=-0.01)
    assert decision.promoted and registry.champion(KIND) == second
    assert IntentModel.load(tmp_path).version == second


def test_a_champion_on_other_features_is_not_compared(
    trained: Training, shoppers_table: TrainingTable, tmp_path: Path
) -> None:
    registry = Registry(tmp_path)
    fold = trained.folds[0]
    first = register(registry, fold, trained.summary)
    registry.promote(KIND, first)
    other = dataclasses.replace(fold, model=dataclasses.replace(fold.model, feature_version="v2"))
    second = register(registry, other, trained.summary)
    decision = challenge(registry, second, other, shoppers_table)
    assert not decision.promoted and "promote by hand" in decision.reason
    assert registry.champion(KIND) == first
