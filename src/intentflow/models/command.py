"""``intentflow models``: the registry's versions, champion, promotion and rollback."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from intentflow.config import Settings
from intentflow.models.registry import Registry, RegistryError

models_app = typer.Typer(
    no_args_is_help=True, help="Model registry: list, show, promote, roll back."
)
report_app = typer.Typer(no_args_is_help=True, help="Reports as HTML with PNG plots.")
console = Console(stderr=True)


def write_model_report(
    kind: str, version: str | None, out: str | None, write: Callable[[Path, Path], Path]
) -> None:
    """Write the report of a registered version (default: the champion) with
    ``write(version_folder, out_dir)`` into ``out`` (default: DATA_DIR/reports/KIND-VERSION)."""
    settings = Settings()
    try:
        info = Registry(settings.models_dir).info(kind, version)
    except RegistryError as exc:
        raise fail(str(exc), 1) from None
    target = Path(out or os.path.join(settings.data_dir, "reports", f"{kind}-{info.version}"))
    try:
        with console.status(f"writing the {kind} report"):
            index = write(info.path, target)
    except (OSError, ValueError, KeyError) as exc:
        raise fail(f"cannot write the report to {target}: {exc}", 1) from None
    console.print(f"report: {index}")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error; the exit to raise (code 2: bad input, 1: failure)."""
    console.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


Kind = Annotated[str, typer.Option(help="The kind of model: intent, segments.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _registry() -> Registry:
    return Registry(Settings().models_dir)


HEADLINES: dict[str, tuple[str, ...]] = {
    "intent": ("learner", "roc_auc", "pr_auc", "rows"),
    "segments": ("algorithm", "k", "silhouette", "people"),
}
"""What ``models list`` shows of each kind, besides the version and feature version."""


def _headline(kind: str, meta: dict[str, Any]) -> dict[str, Any]:
    known = {
        **meta,
        **meta.get("metrics", {}).get("model", {}),
        "rows": meta.get("data", {}).get("rows"),
    }
    return {
        "version": meta.get("version"),
        "created_at": meta.get("created_at"),
        **{key: known.get(key) for key in HEADLINES.get(kind, ())},
        "feature_version": meta.get("feature_version"),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


@models_app.command("list")
def list_models(kind: Kind = "intent", as_json: AsJson = False) -> None:
    """Every version, oldest first, the champion marked."""
    rows = [
        {**_headline(kind, info.meta), "champion": info.champion}
        for info in _registry().versions(kind)
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title=f"{kind} models")
    columns = ("version", "champion", *HEADLINES.get(kind, ()), "feature_version")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                "*" if c == "champion" and row[c] else "" if c == "champion" else _cell(row[c])
                for c in columns
            )
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
