"""``intentflow features list``, ``build`` and ``show`` on a small lake."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.features.build import table_version
from intentflow.features.catalog import FEATURES, catalog_version

from .test_catalog import CUTOFF, history, write_lake

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    monkeypatch.setenv("INTENTFLOW_DATA_DIR", str(tmp_path / "data"))
    write_lake(tmp_path / "data" / "lake", history())
    return tmp_path / "data"


def test_list_prints_the_catalog_as_json() -> None:
    result = runner.invoke(app, ["features", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["version"] == catalog_version()
    assert [f["name"] for f in listed["features"]] == [f.name for f in FEATURES]
    windows = {f["name"]: f["window"] for f in listed["features"]}
    assert windows["events_15m"] == "15m" and windows["days_since_last_purchase"] is None


def test_build_writes_one_row_per_person_with_the_version(data_dir: Path) -> None:
    out = data_dir.parent / "out" / "features.parquet"
    result = runner.invoke(
        app, ["features", "build", "--as-of", CUTOFF.isoformat(), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["people"], summary["features"]) == (3, len(FEATURES))
    table = pq.read_table(out)
    assert table.column_names[0] == "user_id"
    assert sorted(table["user_id"].to_pylist()) == ["anon-b", "u-a", "u-c"]
    assert table_version(str(out)) == catalog_version()


def test_build_defaults_to_the_features_folder_by_as_of_date(data_dir: Path) -> None:
    result = runner.invoke(app, ["features", "build", "--as-of", "2026-01-05T12:00:00", "--json"])
    assert result.exit_code == 0, result.output
    path = Path(json.loads(result.stdout.strip().splitlines()[-1])["path"])
    assert path.parent == data_dir / "features" / "as_of_date=2026-01-05"
    assert path.name == f"features-{catalog_version()}-120000.parquet"


def test_show_prints_one_person_or_says_who_is_unknown(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["features", "show", "u-a", "--as-of", CUTOFF.isoformat(), "--json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert (row["user_id"], row["purchases_1h"], row["top_category_1"]) == ("u-a", 1, "shoes")
    missing = runner.invoke(app, ["features", "show", "nobody", "--as-of", CUTOFF.isoformat()])
    assert missing.exit_code == 1
    assert "no events of 'nobody'" in missing.output


def test_the_readme_lists_every_feature_of_the_catalog() -> None:
    from intentflow.features.command import catalog_markdown

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    block = readme.split("<!-- features:start -->\n", 1)[1].split("\n<!-- features:end -->", 1)[0]
    assert block == catalog_markdown(), "regenerate: intentflow features list --markdown"
