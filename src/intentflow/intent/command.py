"""``intentflow train intent``: the purchase-intent model on a table of your own features."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

train_app = typer.Typer(no_args_is_help=True, help="Train models: intent.")
console = Console(stderr=True)


@train_app.command("intent")
def intent(
    table: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation
        typer.Option("--table", help="CSV or Parquet of features with a label column."),
    ] = None,
    label: Annotated[str, typer.Option(help="The label column (binary).")] = "label",
    cv: Annotated[int, typer.Option("--cv", help="Stratified folds.", min=2)] = 5,
    trials: Annotated[int, typer.Option(help="Tuning trials per fold (Optuna TPE).", min=1)] = 30,
    inner_folds: Annotated[int, typer.Option(help="Inner folds for tuning.", min=2)] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the folds and the search.")] = 42,
    drop: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--drop", help="A column that is no feature (an id); repeat for several."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Cross-validate the tuned LightGBM model beside logistic regression on the same folds."""
    from intentflow.intent.crossval import cross_validate
    from intentflow.intent.table import TableError, prepare, read_table

    if table is None:
        console.print("[red]error:[/] training from the lake's features needs --table for now")
        raise typer.Exit(2)
    try:
        prepared = prepare(read_table(table), label, folds=cv, drop=tuple(drop or ()))
    except (TableError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None

    def on_fold(number: int, fold: dict[str, Any]) -> None:
        console.print(
            f"fold {number + 1}/{cv}: ROC-AUC {fold['model']['roc_auc']:.4f} "
            f"(logistic regression {fold['baseline']['roc_auc']:.4f})"
        )

    with console.status(f"{cv} folds x {trials} trials on {len(prepared.labels):,} rows"):
        result = cross_validate(
            prepared, folds=cv, trials=trials, inner_folds=inner_folds, seed=seed, on_fold=on_fold
        )
    result["model_version"] = None
    result["dropped"] = list(prepared.dropped)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    out = Table(title=f"intent model, {cv}-fold cross-validation ({result['rows']:,} rows)")
    for column in ("metric", "LightGBM (tuned)", "logistic regression"):
        out.add_column(column)
    for key in ("roc_auc", "pr_auc", "f1", "log_loss", "brier"):
        out.add_row(key, f"{result[key]:.4f}", f"{result[f'baseline_{key}']:.4f}")
    Console().print(out)
