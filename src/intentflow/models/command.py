"""``intentflow models``: the registry's versions, champion, promotion and rollback."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from intentflow.config import Settings
from intentflow.models.registry import Registry, RegistryError

models_app = typer.Typer(
    no_args_is_help=True, help="Model registry: list, show, promote, roll back."
)
console = Console(stderr=True)

Kind = Annotated[str, typer.Option(help="The kind of model: intent, segments.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _registry() -> Registry:
    return Registry(Settings().models_dir)


def _headline(meta: dict[str, Any]) -> dict[str, Any]:
    metrics = meta.get("metrics", {}).get("model", {})
    return {
        "version": meta.get("version"),
        "created_at": meta.get("created_at"),
        "learner": meta.get("learner"),
        "feature_version": meta.get("feature_version"),
        "roc_auc": metrics.get("roc_auc"),
        "pr_auc": metrics.get("pr_auc"),
        "rows": meta.get("data", {}).get("rows"),
    }


@models_app.command("list")
def list_models(kind: Kind = "intent", as_json: AsJson = False) -> None:
    """Every version, oldest first, the champion marked."""
    rows = [
        {**_headline(info.meta), "champion": info.champion} for info in _registry().versions(kind)
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title=f"{kind} models")
    for column in (
        "version",
        "champion",
        "learner",
        "roc_auc",
        "pr_auc",
        "rows",
        "feature_version",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["version"],
            "*" if row["champion"] else "",
            str(row["learner"] or ""),
            *(f"{row[k]:.4f}" if isinstance(row[k], float) else "" for k in ("roc_auc", "pr_auc")),
            f"{row['rows']:,}" if row["rows"] else "",
            str(row["feature_version"] or ""),
        )
    Console().print(table)


@models_app.command("show")
def show(
    version: Annotated[
        str | None, typer.Argument(help="A version (default: the champion).")
    ] = None,
    kind: Kind = "intent",
) -> None:
    """A version's metadata as JSON."""
    try:
        info = _registry().info(kind, version)
    except RegistryError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    sys.stdout.write(json.dumps({**info.meta, "champion": info.champion}, indent=2) + "\n")


@models_app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    kind: Kind = "intent",
) -> None:
    """Make a version the champion (the one it replaces can be rolled back to)."""
    try:
        _registry().promote(kind, version)
    except RegistryError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"{kind} champion: {version}")


@models_app.command("rollback")
def rollback(kind: Kind = "intent") -> None:
    """Bring back the previous champion."""
    try:
        version = _registry().rollback(kind)
    except RegistryError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"{kind} champion: {version}")
