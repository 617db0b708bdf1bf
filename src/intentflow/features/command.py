"""``intentflow features``: list the catalog, build a feature table, show one person."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from intentflow.config import Settings
from intentflow.features.catalog import FEATURES, catalog_version

features_app = typer.Typer(no_args_is_help=True, help="User features: list, build, show.")
console = Console(stderr=True)

AsOf = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation
    typer.Option("--as-of", help="Cutoff, ISO 8601 (UTC when no zone); default: now."),
]
EngineOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--engine", help="duckdb or spark (default: the configured engine)."),
]


def catalog_rows() -> list[dict[str, Any]]:
    """The catalog as plain rows: name, kind, stage, window, type, description."""
    return [
        {
            "name": f.name,
            "kind": type(f).__name__,
            "stage": f.stage,
            "window": f.window.name if f.window else None,
            "entity": f.entity,
            "type": f.output_dtype,
            "description": f.description,
        }
        for f in FEATURES
    ]


def catalog_markdown() -> str:
    """The catalog as a Markdown table (the README's feature list is this, checked by a test)."""
    lines = ["| feature | kind | window | type | what |", "|---|---|---|---|---|"]
    lines += [
        f"| `{r['name']}` | {r['kind']} | {r['window'] or ''} | {r['type']} | {r['description']} |"
        for r in catalog_rows()
    ]
    return "\n".join(lines)


def parse_as_of(text: str | None) -> datetime:
    """A cutoff from ISO 8601 text; a time without zone is UTC; none means now."""
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def make_engine(settings: Settings, name: str | None) -> Any:
    """The configured (or named) engine; Spark starts a session on the configured master."""
    from intentflow.features.engines import DuckDBEngine, SparkEngine, spark_session

    chosen = name or settings.features.engine
    if chosen == "duckdb":
        return DuckDBEngine(memory_limit=settings.features.duckdb_memory_limit)
    if chosen == "spark":
        return SparkEngine(spark_session(settings.features.spark_master))
    raise typer.BadParameter(f"unknown engine {chosen!r}: duckdb or spark")


@features_app.command("list")
def list_features(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
) -> None:
    """Every feature with its kind, window, type and description."""
    rows = catalog_rows()
    if markdown:
        sys.stdout.write(catalog_markdown() + "\n")
        return
    if as_json:
        sys.stdout.write(json.dumps({"version": catalog_version(), "features": rows}) + "\n")
        return
    table = Table(title=f"feature catalog {catalog_version()} ({len(rows)} features)")
    for column in ("name", "kind", "window", "type", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(str(row[c] or "") for c in ("name", "kind", "window", "type", "description"))
        )
    Console().print(table)


@features_app.command("build")
def build(
    as_of: AsOf = None,
    out: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Parquet file to write (default: DATA_DIR/features/as_of_date=...)."),
    ] = None,
    engine: EngineOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Everyone's features at a cutoff, from events strictly before it."""
    import time

    from intentflow.features.build import build_features, default_path, write_table
    from intentflow.lake.reader import Lake

    settings = Settings()
    moment = parse_as_of(as_of)
    started = time.perf_counter()
    with console.status(f"building features as of {moment.isoformat()}"):
        table = build_features(
            Lake(settings.lake_dir, settings.lake.storage_options),
            moment,
            engine=make_engine(settings, engine),
            gap_s=settings.features.session_gap_s,
        )
    path = out or default_path(settings.features_dir, moment, catalog_version())
    write_table(table, path)
    summary = {
        "path": path,
        "as_of": moment.isoformat(),
        "people": table.num_rows,
        "features": table.num_columns - 1,
        "version": catalog_version(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        console.print(
            f"{summary['people']:,} people x {summary['features']} features -> {path} "
            f"({summary['seconds']} s)"
        )


@features_app.command("show")
def show(
    user_id: Annotated[str, typer.Argument(help="A user id (or an anonymous id).")],
    as_of: AsOf = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One person's features at a cutoff, readable."""
    from intentflow.features.build import build_features
    from intentflow.lake.reader import Lake

    settings = Settings()
    moment = parse_as_of(as_of)
    table = build_features(
        Lake(settings.lake_dir, settings.lake.storage_options),
        moment,
        gap_s=settings.features.session_gap_s,
    )
    rows = [r for r in table.to_pylist() if r["user_id"] == user_id]
    if not rows:
        console.print(f"no events of {user_id!r} before {moment.isoformat()}")
        raise typer.Exit(1)
    row = rows[0]
    if as_json:
        sys.stdout.write(json.dumps(row, default=str) + "\n")
        return
    table_out = Table(title=f"{user_id} as of {moment.isoformat()}")
    table_out.add_column("feature")
    table_out.add_column("value", justify="right")
    table_out.add_column("description")
    for feature in FEATURES:
        value = row[feature.name]
        shown = (
            f"{value:.4g}" if isinstance(value, float) else str(value if value is not None else "")
        )
        table_out.add_row(feature.name, shown, feature.description)
    Console().print(table_out)
