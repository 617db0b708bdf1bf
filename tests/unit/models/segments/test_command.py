"""``intentflow segment`` on the lake's people and on a table, refreshes, and the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.config import Settings
from intentflow.ingest.importer import import_file
from intentflow.models.segments.inputs import LAKE_FEATURES
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import write_jsonl
from tests.unit.models.segments.conftest import FOUR, groups


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    monkeypatch.setenv("INTENTFLOW_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def invoke(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def run(*args: str) -> dict[str, Any]:
    lines = invoke(*args, "--json").stdout.strip().splitlines()
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def test_the_lakes_people_are_segmented_on_the_catalogs_features(data_dir: Path) -> None:
    work = data_dir.parent
    config = SimulationConfig(users=300, days=10, seed=8, start=datetime(2026, 1, 1, tzinfo=UTC))
    write_jsonl(simulate(config), str(work / "sim.jsonl"))
    import_file(work / "sim.jsonl", Settings(data_dir=str(data_dir)))
    out = run("segment")
    assert 2 <= out["k"] <= 12 and out["people"] == sum(s["size"] for s in out["segments"])
    assert out["people"] > 250 and -1 <= out["silhouette"] <= 1
    assert len({s["name"] for s in out["segments"]}) == out["k"]
    meta = json.loads(invoke("models", "show", "--kind", "segments").stdout)
    assert meta["champion"] and meta["source"] == "lake"
    assert set(meta["preprocessing"]["columns"]) <= set(LAKE_FEATURES)
    assert meta["as_of"].startswith("2026-01-1")  # just after the last simulated event
    assert [s["k"] for s in meta["scores"]] == list(range(2, 13))
    assert meta["chosen_by"] == "silhouette"
    consensus = run("segment", "--choose-by", "consensus", "--fresh")
    chosen = json.loads(invoke("models", "show", "--kind", "segments").stdout)
    assert chosen["chosen_by"] == "consensus" and chosen["k"] == consensus["k"]
    listed = run("models", "list", "--kind", "segments")
    assert listed[0]["k"] == out["k"] and listed[0]["algorithm"] == "kmeans"


def test_a_table_is_segmented_refreshed_and_reported(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "people.parquet"
    groups(FOUR, (400, 300, 200, 100)).drop(columns=["truth"]).to_parquet(path)
    first = run("segment", "--table", str(path))
    assert first["k"] == 4 and "matched" not in first
    assert [s["id"] for s in first["segments"]] == [1, 2, 3, 4]

    # the same people a month later, and more of them: the champion is matched by default
    grown = groups((*FOUR, (6, 6, 6)), (400, 300, 200, 100, 120), seed=5)
    grown.drop(columns=["truth"]).to_parquet(path)
    second = run("segment", "--table", str(path))
    assert second["previous"] == first["model_version"]
    assert second["matched"] == {"1": 1, "2": 2, "3": 3, "4": 4}
    assert second["new_segments"] == [5] and second["vanished_segments"] == []
    moved = {(m["from"], m["to"]): m["people"] for m in second["migrations"]}
    assert moved[(None, 5)] == 120 and sum(moved.values()) == 1120

    explicit = run("segment", "--table", str(path), "--previous", first["model_version"])
    assert explicit["previous"] == first["model_version"] and explicit["new_segments"] == [5]
    fresh = run("segment", "--table", str(path), "--fresh", "--algorithm", "agglomerative")
    assert "matched" not in fresh and fresh["k"] == 5

    not_due = run("segment", "--table", str(path), "--if-due")
    assert not_due == {
        "due": False,
        "model_version": fresh["model_version"],
        "next_due": not_due["next_due"],
    }

    report = data_dir.parent / "report"
    invoke("report", "segments", second["model_version"], "--out", str(report))
    html = (report / "index.html").read_text()
    for name in (
        "k_selection.png",
        "sizes.png",
        "map_pca.png",
        "map_tsne.png",
        "profile_heatmap.png",
        "migrations.png",
    ):
        assert (report / name).stat().st_size > 1000 and name in html
    assert "profiles.csv" in html and (report / "profiles.md").exists()
    assert all(s["name"] in html for s in second["segments"])


def test_density_segments_report_the_unclassified(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    frame = groups(FOUR, (400, 300, 200, 100), spread=0.4).drop(columns=["truth"])
    frame.loc[len(frame)] = ["stray", 30.0, -30.0, 30.0]
    frame.to_csv(path, index=False)
    out = run("segment", "--table", str(path), "--algorithm", "hdbscan", "--min-cluster-size", "30")
    assert out["k"] == 4
    unclassified = [s for s in out["segments"] if s["id"] == -1]
    assert unclassified and unclassified[0]["name"] == "Unclassified"
    invoke("report", "segments", "--out", str(tmp_path / "report"))
    html = (tmp_path / "report" / "index.html").read_text()
    assert "Unclassified" in html and "-1" in html


def test_bad_input_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    groups(FOUR, (1, 1, 1, 0)).drop(columns=["truth"]).to_csv(path, index=False)
    result = invoke("segment", "--table", str(path), "--k", "5", code=2)
    assert "k=5 segments for 3 people" in result.output
    result = invoke("segment", "--table", str(path), "--id", "person", code=2)
    assert "no id column 'person'" in result.output
    result = invoke("segment", code=2)
    assert "the lake is empty" in result.output
    other = tmp_path / "other.csv"
    groups(FOUR, (50, 50, 50, 50)).drop(columns=["truth"]).to_csv(other, index=False)
    first = run("segment", "--table", str(other))
    renamed = tmp_path / "renamed.csv"
    frame = groups(FOUR, (50, 50, 50, 50)).drop(columns=["truth"]).rename(columns={"f0": "x"})
    frame.to_csv(renamed, index=False)
    result = invoke(
        "segment", "--table", str(renamed), "--previous", first["model_version"], code=2
    )
    assert "a refresh must read the same features" in " ".join(result.output.split())
    # without --previous the champion on other features is not matched: new ids
    assert "matched" not in run("segment", "--table", str(renamed))
    assert np.isfinite(first["silhouette"])
