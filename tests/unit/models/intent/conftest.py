"""Training tables for the intent tests: a stratified sample of the real UCI online-shoppers
file, and a model trained on it once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentflow.models.intent.table import TrainingTable, prepare, read_table
from intentflow.models.intent.train import Training, TrainOptions, train


@pytest.fixture(scope="session")
def shoppers(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stratified sample of 3,000 sessions of the UCI online-shoppers file, as CSV."""
    source = datasets / "online_shoppers_intention" / "online_shoppers_intention.csv"
    if not source.exists():
        pytest.skip(f"{source} not found (set INTENTFLOW_DATASETS)")
    frame = read_table(source)
    sample = frame.groupby("Revenue", group_keys=False).sample(
        frac=3000 / len(frame), random_state=1
    )
    path = tmp_path_factory.mktemp("shoppers") / "sample.csv"
    sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def shoppers_table(shoppers: Path) -> TrainingTable:
    return prepare(read_table(shoppers), "Revenue")


@pytest.fixture(scope="session")
def trained(shoppers_table: TrainingTable) -> Training:
    """One held-out training run (3 trials), with PageValues as the rule baseline."""
    return train(shoppers_table, TrainOptions(trials=3, rule="PageValues"))
