"""Cross-validation on the real online-shoppers table: the tuned model beside the baseline, on
the same folds, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.intent.crossval import cross_validate
from intentflow.intent.table import prepare, read_table


@pytest.fixture(scope="module")
def shoppers(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stratified sample of 3,000 sessions of the UCI online-shoppers file."""
    source = datasets / "online_shoppers_intention" / "online_shoppers_intention.csv"
    if not source.exists():
        pytest.skip(f"{source} not found")
    frame = read_table(source)
    sample = frame.groupby("Revenue", group_keys=False).sample(
        frac=3000 / len(frame), random_state=1
    )
    path = tmp_path_factory.mktemp("shoppers") / "sample.csv"
    sample.to_csv(path, index=False)
    return path


def test_the_tuned_model_and_the_baseline_on_the_same_folds(shoppers: Path) -> None:
    table = prepare(read_table(shoppers), "Revenue", folds=3)
    seen: list[int] = []
    result = cross_validate(table, folds=3, trials=3, on_fold=lambda n, _: seen.append(n))
    assert seen == [0, 1, 2]
    assert result["rows"] == 3000 and result["positives"] == table.positives
    assert 0.85 < result["roc_auc"] <= 1.0
    assert 0.80 < result["baseline_roc_auc"] <= 1.0
    assert 0.0 < result["f1"] <= 1.0 and 0.0 < result["pr_auc"] <= 1.0
    for fold in result["folds"]:
        assert set(fold["best_params"]) >= {"learning_rate", "num_leaves", "scale_pos_weight"}
        assert fold["model"]["top_10pct"]["lift"] > 2.0


def test_train_intent_prints_the_scores_as_json(shoppers: Path) -> None:
    args = ["train", "intent", "--table", str(shoppers), "--label", "Revenue", "--cv", "3"]
    result = CliRunner().invoke(app, [*args, "--trials", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"roc_auc", "pr_auc", "f1", "baseline_roc_auc", "model_version"} <= set(summary)
    assert summary["roc_auc"] > 0.85


def test_train_intent_refuses_a_table_it_cannot_learn_from(tmp_path: Path) -> None:
    path = tmp_path / "one-class.csv"
    pd.DataFrame({"x": range(10), "bought": [0] * 10}).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["train", "intent", "--table", str(path), "--label", "bought"])
    assert result.exit_code == 2
    assert "one class only" in result.output
