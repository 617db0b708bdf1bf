"""``intentflow features list``, ``build``, ``training-set`` and ``show`` on a small lake."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.events import LAKE_SCHEMA
from intentflow.features.build import table_version
from intentflow.features.catalog import FEATURES, catalog_version
from intentflow.lake.layout import LakeLayout
from intentflow.lake.writer import LakeWriter

from .test_catalog import CUTOFF, history, lake_table, write_lake

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


def test_training_set_over_rolling_cutoffs(data_dir: Path) -> None:
    out = data_dir.parent / "train.parquet"
    start, end = (CUTOFF - timedelta(hours=2)).isoformat(), CUTOFF.isoformat()
    args = ["--from", start, "--to", end, "--every", "1h", "--horizon", "1h", "--out", str(out)]
    result = runner.invoke(app, ["features", "training-set", *args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["cutoffs"], summary["horizon"], summary["label"]) == (3, "1h", "purchase")
    table = pq.read_table(out)
    assert table.num_rows == summary["rows"] > 0
    assert summary["positives"] == sum(table["label"].to_pylist()) >= 1  # u-a buys at 11:50
    assert table_version(str(out)) == catalog_version()


@pytest.mark.parametrize(
    "args",
    [
        ["--horizon", "soon", "--cutoff", "2026-01-05T12:00:00"],
        ["--label", "refund", "--cutoff", "2026-01-05T12:00:00"],
        ["--from", "2026-01-05T12:00:00"],
        ["--from", "2026-01-05T12:00:00", "--to", "2026-01-04T12:00:00"],
        ["--cutoff", "yesterday"],
        [],
    ],
)
def test_training_set_refuses_bad_options(data_dir: Path, args: list[str]) -> None:
    out = data_dir.parent / "train.parquet"
    result = runner.invoke(app, ["features", "training-set", "--out", str(out), *args])
    assert result.exit_code == 2
    assert not out.exists()


def corrupt(path: Path) -> None:
    """Overwrite bytes in the middle of a Parquet file (its footer stays readable)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 600] = b"\x55" * 600
    path.write_bytes(bytes(data))


def test_a_corrupt_file_is_named_and_can_be_skipped(data_dir: Path) -> None:
    write_lake(data_dir / "lake", later_events(), "later")
    [bad] = [p for p in (data_dir / "lake").rglob("*later*.parquet")]
    corrupt(bad)
    out = data_dir.parent / "features.parquet"
    args = ["features", "build", "--as-of", "2026-01-06T00:00:00", "--out", str(out), "--json"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert bad.name in refused.output and "--skip-corrupt" in refused.output
    assert not out.exists()
    skipped = runner.invoke(app, [*args, "--skip-corrupt"])
    assert skipped.exit_code == 0, skipped.output
    assert "warning" in skipped.output and bad.name in skipped.output
    summary = json.loads(skipped.stdout.strip().splitlines()[-1])
    assert [Path(p).name for p in summary["skipped_files"]] == [bad.name]
    assert summary["people"] == 3  # the history's people, from the readable files


def later_events() -> list[dict[str, object]]:
    """Events of a new person on 2026-01-05 after the cutoff (a file of its own)."""
    return [
        {"type": "page_view", "user_id": f"u-late-{i}", "timestamp": f"2026-01-05T1{i % 10}:30:00Z"}
        for i in range(200)
    ]


def test_unknown_event_types_are_counted_and_ignored_by_typed_features(data_dir: Path) -> None:
    rows = lake_table(history()[:1], "odd").to_pylist()
    rows[0].update(type="video_play", message_id="odd-1", user_id="u-c")
    LakeWriter(LakeLayout(str(data_dir / "lake")), fsync=False).write(
        pa.Table.from_pylist(rows, schema=LAKE_SCHEMA), "odd"
    )
    out = data_dir.parent / "features.parquet"
    args = ["features", "build", "--as-of", CUTOFF.isoformat(), "--out", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["unknown_types"] == {"video_play": 1}
    assert "unknown types" in result.output
    c = {r["user_id"]: r for r in pq.read_table(out).to_pylist()}["u-c"]
    assert (c["events_30d"], c["purchases_30d"], c["page_views_30d"]) == (3, 2, 0)
