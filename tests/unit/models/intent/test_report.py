"""The HTML report of a model version: its tables, its plots and its threshold figures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from intentflow.models.intent.report import write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STORED_THRESHOLD = 0.4375
FEATURES = ["views", "a<b", "minutes"]


def scorer_metrics(roc_auc: float) -> dict[str, Any]:
    top = {"precision": 0.5, "recall": 0.2, "lift": 2.5}
    return {
        "roc_auc": roc_auc,
        "pr_auc": 0.61,
        "log_loss": 0.42,
        "brier": 0.13,
        "f1": 0.55,
        "threshold": STORED_THRESHOLD,
        "top_5pct": top,
        "top_10pct": top,
    }


def version_folder(root: Path, *, with_rule: bool) -> Path:
    """A registered version with random predictions and SHAP values; no model is trained."""
    rng = np.random.default_rng(7)
    n = 400
    labels = (rng.random(n) < 0.2).astype(int)
    test = pd.DataFrame(
        {
            "label": labels,
            "model": np.clip(0.15 + 0.5 * labels + rng.normal(0, 0.2, n), 0, 1),
            "logistic_regression": np.clip(0.2 + 0.3 * labels + rng.normal(0, 0.25, n), 0, 1),
        }
    )
    if with_rule:
        test["rule"] = np.where(rng.random(n) < 0.5, 0.1, 0.35)
    values = pd.DataFrame({feature: rng.normal(0, 1, 200) for feature in FEATURES})
    values.loc[::10, "minutes"] = np.nan
    shap = values.fillna(0) * np.array([0.8, 0.3, -0.1]) + rng.normal(0, 0.05, (200, 3))
    metrics = {"model": scorer_metrics(0.876543), "logistic_regression": scorer_metrics(0.81)}
    if with_rule:
        metrics["rule"] = scorer_metrics(0.7)
    version = "20261126T120000-abc123"
    meta: dict[str, Any] = {
        "version": version,
        "kind": "intent",
        "created_at": "2026-11-26T12:00:00+00:00",
        "learner": "lightgbm",
        "params": {"learning_rate": 0.05, "num_leaves": 31},
        "history": [
            {"number": i, "params": {}, "roc_auc": auc, "rounds": [100]}
            for i, auc in enumerate([0.80, 0.84, 0.82, 0.86])
        ],
        "calibration": "isotonic",
        "threshold": {
            "value": STORED_THRESHOLD,
            "rule": "best F1",
            "precision": 0.6,
            "recall": 0.7,
        },
        "feature_version": "c126a3ce7ebf",
        "features": FEATURES,
        "data": {"rows": 2000, "train_rows": 1600, "test_rows": n, "positives": 400, "label": "y"},
        "metrics": metrics,
        "importance": [[f, float(shap[f].abs().mean())] for f in FEATURES],
        "cross_validation": {"roc_auc": 0.8642, "rows": 2000},
        "code_version": "0.1.0+0850d7b",
    }
    folder = root / "models" / "intent" / version
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(meta))
    test.to_parquet(folder / "test.parquet")
    shap.to_parquet(folder / "shap.parquet")
    values.to_parquet(folder / "shap_values.parquet")
    return folder


def table(html: str, table_id: str) -> list[list[str]]:
    """The cells of an HTML table, row by row (header cells included)."""
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert match is not None, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row, re.S) for row in rows]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    folder = version_folder(root, with_rule=True)
    return folder, write_report(folder, root / "out" / "nested")


def test_index_names_the_version_and_its_metrics(report: tuple[Path, Path]) -> None:
    _, index = report
    assert index == index.parent / "index.html"
    html = index.read_text()
    assert "<h1>Intent model 20261126T120000-abc123</h1>" in html
    rows = table(html, "baselines")
    assert rows[0] == ["metric", "model", "logistic regression", "rule"]
    assert rows[1] == ["ROC-AUC", "0.8765", "0.8100", "0.7000"]
    assert [row[0] for row in rows[1:]] == [
        "ROC-AUC",
        "PR-AUC",
        "log loss",
        "Brier score",
        "F1",
        "top 5% precision",
        "top 5% lift",
        "top 10% precision",
        "top 10% lift",
    ]
    assert ["calibration", "isotonic"] in table(html, "header")
    assert ["learning_rate", "0.0500"] in table(html, "params")
    assert ["roc_auc", "0.8642"] in table(html, "crossval")


def test_every_plot_is_a_real_png(report: tuple[Path, Path]) -> None:
    _, index = report
    images = re.findall(r'<img src="([^"]+)"', index.read_text())
    assert set(images) == {
        "roc.png",
        "pr.png",
        "calibration.png",
        "shap_summary.png",
        "importance.png",
        "search.png",
    }
    for name in images:
        path = index.parent / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        height, width, *_ = imread(path).shape
        assert height > 200
        assert width > 200


def test_threshold_table_matches_numpy(report: tuple[Path, Path]) -> None:
    folder, index = report
    test = pd.read_parquet(folder / "test.parquet")
    labels, probs = test["label"].to_numpy(), test["model"].to_numpy()
    rows = table(index.read_text(), "thresholds")
    assert rows[0] == ["threshold", "share flagged", "precision", "recall", "F1"]
    stored = re.search(r'<tr class="stored">(.*?)</tr>', index.read_text(), re.S)
    assert stored is not None
    cells = re.findall(r"<td>(.*?)</td>", stored.group(1))
    flagged = probs >= STORED_THRESHOLD
    precision = labels[flagged].mean()
    recall = labels[flagged].sum() / labels.sum()
    assert float(cells[0]) == STORED_THRESHOLD
    assert float(cells[1]) == pytest.approx(flagged.mean(), abs=5e-5)
    assert float(cells[2]) == pytest.approx(precision, abs=5e-5)
    assert float(cells[3]) == pytest.approx(recall, abs=5e-5)
    assert float(cells[4]) == pytest.approx(2 * precision * recall / (precision + recall), abs=5e-5)
    assert [float(row[0]) for row in rows[1:]] == sorted(
        [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, STORED_THRESHOLD]
    )


def test_importance_lists_features_by_mean_abs_shap_escaped(report: tuple[Path, Path]) -> None:
    _, index = report
    html = index.read_text()
    assert [row[0] for row in table(html, "importance")[1:]] == ["views", "a&lt;b", "minutes"]
    assert "a<b" not in html


def test_rule_column_absent_without_rule_scores(tmp_path: Path) -> None:
    folder = version_folder(tmp_path, with_rule=False)
    html = write_report(folder, tmp_path / "out").read_text()
    assert table(html, "baselines")[0] == ["metric", "model", "logistic regression"]
    assert "<th>rule</th>" not in html
