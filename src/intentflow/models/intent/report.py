"""An HTML report of one registered intent model version.

It reads the version's folder (``meta.json``, the test predictions in ``test.parquet`` and the
SHAP values in ``shap.parquet`` / ``shap_values.parquet``) and writes ``index.html`` beside one
PNG per plot: ROC and precision-recall curves against the baselines, calibration, a SHAP summary,
global importance and the hyperparameter search.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from intentflow.models.reporting import save, write_page

SCORERS = {"model": "model", "logistic_regression": "logistic regression", "rule": "rule"}
METRICS = (
    ("ROC-AUC", ("roc_auc",)),
    ("PR-AUC", ("pr_auc",)),
    ("log loss", ("log_loss",)),
    ("Brier score", ("brier",)),
    ("F1", ("f1",)),
    ("top 5% precision", ("top_5pct", "precision")),
    ("top 5% lift", ("top_5pct", "lift")),
    ("top 10% precision", ("top_10pct", "precision")),
    ("top 10% lift", ("top_10pct", "lift")),
)
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SUMMARY_FEATURES = 15
IMPORTANCE_ROWS = 20

TEMPLATE = """{{ table("header", [], header) }}
<h2>Model against baselines (test rows)</h2>
{{ table("baselines", ["metric"] + scorers, metrics) }}
<h2>Threshold</h2>
<p>High intent from {{ threshold.value|num }} up, chosen by {{ threshold.rule|num }}
(validation precision {{ threshold.precision|num }}, recall {{ threshold.recall|num }}).</p>
{{ table("thresholds", ["threshold", "share flagged", "precision", "recall", "F1"], cuts, mark) }}
<h2>Plots</h2>
{% for file, title in plots %}<h3>{{ title }}</h3><img src="{{ file }}" alt="{{ title }}">
{% endfor %}
<h2>Global importance</h2>
{{ table("importance", ["feature", "mean |SHAP|"], importance) }}
<h2>Search: best parameters</h2>
{{ table("params", ["parameter", "value"], params) }}
{% if crossval %}<h2>Cross-validation</h2>
{{ table("crossval", ["figure", "value"], crossval) }}{% endif %}
</body></html>
"""


def _metric(metrics: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _cuts(labels: np.ndarray, probs: np.ndarray, thresholds: list[float]) -> list[list[Any]]:
    """Threshold, share flagged, precision, recall and F1 when flagging ``probs >= threshold``."""
    rows: list[list[Any]] = []
    positives = max(1, int(labels.sum()))
    for threshold in thresholds:
        flagged = probs >= threshold
        hits = int(labels[flagged].sum())
        precision = hits / flagged.sum() if flagged.any() else None
        f1 = 2 * hits / (flagged.sum() + positives)
        rows.append([f"{threshold:.4g}", float(flagged.mean()), precision, hits / positives, f1])
    return rows


def _roc(test: pd.DataFrame, scorers: list[str], out: Path) -> str:
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    for column in scorers:
        fpr, tpr, _ = roc_curve(test["label"], test[column])
        auc = roc_auc_score(test["label"], test[column])
        ax.plot(fpr, tpr, label=f"{SCORERS[column]} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test rows)")
    ax.legend(loc="lower right")
    return save(fig, out, "roc.png")


def _pr(test: pd.DataFrame, scorers: list[str], out: Path) -> str:
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    for column in scorers:
        precision, recall, _ = precision_recall_curve(test["label"], test[column])
        ap = average_precision_score(test["label"], test[column])
        ax.step(recall, precision, where="post", label=f"{SCORERS[column]} (AP {ap:.3f})")
    rate = float(test["label"].mean())
    ax.axhline(rate, color="grey", linestyle="--", linewidth=1, label=f"positive rate {rate:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test rows)")
    ax.legend(loc="upper right")
    return save(fig, out, "pr.png")


def _calibration(test: pd.DataFrame, out: Path) -> str:
    fig = Figure(figsize=(6, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    bins = 10 if len(test) >= 200 else 5
    observed, predicted = calibration_curve(
        test["label"], test["model"], n_bins=bins, strategy="quantile"
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    top.plot(predicted, observed, marker="o", label="model")
    top.set(ylabel="observed positive rate", title="Calibration (test rows, quantile bins)")
    top.legend(loc="upper left")
    bottom.hist(test["model"], bins=20, range=(0, 1), color="tab:blue")
    bottom.set(xlabel="predicted probability", ylabel="rows")
    return save(fig, out, "calibration.png")


def _shap_summary(shap: pd.DataFrame, values: pd.DataFrame, out: Path) -> str:
    order = shap.abs().mean().sort_values(ascending=False).index[:SUMMARY_FEATURES]
    cmap = mpl.colormaps["coolwarm"]
    fig = Figure(figsize=(8, 1 + 0.4 * len(order)), layout="constrained")
    ax = fig.subplots()
    jitter = np.random.default_rng(0)
    for row, feature in enumerate(order):
        y = len(order) - 1 - row + jitter.uniform(-0.2, 0.2, len(shap))
        ranks = values[feature].rank(pct=True).to_numpy(dtype=float)
        known = ~np.isnan(ranks)
        x = shap[feature].to_numpy(dtype=float)
        ax.scatter(x[~known], y[~known], color="lightgrey", s=4, alpha=0.7)
        ax.scatter(x[known], y[known], c=ranks[known], cmap=cmap, vmin=0, vmax=1, s=4, alpha=0.7)
    ax.set_yticks(range(len(order)), list(reversed(order)))
    ax.axvline(0, color="grey", linewidth=1)
    ax.set(xlabel="SHAP value (log-odds)", title="SHAP summary (sample of test rows)")
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, ticks=[0, 1])
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value (rank)")
    return save(fig, out, "shap_summary.png")


def _importance(importance: list[tuple[str, float]], out: Path) -> str:
    top = importance[:SUMMARY_FEATURES][::-1]
    fig = Figure(figsize=(7, 1 + 0.35 * len(top)), layout="constrained")
    ax = fig.subplots()
    ax.barh([name for name, _ in top], [value for _, value in top], color="tab:blue")
    ax.set(xlabel="mean |SHAP| (log-odds)", title="Global importance")
    return save(fig, out, "importance.png")


def _search(history: list[dict[str, Any]], out: Path) -> str:
    trials = [t for t in history if t.get("roc_auc") is not None]
    numbers = [t["number"] for t in trials]
    aucs = np.array([t["roc_auc"] for t in trials], dtype=float)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.scatter(numbers, aucs, s=15, label="trial")
    ax.step(numbers, np.maximum.accumulate(aucs), where="post", color="tab:red", label="best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="trial", ylabel="validation ROC-AUC", title="Hyperparameter search")
    ax.legend(loc="best")
    return save(fig, out, "search.png")


def _header(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    data = meta.get("data", {})
    rows = [
        ("version", meta.get("version")),
        ("created", meta.get("created_at")),
        ("learner", meta.get("learner")),
        ("label", data.get("label")),
        (
            "rows (train / test)",
            f"{data.get('rows')} ({data.get('train_rows')} / {data.get('test_rows')})",
        ),
        ("positives", data.get("positives")),
        ("feature version", meta.get("feature_version")),
        ("code version", meta.get("code_version")),
        ("calibration", meta.get("calibration")),
    ]
    rows += [(key, data[key]) for key in ("from", "to") if data.get(key) is not None]
    return rows


def write_report(folder: Path, out: Path) -> Path:
    """Write the report of the model version in ``folder`` into ``out``; return its index.html."""
    meta = json.loads((folder / "meta.json").read_text())
    test = pd.read_parquet(folder / "test.parquet")
    out.mkdir(parents=True, exist_ok=True)
    scorers = [column for column in SCORERS if column in test.columns]
    labels = test["label"].to_numpy(dtype=int)
    threshold = meta.get("threshold", {})
    importance = [(str(name), float(value)) for name, value in meta.get("importance", [])]
    plots = [
        (_roc(test, scorers, out), "ROC"),
        (_pr(test, scorers, out), "Precision-recall"),
        (_calibration(test, out), "Calibration"),
    ]
    if (folder / "shap.parquet").exists() and (folder / "shap_values.parquet").exists():
        shap = pd.read_parquet(folder / "shap.parquet")
        values = pd.read_parquet(folder / "shap_values.parquet")
        plots.append((_shap_summary(shap, values, out), "SHAP summary"))
    if importance:
        plots.append((_importance(importance, out), "Global importance"))
    if meta.get("history"):
        plots.append((_search(meta["history"], out), "Hyperparameter search"))
    metrics = meta.get("metrics", {})
    stored = threshold.get("value")
    thresholds = sorted({*THRESHOLDS, *([] if stored is None else [float(stored)])})
    return write_page(
        TEMPLATE,
        out,
        title=f"Intent model {meta.get('version')}",
        header=_header(meta),
        scorers=[SCORERS[column] for column in scorers],
        metrics=[
            [name, *(_metric(metrics.get(column, {}), path) for column in scorers)]
            for name, path in METRICS
        ],
        threshold=threshold,
        cuts=_cuts(labels, test["model"].to_numpy(dtype=float), thresholds),
        mark=None if stored is None else thresholds.index(float(stored)),
        plots=plots,
        importance=importance[:IMPORTANCE_ROWS],
        params=sorted(meta.get("params", {}).items()),
        crossval=sorted(meta.get("cross_validation", {}).items()),
    )
