"""``intentflow train intent``, ``intentflow score`` and ``intentflow report intent``."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from intentflow.config import Settings
from intentflow.models.command import fail, report_app, write_model_report

train_app = typer.Typer(no_args_is_help=True, help="Train models: intent.")
console = Console(stderr=True)


def _table_from_lake(
    settings: Settings, horizon: str, label: str, start: str | None, end: str | None, every: str
) -> Any:
    """A training table of the lake's features over rolling cutoffs."""
    from intentflow.features.command import cutoffs_from_options
    from intentflow.features.labels import LABELS, Within, parse_horizon
    from intentflow.models.intent.lake import lake_table

    span, step = parse_horizon(horizon), parse_horizon(every)
    if label not in LABELS:
        raise typer.BadParameter(f"unknown label {label!r}: {', '.join(LABELS)}")
    if not isinstance(step, Within):
        raise typer.BadParameter("--every takes a span such as 6h or 1d")
    cutoffs = cutoffs_from_options(None, start, end, every) if start or end else None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training set: cutoffs", total=None)
        return lake_table(
            settings,
            horizon=span,
            every=step.span,
            label=LABELS[label],
            cutoffs=cutoffs,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


def _table_from_file(
    path: str,
    label: str,
    folds: int,
    drop: list[str] | None,
    group: str | None,
    time_column: str | None,
    categorical: list[str] | None,
) -> Any:
    """A training table of a CSV or Parquet file; a feature catalog's training set is read with
    its people, cutoffs and feature version."""
    import pyarrow.parquet as pq

    from intentflow.models.intent.lake import from_training_set, is_training_set
    from intentflow.models.intent.table import prepare, read_table

    if path.lower().endswith((".parquet", ".pq")):
        arrow = pq.read_table(path)
        if is_training_set(arrow):
            return from_training_set(arrow, folds=folds)
        frame = arrow.to_pandas()
    else:
        frame = read_table(path)
    return prepare(
        frame,
        label,
        folds=folds,
        drop=tuple(drop or ()),
        group=group,
        time=time_column,
        categorical=tuple(categorical or ()),
    )


@train_app.command("intent")
def intent(
    table: Annotated[
        str | None,
        typer.Option(
            "--table", help="CSV or Parquet of features with a label column (default: the lake)."
        ),
    ] = None,
    label: Annotated[str, typer.Option(help="The label column (binary) of --table.")] = "label",
    cv: Annotated[
        int | None,
        typer.Option("--cv", help="Cross-validate on K folds (default: one holdout).", min=2),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            help="stratified, grouped (by --group) or temporal (by --time); default: temporal "
            "for the lake's features, stratified for a table."
        ),
    ] = None,
    group: Annotated[str | None, typer.Option(help="The person column of --table.")] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="The time column of --table.")
    ] = None,
    learner: Annotated[str, typer.Option(help="lightgbm or xgboost.")] = "lightgbm",
    search: Annotated[str, typer.Option(help="tpe (Optuna) or grid.")] = "tpe",
    trials: Annotated[int | None, typer.Option(help="The search's trial budget.", min=1)] = None,
    inner_folds: Annotated[int, typer.Option(help="Validation folds for tuning.", min=2)] = 3,
    test_share: Annotated[
        float, typer.Option(help="The held-out test share without --cv.", min=0.05, max=0.5)
    ] = 0.2,
    calibration: Annotated[str, typer.Option(help="platt, isotonic or none.")] = "platt",
    target_precision: Annotated[
        float | None,
        typer.Option(help="Choose the threshold for this precision (default: best F1)."),
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help="The rule baseline's column (lake: add_to_carts_30d).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the splits and the search.")] = 42,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", help="A column that is no feature (an id); repeat for several."),
    ] = None,
    categorical: Annotated[
        list[str] | None,
        typer.Option(
            "--categorical", help="A numeric column of codes to split as categories; repeat."
        ),
    ] = None,
    horizon: Annotated[str, typer.Option(help="Lake: session, or a span (30m, 24h).")] = "24h",
    target: Annotated[
        str, typer.Option("--target", help="Lake: purchase or add_to_cart.")
    ] = "purchase",
    start: Annotated[str | None, typer.Option("--from", help="Lake: first cutoff.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Lake: last cutoff.")] = None,
    every: Annotated[str, typer.Option(help="Lake: step between cutoffs.")] = "1d",
    promote: Annotated[
        bool, typer.Option(help="Promote the model if it beats the champion.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train the intent model, evaluate it beside logistic regression and the rule on untouched
    test rows, register it, and promote it if it beats the champion."""
    from intentflow.models.intent.champion import train_and_register
    from intentflow.models.intent.lake import RULE_COLUMN
    from intentflow.models.intent.schema import FeatureMismatchError
    from intentflow.models.intent.splits import LeakError
    from intentflow.models.intent.table import TableError
    from intentflow.models.intent.train import TrainOptions, default_split
    from intentflow.models.registry import Registry, RegistryError

    settings = Settings()
    started = time.perf_counter()
    try:
        if table is None:
            prepared = _table_from_lake(settings, horizon, target, start, end, every)
        else:
            prepared = _table_from_file(
                table, label, cv or 5, drop, group, time_column, categorical
            )
        lake_features = prepared.feature_version is not None
        options = TrainOptions(
            learner=learner,
            search=search,  # type: ignore[arg-type]
            trials=trials or settings.models.intent_trials,
            inner_folds=inner_folds,
            test_share=test_share,
            split=split or default_split(prepared),  # type: ignore[arg-type]
            calibration=calibration,  # type: ignore[arg-type]
            target_precision=target_precision,
            rule=rule or (RULE_COLUMN if lake_features else None),
            seed=seed,
        )
        _check_choices(options)
        folds = cv or 1

        def on_fold(number: int, fold: Any) -> None:
            m = fold.metrics
            console.print(
                f"fold {number + 1}/{folds}: ROC-AUC {m['model']['roc_auc']:.4f} "
                f"(logistic regression {m['logistic_regression']['roc_auc']:.4f})"
            )

        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(
                f"tuning on {len(prepared.labels):,} rows ({options.split} split)",
                total=folds * options.trials,
            )
            result = train_and_register(
                Registry(settings.models_dir),
                prepared,
                options,
                cv=cv,
                metric=settings.models.promote_metric,
                margin=settings.models.promote_margin,
                promote=promote,
                on_fold=on_fold,
                on_trial=lambda _: progress.advance(task),
            )
    except (TableError, LeakError, FeatureMismatchError, RegistryError, OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    result["seconds"] = round(time.perf_counter() - started, 1)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    Console().print(summary_table(result, cv))
    decision = result["promotion"]
    if decision:
        state = "champion" if decision["promoted"] else "challenger"
        console.print(f"{result['model_version']} is {state}: {decision['reason']}")


def _check_choices(options: Any) -> None:
    from intentflow.models.intent.boosting import LEARNERS

    allowed: dict[str, tuple[object, tuple[str, ...]]] = {
        "learner": (options.learner, tuple(LEARNERS)),
        "search": (options.search, ("tpe", "grid")),
        "split": (options.split, ("stratified", "grouped", "temporal")),
        "calibration": (options.calibration, ("platt", "isotonic", "none")),
    }
    for name, (value, choices) in allowed.items():
        if value not in choices:
            raise typer.BadParameter(f"--{name} {value!r}: choose one of {', '.join(choices)}")


def summary_table(result: dict[str, Any], cv: int | None = None) -> Table:
    """The test scores of the model and its baselines as a table."""
    what = f"{cv}-fold cross-validation" if cv else "held-out test rows"
    out = Table(title=f"intent model {result['model_version']}: {what}")
    scorers = [("model", ""), ("logistic regression", "baseline_"), ("rule", "rule_")]
    scorers = [(n, p) for n, p in scorers if f"{p}roc_auc" in result]
    out.add_column("metric")
    for name, _ in scorers:
        out.add_column(name)
    for key in ("roc_auc", "pr_auc", "f1", "log_loss", "brier"):
        out.add_row(key, *(f"{result[f'{p}{key}']:.4f}" for _, p in scorers))
    return out


def score(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score the lake's features at this cutoff.")
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="Score a CSV or Parquet of features instead.")
    ] = None,
    id_column: Annotated[str, typer.Option("--id", help="The id column of --table.")] = "user_id",
    version: Annotated[
        str | None, typer.Option(help="A model version (default: champion).")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Parquet file to write.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Everyone's calibrated purchase intent, high-intent class and top reasons, into Parquet."""
    import os

    import pyarrow.parquet as pq

    from intentflow.features.build import VERSION_KEY, build_features
    from intentflow.features.command import parse_as_of
    from intentflow.lake.reader import Lake
    from intentflow.models.intent.model import IntentModel
    from intentflow.models.intent.schema import FeatureMismatchError
    from intentflow.models.intent.score import score_table
    from intentflow.models.intent.table import read_table
    from intentflow.models.registry import RegistryError

    settings = Settings()
    started = time.perf_counter()
    moment = parse_as_of(as_of)
    try:
        if table is None:
            with console.status(f"features as of {moment.isoformat()}"):
                built = build_features(
                    Lake(settings.lake_dir, settings.lake.storage_options),
                    moment,
                    gap_s=settings.features.session_gap_s,
                )
            version_of_features = (built.schema.metadata or {})[VERSION_KEY].decode()
            model = IntentModel.load(
                settings.models_dir, version, feature_version=version_of_features
            )
            frame = built.to_pandas()
        else:
            model = IntentModel.load(settings.models_dir, version)
            frame = read_table(table)
            if id_column not in frame.columns:
                raise FeatureMismatchError(f"no id column {id_column!r} in {table}")
        with console.status(f"scoring {len(frame):,} people with model {model.version}"):
            scored = score_table(
                model, frame, frame[id_column if table else "user_id"].tolist(), as_of=moment
            )
    except (RegistryError, FeatureMismatchError, OSError, ValueError) as exc:
        raise fail(str(exc), 1) from None
    path = out or os.path.join(
        settings.data_dir,
        "scores",
        f"as_of_date={moment:%Y-%m-%d}",
        f"intent-{model.version}.parquet",
    )
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        pq.write_table(scored, path)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc}", 1) from None
    summary = {
        "path": path,
        "rows": scored.num_rows,
        "high_intent": int(sum(scored["high_intent"].to_pylist())),
        "model_version": model.version,
        "threshold": model.threshold.value,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        console.print(
            f"{summary['rows']:,} people scored, {summary['high_intent']:,} high intent "
            f"(threshold {model.threshold.value:.3f}) -> {path}"
        )


@report_app.command("intent")
def report_intent(
    version: Annotated[
        str | None, typer.Argument(help="A model version (default: champion).")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Directory to write (default: DATA_DIR/reports/...).")
    ] = None,
) -> None:
    """An HTML report of an intent model: ROC and PR curves, calibration, SHAP summary,
    thresholds and the baselines, with PNG plots."""
    from intentflow.models.intent import KIND
    from intentflow.models.intent.report import write_report

    write_model_report(KIND, version, out, write_report)
