"""Training on the lake's own features and scoring its people: rolling cutoffs whose horizon
the lake has seen, a split in time, the catalog's version guarding the model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.config import Settings
from intentflow.features.catalog import catalog_version
from intentflow.features.labels import Within
from intentflow.ingest.importer import import_file
from intentflow.lake.reader import Lake
from intentflow.models.intent.lake import default_cutoffs, lake_table
from intentflow.models.intent.table import TableError
from intentflow.models.intent.train import default_split
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import write_jsonl

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("lake")
    write_jsonl(
        simulate(SimulationConfig(users=400, days=6, seed=3, start=START)), str(work / "e.jsonl")
    )
    import_file(work / "e.jsonl", Settings(data_dir=str(work / "data")))
    return work / "data"


def test_default_cutoffs_stop_where_the_horizon_ends(data_dir: Path) -> None:
    lake = Lake(Settings(data_dir=str(data_dir)).lake_dir)
    span = lake.time_range()
    assert span is not None
    cutoffs = default_cutoffs(lake, Within(timedelta(hours=24)), timedelta(hours=12))
    assert cutoffs[0] == span[0] + timedelta(hours=12)
    assert cutoffs[-1] + timedelta(hours=24) <= span[1] < cutoffs[-1] + timedelta(hours=36)
    with pytest.raises(TableError, match="too short"):
        default_cutoffs(lake, Within(timedelta(days=10)), timedelta(hours=12))


def test_a_lake_table_carries_people_cutoffs_and_the_catalog_version(data_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    table = lake_table(
        Settings(data_dir=str(data_dir)),
        horizon=Within(timedelta(hours=24)),
        every=timedelta(hours=24),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1][0] == seen[-1][1] == len(seen) >= 3
    assert table.feature_version == catalog_version()
    assert table.groups is not None and table.times is not None
    assert default_split(table) == "temporal"
    # cutoffs closer than the label horizon: earlier labels would see the later cutoffs' days
    close = lake_table(
        Settings(data_dir=str(data_dir)),
        horizon=Within(timedelta(hours=24)),
        every=timedelta(hours=12),
    )
    assert default_split(close) == "grouped"
    assert "add_to_carts_30d" in table.descriptions


def test_train_on_the_lake_then_score_everyone(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    local = tmp_path / "data"
    shutil.copytree(data_dir, local)
    monkeypatch.setenv("INTENTFLOW_DATA_DIR", str(local))
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "intent", "--every", "1d", "--trials", "2", "--json"])
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    assert result["split"] == "temporal" and result["champion"] is True
    assert "rule_roc_auc" in result  # add-to-carts in 30 days, the lake's rule

    as_of = (START + timedelta(days=6)).isoformat()
    scored = runner.invoke(app, ["score", "--as-of", as_of, "--json"])
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout.strip().splitlines()[-1])
    rows = pq.read_table(summary["path"])
    assert rows.num_rows == summary["rows"] > 100
    assert set(rows.column("model_version").to_pylist()) == {result["model_version"]}

    # a champion trained on a table of other features cannot score the lake's
    other = tmp_path / "other.csv"
    other.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(60)))
    forced = runner.invoke(
        app, ["train", "intent", "--table", str(other), "--label", "y", "--trials", "1", "--json"]
    )
    assert forced.exit_code == 0, forced.output
    version = json.loads(forced.stdout.strip().splitlines()[-1])["model_version"]
    assert runner.invoke(app, ["models", "promote", version]).exit_code == 0
    refused = runner.invoke(app, ["score", "--as-of", as_of])
    assert refused.exit_code == 1 and "retrain the model" in refused.output
