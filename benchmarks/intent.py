"""``intentflow bench intent``: training time, single-person scoring latency, batch scoring.

- Training: ``intentflow train intent`` on a simulated table of 1M rows x 60 features (40
  counts, 15 measures, 5 categoricals; about 4 % positives from a non-linear truth) with a
  fixed trial budget, in its own process: wall time and peak RSS. Baseline in the same run: one
  LightGBM fit with default parameters on the same rows.
- Single-person scoring, in-process: ``IntentModel.score_one`` (calibrated probability, class
  and the top 3 SHAP reasons) on 2,000 people one at a time, p50/p99; beside it the bare
  booster's ``predict`` on the same 1-row inputs (no calibration, no reasons).
- The same single-person latency for a model of a real table (UCI online shoppers, 25 trials),
  where the truth is stronger and the model larger.
- Batch scoring: ``score_table`` (with reasons) and ``predict_proba`` over the first
  ``--batch-rows`` rows of the table (default 100,000), rows/s.

Writes ``bench-results/intent.json`` and ``bench-results/intent-latency.png`` (a histogram);
the last line printed is the JSON result.

Options: ``--rows`` (default 1,000,000), ``--trials`` (default 4), ``--inner-folds`` (2),
``--batch-rows`` (100,000).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import RESULTS, bench_env, log, report, run_json

FEATURES = 60
DATASETS = Path(os.environ.get("INTENTFLOW_DATASETS", "../shared/datasets"))


def simulate_table(rows: int, seed: int = 7) -> pd.DataFrame:
    """A feature table with a label from a non-linear truth (interactions, thresholds)."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.gamma(1.0, 2.0, size=(1, 40)), size=(rows, 40)).astype(np.float64)
    measures = rng.normal(size=(rows, 15))
    measures[rng.random((rows, 15)) < 0.05] = np.nan
    levels = [rng.integers(0, k, size=rows) for k in (3, 5, 8, 12, 20)]
    z = (
        -4.2
        + 0.35 * np.log1p(counts[:, 0]) * (1 + (counts[:, 1] > 2))
        + 0.25 * np.log1p(counts[:, 2])
        + 0.6 * np.tanh(np.nan_to_num(measures[:, 0]))
        + 0.4 * (np.nan_to_num(measures[:, 1]) > 1) * np.log1p(counts[:, 3])
        + 0.3 * (levels[1] == 2)
        - 0.3 * (levels[3] % 3 == 0)
    )
    frame = pd.DataFrame(counts, columns=[f"count_{i}" for i in range(40)])
    for i in range(15):
        frame[f"measure_{i}"] = measures[:, i]
    for i, codes in enumerate(levels):
        frame[f"kind_{i}"] = np.char.add("k", codes.astype(str))
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-z))).astype(np.int8)
    return frame


def _table(rows: int) -> Path:
    path = RESULTS / "cache" / f"intent-{rows}.parquet"
    if not path.exists():
        log(f"intent: simulating {rows:,} rows x {FEATURES} features")
        path.parent.mkdir(parents=True, exist_ok=True)
        simulate_table(rows).to_parquet(path, index=False)
    return path


def _default_fit(path: Path) -> float:
    """Seconds of one LightGBM fit with default parameters on the same rows (the baseline)."""
    import lightgbm as lgb

    from intentflow.models.intent.schema import Schema
    from intentflow.models.intent.table import prepare

    table = prepare(pd.read_parquet(path), "label")
    schema = Schema.of(table.features)
    matrix = schema.matrix(table.features)
    started = time.perf_counter()
    lgb.train(
        {"objective": "binary", "verbose": -1},
        lgb.Dataset(matrix, table.labels, categorical_feature=schema.categorical),
    )
    return time.perf_counter() - started


