"""The pandas baseline of ``intentflow bench features`` computes the same table as the DuckDB
engine, so the benchmark compares two ways of computing one thing."""

from __future__ import annotations

import importlib.util
import itertools
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from intentflow.config import Settings
from intentflow.features.build import build_features, cutoff_us
from intentflow.ingest.importer import import_file
from intentflow.lake.reader import Lake
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import write_jsonl

BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "_pandas_features.py"


@pytest.fixture(scope="module")
def baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_pandas_features", BASELINE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _roughened(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Simulated events made harder: a third of the people send no session ids (sessions come
    from inactivity), some events of the others lose theirs, and some times are cut to the minute
    so that events tie on time."""
    for event in events:
        who = zlib.crc32(str(event.get("anonymous_id") or event.get("user_id")).encode())
        what = zlib.crc32(event["message_id"].encode())
        if who % 3 == 0 or what % 5 == 0:
            event.pop("session_id", None)
        if what % 4 == 0:
            event["timestamp"] = event["timestamp"].replace(second=0, microsecond=0)
        yield event


def _shared_device() -> list[dict[str, Any]]:
    """One browser that three people logged in on, two of them at the same time: its anonymous
    events belong to the latest login (ties: the larger message id)."""
    rows = [
        ("sd-1", "page_view", None, "10:00", {}),
        ("sd-2", "identify", "u-first", "10:01", {}),
        ("sd-4", "identify", "u-second", "10:05", {}),
        ("sd-3", "identify", "u-third", "10:05", {}),
        ("sd-5", "product_view", None, "10:06", {"item_id": "i1", "category": "a"}),
        ("sd-6", "product_view", None, "10:06", {"item_id": "i2", "category": "b"}),
    ]
    return [
        {"message_id": mid, "type": kind, "anonymous_id": "shared-device"}
        | ({"user_id": user} if user else {})
        | {"timestamp": f"2026-01-02T{hhmm}:00Z", **extra}
        for mid, kind, user, hhmm, extra in rows
    ]


@pytest.fixture(scope="module")
def simulated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    work = tmp_path_factory.mktemp("simulated")
    config = SimulationConfig(users=120, days=9, seed=21, start=datetime(2026, 1, 1, tzinfo=UTC))
    write_jsonl(
        itertools.chain(_roughened(simulate(config)), _shared_device()), str(work / "sim.jsonl")
    )
    settings = Settings(data_dir=str(work / "data"))
    import_file(work / "sim.jsonl", settings)
    return Lake(settings.lake_dir)


@pytest.mark.parametrize(
    "cutoff",
    [
        datetime(2026, 1, 3, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 8, 17, 47, 13, 250, tzinfo=UTC),
        datetime(2026, 2, 20, tzinfo=UTC),  # after everything: long windows only
        datetime(2025, 12, 1, tzinfo=UTC),  # before everything: no one
    ],
)
def test_simulated_features_match_duckdb(
    baseline: ModuleType, simulated_lake: Lake, cutoff: datetime
) -> None:
    at = cutoff_us(cutoff)
    events = baseline.load_events(simulated_lake.layout.url, at)
    table = baseline.pandas_features(events, at)
    assert baseline.compare(table, build_features(simulated_lake, cutoff)) == []


def test_a_shared_device_belongs_to_its_latest_login(
    baseline: ModuleType, simulated_lake: Lake
) -> None:
    at = cutoff_us(datetime(2026, 1, 3, tzinfo=UTC))
    table = baseline.pandas_features(baseline.load_events(simulated_lake.layout.url, at), at)
    people = table.set_index("user_id")
    assert people.loc["u-second", "events_24h"] == 4
    assert people.loc["u-second", "top_category_1"] == "a"
    assert (people.loc["u-first", "events_24h"], people.loc["u-third", "events_24h"]) == (1, 1)
    assert "shared-device" not in people.index


def test_a_shorter_session_gap_matches_duckdb(baseline: ModuleType, simulated_lake: Lake) -> None:
    cutoff = datetime(2026, 1, 7, 12, tzinfo=UTC)
    events = baseline.load_events(simulated_lake.layout.url, cutoff_us(cutoff))
    table = baseline.pandas_features(events, cutoff_us(cutoff), gap_s=120)
    assert baseline.compare(table, build_features(simulated_lake, cutoff, gap_s=120)) == []


def test_taobao_features_match_duckdb(baseline: ModuleType, datasets: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "taobao"))
    import_file(datasets / "taobao_userbehavior" / "UserBehavior.csv", settings, preset="taobao")
    lake = Lake(settings.lake_dir)
    cutoff = datetime(2017, 11, 26, 2, 30, tzinfo=UTC)  # inside the file's 2h10m
    table = baseline.pandas_features(
        baseline.load_events(settings.lake_dir, cutoff_us(cutoff)), cutoff_us(cutoff)
    )
    assert len(table) > 40_000
    assert baseline.compare(table, build_features(lake, cutoff)) == []


def test_compare_reports_what_differs(baseline: ModuleType, simulated_lake: Lake) -> None:
    cutoff = datetime(2026, 1, 8, tzinfo=UTC)
    table = baseline.pandas_features(
        baseline.load_events(simulated_lake.layout.url, cutoff_us(cutoff)), cutoff_us(cutoff)
    )
    engine = build_features(simulated_lake, cutoff)
    table.loc[0, "events_30d"] += 1
    table.loc[1, "revenue_90d"] += 0.01
    problems = baseline.compare(table.drop(columns=["trend_7d"]).iloc[:-1], engine)
    assert [p.split(":")[0] for p in problems] == [
        "columns differ",
        "user_ids differ",
        "revenue_90d",
        "events_30d",
    ]
