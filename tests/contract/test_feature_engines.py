"""One catalog, two engines: DuckDB and Spark return the same feature and session tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intentflow.config import Settings
from intentflow.features.build import build_features, build_sessions
from intentflow.features.engines import DuckDBEngine, SparkEngine
from intentflow.features.labels import REST_OF_SESSION, Horizon, Label, Within
from intentflow.features.training import training_set
from intentflow.ingest.importer import import_file
from intentflow.lake.reader import Lake
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import write_jsonl

from ..tables import assert_same


@pytest.fixture(scope="module")
def taobao_lake(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("taobao")))
    import_file(datasets / "taobao_userbehavior" / "UserBehavior.csv", settings, preset="taobao")
    return Lake(settings.lake_dir)


@pytest.fixture(scope="module")
def simulated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    work = tmp_path_factory.mktemp("simulated")
    config = SimulationConfig(users=300, days=10, seed=8, start=datetime(2026, 1, 1, tzinfo=UTC))
    write_jsonl(simulate(config), str(work / "sim.jsonl"))
    settings = Settings(data_dir=str(work / "data"))
    import_file(work / "sim.jsonl", settings)
    return Lake(settings.lake_dir)


def test_taobao_features_match_on_duckdb_and_spark(taobao_lake: Lake, spark: Any) -> None:
    cutoff = datetime(2017, 11, 26, 2, 30, tzinfo=UTC)  # inside the file's 2h10m
    duck = build_features(taobao_lake, cutoff, engine=DuckDBEngine())
    assert duck.num_rows > 40_000
    assert_same(duck, build_features(taobao_lake, cutoff, engine=SparkEngine(spark)))


def test_simulated_features_and_sessions_match_on_duckdb_and_spark(
    simulated_lake: Lake, spark: Any
) -> None:
    cutoff = datetime(2026, 1, 9, 17, 45, tzinfo=UTC)
    duck = build_features(simulated_lake, cutoff)
    assert duck.num_rows > 100
    assert_same(duck, build_features(simulated_lake, cutoff, engine=SparkEngine(spark)))
    sessions = build_sessions(simulated_lake, cutoff)
    assert_same(sessions, build_sessions(simulated_lake, cutoff, engine=SparkEngine(spark)))


def test_spark_reads_an_empty_window(simulated_lake: Lake, spark: Any) -> None:
    before_everything = datetime(2025, 1, 1, tzinfo=UTC) - timedelta(days=1)
    table = build_features(simulated_lake, before_everything, engine=SparkEngine(spark))
    assert table.num_rows == 0
    assert table.column_names == build_features(simulated_lake, before_everything).column_names


@pytest.mark.parametrize("horizon", [REST_OF_SESSION, Within(timedelta(hours=6))])
def test_training_sets_match_on_duckdb_and_spark(
    simulated_lake: Lake, spark: Any, horizon: Horizon
) -> None:
    cutoffs = [datetime(2026, 1, 4, 20, tzinfo=UTC), datetime(2026, 1, 8, 11, 15, tzinfo=UTC)]
    label = Label("cart", ("add_to_cart", "product_view"))
    duck = training_set(simulated_lake, cutoffs=cutoffs, horizon=horizon, label=label)
    assert duck.num_rows > 5 and any(duck["label"].to_pylist())
    spark_set = training_set(
        simulated_lake, cutoffs=cutoffs, horizon=horizon, label=label, engine=SparkEngine(spark)
    )
    assert_same(duck, spark_set)
