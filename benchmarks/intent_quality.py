"""``intentflow bench intent_quality``: the intent model on real data, beside its baselines.

- UCI online shoppers (bring your own features): ``intentflow train intent --table ... --label
  Revenue --cv 5``, with the four numeric code columns (operating system, browser, region,
  traffic type) declared ``--categorical`` as the dataset's paper describes them: stratified
  5-fold (seed 42), the tuned model against logistic regression on the same folds; mean ROC-AUC,
  PR-AUC and F1.
- Taobao (events through the whole pipeline): the file imported into a lake (``intentflow
  ingest --preset taobao``), a training set at one cutoff 80 minutes after the first event
  (features from before it, label: a purchase in the rest of the file), and ``intentflow train
  intent`` on it with a stratified 30 % person holdout (one row per person): ROC-AUC and PR-AUC
  of the model, logistic regression and the add-to-cart rule.

Every step runs as the command a user would type, in its own process. Reads the datasets from
``INTENTFLOW_DATASETS`` (default ``../shared/datasets``). Writes
``bench-results/intent_quality.json``; the last line printed is the JSON result.

Options: ``--trials`` (default 25), ``--skip-uci``, ``--skip-taobao``, ``--learner``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from _common import bench_env, log, report, run_json

DATASETS = Path(os.environ.get("INTENTFLOW_DATASETS", "../shared/datasets"))
SCORERS = (("model", ""), ("logistic_regression", "baseline_"), ("rule", "rule_"))
CODES = ("OperatingSystems", "Browser", "Region", "TrafficType")
"""Numeric columns of the UCI table that are codes, categorical in the dataset's paper."""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "intentflow.cli", *args]


def _scores(result: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {k: round(result[f"{p}{k}"], 4) for k in ("roc_auc", "pr_auc", "f1")}
        for name, p in SCORERS
        if f"{p}roc_auc" in result
    }


def uci(trials: int, learner: str, data_dir: Path) -> dict[str, Any]:
    source = DATASETS / "online_shoppers_intention" / "online_shoppers_intention.csv"
    log(f"intent_quality: UCI online shoppers, 5 folds x {trials} trials")
    cmd = _cli("train", "intent", "--table", str(source), "--label", "Revenue", "--cv", "5")
    for column in CODES:
        cmd += ["--categorical", column]
    cmd += ["--trials", str(trials), "--learner", learner, "--json"]
    result, wall, _ = run_json(cmd, bench_env(data_dir))
    return {
        "rows": result["rows"],
        "positives": result["positives"],
        "folds": [round(f["model"]["roc_auc"], 4) for f in result["folds"]],
        "roc_auc_std": round(result["roc_auc_std"], 4),
        **_scores(result),
        "wall_s": round(wall, 1),
    }


def taobao(trials: int, learner: str, data_dir: Path) -> dict[str, Any]:
    source = DATASETS / "taobao_userbehavior" / "UserBehavior.csv"
    env = bench_env(data_dir)
    log("intent_quality: Taobao: import")
    run_json(_cli("ingest", str(source), "--preset", "taobao", "--json"), env)
    first = min(int(line.split(",")[4]) for line in source.read_text().splitlines() if line.strip())
    cutoff = datetime.fromtimestamp(first, UTC) + timedelta(minutes=80)
    table = data_dir / "taobao-training.parquet"
    log(f"intent_quality: Taobao: training set at {cutoff.isoformat()}")
    cmd = _cli("features", "training-set", "--out", str(table), "--cutoff", cutoff.isoformat())
    run_json([*cmd, "--horizon", "1h", "--label", "purchase", "--json"], env)
    rows = pq.read_table(table, columns=["label"]).column(0).to_pylist()
    log(f"intent_quality: Taobao: {len(rows):,} people, {sum(rows)} buyers; training")
    cmd = _cli("train", "intent", "--table", str(table), "--split", "stratified")
    cmd += ["--test-share", "0.3", "--trials", str(trials), "--learner", learner, "--json"]
    result, wall, _ = run_json(cmd, env)
    fold = result["folds"][0]
    return {
        "cutoff": cutoff.isoformat(),
        "people": len(rows),
        "buyers": sum(rows),
        "test_people": fold["test_rows"],
        **_scores(result),
        "best_params": fold["best_params"],
        "validation_roc_auc": round(fold["validation_roc_auc"], 4),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--learner", default="lightgbm")
    parser.add_argument("--skip-uci", action="store_true")
    parser.add_argument("--skip-taobao", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"trials": args.trials, "learner": args.learner}
    summary = []
    with tempfile.TemporaryDirectory(prefix="intentflow-bench-") as tmp:
        if not args.skip_uci:
            figures["uci"] = uci(args.trials, args.learner, Path(tmp) / "uci")
            u = figures["uci"]
            summary.append(
                f"UCI 5-fold: ROC-AUC {u['model']['roc_auc']} (logistic regression "
                f"{u['logistic_regression']['roc_auc']}), PR-AUC {u['model']['pr_auc']} "
                f"({u['logistic_regression']['pr_auc']}), F1 {u['model']['f1']} "
                f"({u['logistic_regression']['f1']}), {u['wall_s']} s"
            )
        if not args.skip_taobao:
            figures["taobao"] = taobao(args.trials, args.learner, Path(tmp) / "taobao")
            t = figures["taobao"]
            summary.append(
                f"Taobao 30 % holdout ({t['people']:,} people, {t['buyers']} buyers): ROC-AUC "
                + ", ".join(
                    f"{k} {v['roc_auc']}"
                    for k, v in t.items()
                    if isinstance(v, dict) and "roc_auc" in v
                )
                + "; PR-AUC "
                + ", ".join(
                    f"{k} {v['pr_auc']}"
                    for k, v in t.items()
                    if isinstance(v, dict) and "pr_auc" in v
                )
            )
        shutil.rmtree(tmp, ignore_errors=True)
    report("intent_quality", summary, figures)


if __name__ == "__main__":
    main()