def _single(
    model: Any, frame: pd.DataFrame, label: str, people: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of ``score_one`` (3 reasons) and of the bare booster's ``predict``, per
    person of a sample."""
    sample = frame.sample(min(people, len(frame)), random_state=3).drop(columns=[label])
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in sample.to_dict("records")
    ]
    for record in records[:50]:  # warm up
        model.score_one(record)
    full, bare = [], []
    booster = model.booster.models[0]
    for record in records:
        started = time.perf_counter_ns()
        model.score_one(record)
        full.append(time.perf_counter_ns() - started)
        vector = model.schema.vector(record)
        started = time.perf_counter_ns()
        booster.predict(vector)
        bare.append(time.perf_counter_ns() - started)
    return np.array(full) / 1e6, np.array(bare) / 1e6


def _uci_latency(data_dir: Path, trials: int) -> dict[str, Any] | None:
    """Single-person latency of a model of a real table: UCI online shoppers, tuned with the
    same budget as the quality benchmark."""
    from intentflow.models.intent.model import IntentModel

    source = DATASETS / "online_shoppers_intention" / "online_shoppers_intention.csv"
    if not source.exists():
        return None
    shutil.rmtree(data_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "intentflow.cli", "train", "intent", "--table", str(source)]
    cmd += ["--label", "Revenue", "--trials", str(trials), "--json"]
    trained, _, _ = run_json(cmd, bench_env(data_dir))
    model = IntentModel.load(data_dir / "models", trained["model_version"])
    ms, bare_ms = _single(model, pd.read_csv(source), "Revenue")
    booster = model.booster.models[0]
    return {
        "trees": int(booster.num_trees()),
        "score_p50_ms": round(float(np.percentile(ms, 50)), 4),
        "score_p99_ms": round(float(np.percentile(ms, 99)), 4),
        "bare_predict_p99_ms": round(float(np.percentile(bare_ms, 99)), 4),
    }


def _latency(data_dir: Path, path: Path, batch_rows: int) -> dict[str, Any]:
    from intentflow.models.intent.model import IntentModel
    from intentflow.models.intent.score import score_table

    model = IntentModel.load(data_dir / "models")
    frame = pd.read_parquet(path)
    booster = model.booster.models[0]
    ms, bare_ms = _single(model, frame, "label")
    log(
        f"intent: score_one p50 {np.percentile(ms, 50):.3f} ms, p99 {np.percentile(ms, 99):.3f} "
        f"ms; bare predict p99 {np.percentile(bare_ms, 99):.3f} ms"
    )
    features = frame.drop(columns=["label"]).iloc[:batch_rows]
    clock = time.perf_counter()
    scored = score_table(model, features, range(len(features)))
    with_reasons = time.perf_counter() - clock
    clock = time.perf_counter()
    model.predict_proba(features)
    plain = time.perf_counter() - clock
    _plot(ms, bare_ms)
    return {
        "score_p50_ms": round(float(np.percentile(ms, 50)), 4),
        "score_p99_ms": round(float(np.percentile(ms, 99)), 4),
        "bare_predict_p50_ms": round(float(np.percentile(bare_ms, 50)), 4),
        "bare_predict_p99_ms": round(float(np.percentile(bare_ms, 99)), 4),
        "boosters": len(model.booster.models),
        "trees": int(booster.num_trees()),
        "leaves": int(model.meta["params"]["num_leaves"]),
        "batch_rows": scored.num_rows,
        "batch_rows_per_s_with_reasons": round(len(features) / with_reasons),
        "batch_rows_per_s_probability_only": round(len(features) / plain),
    }


def _plot(ms: np.ndarray, bare_ms: np.ndarray) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    top = float(np.percentile(ms, 99.5))
    bins = np.linspace(0, top, 60).tolist()
    axes.hist(np.clip(ms, 0, top), bins=bins, alpha=0.7, label="score_one (3 reasons)")
    axes.hist(np.clip(bare_ms, 0, top), bins=bins, alpha=0.7, label="booster.predict, bare")
    for q, style in ((50, "--"), (99, ":")):
        axes.axvline(float(np.percentile(ms, q)), color="black", linestyle=style, label=f"p{q}")
    axes.set_xlabel("latency per person (ms)")
    axes.set_ylabel("people")
    axes.set_title("single-person intent scoring, in-process")
    axes.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "intent-latency.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--inner-folds", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    args = parser.parse_args()
    path = _table(args.rows)
    data_dir = RESULTS / "cache" / f"intent-run-{args.rows}"
    shutil.rmtree(data_dir, ignore_errors=True)
    log(f"intent: training on {args.rows:,} rows, {args.trials} trials x {args.inner_folds} folds")
    cmd = [sys.executable, "-m", "intentflow.cli", "train", "intent", "--table", str(path)]
    cmd += ["--trials", str(args.trials), "--inner-folds", str(args.inner_folds), "--json"]
    trained, wall, peak = run_json(cmd, bench_env(data_dir))
    log(f"intent: trained in {wall:.1f} s, peak RSS {peak / 2**20:,.0f} MB")
    log("intent: one default LightGBM fit (baseline)")
    default_s = _default_fit(path)
    log(f"intent: default fit {default_s:.1f} s; scoring latency and batch scoring")
    latency = _latency(data_dir, path, args.batch_rows)
    log("intent: single-person latency of a UCI online-shoppers model (25 trials)")
    uci = _uci_latency(RESULTS / "cache" / "intent-run-uci", 25)
    figures = {
        "rows": args.rows,
        "features": FEATURES,
        "trials": args.trials,
        "inner_folds": args.inner_folds,
        "train_wall_s": round(wall, 1),
        "train_peak_rss_mb": round(peak / 2**20),
        "default_fit_s": round(default_s, 1),
        "test_roc_auc": round(trained["roc_auc"], 4),
        "baseline_roc_auc": round(trained["baseline_roc_auc"], 4),
        **latency,
        "uci_model": uci,
    }
    summary = [
        f"training {args.rows:,} x {FEATURES}, {args.trials} trials x {args.inner_folds} folds: "
        f"{wall:.1f} s, peak RSS {peak / 2**20:,.0f} MB (one default LightGBM fit: "
        f"{default_s:.1f} s); test ROC-AUC {trained['roc_auc']:.4f} "
        f"(logistic regression {trained['baseline_roc_auc']:.4f})",
        f"single person with 3 reasons: p50 {latency['score_p50_ms']} ms, "
        f"p99 {latency['score_p99_ms']} ms (bare booster predict p99 "
        f"{latency['bare_predict_p99_ms']} ms)",
        f"batch: {latency['batch_rows_per_s_with_reasons']:,} rows/s with reasons, "
        f"{latency['batch_rows_per_s_probability_only']:,} rows/s probability only",
    ]
    if uci:
        summary.append(
            f"UCI model ({uci['trees']} trees): single person with 3 reasons p50 "
            f"{uci['score_p50_ms']} ms, p99 {uci['score_p99_ms']} ms"
        )
    report("intent", summary, figures)


if __name__ == "__main__":
    main()
