"""The intent commands end to end on a real table: train, list, promote, roll back, score,
report, and the clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from intentflow.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INTENTFLOW_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_train_list_promote_rollback_score_and_report(shoppers: Path, data_dir: Path) -> None:
    table = ["--table", str(shoppers), "--label", "Revenue"]
    first = run(
        "train",
        "intent",
        *table,
        "--trials",
        "2",
        "--rule",
        "PageValues",
        "--categorical",
        "Region",
        "--json",
    )
    spec = json.loads(
        (data_dir / "models" / "intent" / first["model_version"] / "model.json").read_text()
    )
    assert set(spec["schema"]["categories"]) == {"Month", "VisitorType", "Region"}
    assert {"roc_auc", "pr_auc", "f1", "baseline_roc_auc", "rule_roc_auc", "model_version"} <= set(
        first
    )
    assert first["roc_auc"] > 0.85 and first["champion"] is True
    second = run(
        "train", "intent", *table, "--trials", "1", "--learner", "xgboost", "--cv", "2", "--json"
    )
    assert len(second["folds"]) == 2 and second["model_version"] != first["model_version"]

    listed = run("models", "list", "--json")
    assert [m["version"] for m in listed] == [first["model_version"], second["model_version"]]
    champion = next(m["version"] for m in listed if m["champion"])
    other = ({first["model_version"], second["model_version"]} - {champion}).pop()
    assert CliRunner().invoke(app, ["models", "promote", other]).exit_code == 0
    assert next(m["version"] for m in run("models", "list", "--json") if m["champion"]) == other
    assert CliRunner().invoke(app, ["models", "rollback"]).exit_code == 0
    assert next(m["version"] for m in run("models", "list", "--json") if m["champion"]) == champion

    frame = pd.read_csv(shoppers).reset_index(names="session")
    frame.to_csv(data_dir.parent / "score.csv", index=False)
    out = data_dir.parent / "scores.parquet"
    scored = run(
        "score",
        "--table",
        str(data_dir.parent / "score.csv"),
        "--id",
        "session",
        "--out",
        str(out),
        "--json",
    )
    assert scored["rows"] == len(frame) and scored["model_version"] == champion
    rows = pq.read_table(out).to_pylist()
    assert rows[0]["user_id"] == "0" and len(rows[0]["reasons"]) == 3
    assert 0 < scored["high_intent"] < len(frame)

    report = CliRunner().invoke(app, ["report", "intent", "--out", str(data_dir.parent / "report")])
    assert report.exit_code == 0, report.output
    html = (data_dir.parent / "report" / "index.html").read_text()
    assert champion in html


def test_bad_tables_and_options_are_clear_errors(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "one-class.csv"
    pd.DataFrame({"x": range(10), "bought": [0] * 10}).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["train", "intent", "--table", str(path), "--label", "bought"])
    assert result.exit_code == 2 and "one class only" in result.output
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(40), "y": [0, 1] * 20}).to_csv(path, index=False)
    for extra, message in (
        (["--split", "temporal"], "time column"),
        (["--split", "grouped"], "group column"),
        (["--learner", "catboost"], "choose one of"),
        (["--label", "nope"], "no label column"),
    ):
        result = CliRunner().invoke(
            app, ["train", "intent", "--table", str(path), "--label", "y", *extra]
        )
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output, (extra, result.output)
    result = CliRunner().invoke(app, ["score", "--table", str(path)])
    assert result.exit_code == 1 and "no intent model is champion yet" in result.output
