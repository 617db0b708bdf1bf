"""``intentflow features``: list the catalog, build a feature table, show one person."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from intentflow.config import Settings
from intentflow.features.catalog import FEATURES, catalog_version

if TYPE_CHECKING:
    from intentflow.lake.reader import Lake

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
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def make_engine(settings: Settings, name: str | None) -> Any:
    """The configured (or named) engine; Spark starts a session on the configured master."""
    from intentflow.features.engines import configured_engine

    try:
        return configured_engine(settings, name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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


SkipCorrupt = Annotated[
    bool,
    typer.Option(
        "--skip-corrupt", help="Leave out lake files that cannot be read, with a warning."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print a JSON summary.")]


def _lake(settings: Settings) -> Lake:
    from intentflow.lake.reader import Lake

    return Lake(settings.lake_dir, settings.lake.storage_options)


@contextmanager
def _stop_on_corrupt_files() -> Iterator[None]:
    """A corrupt lake file ends the command with its name and the way around it."""
    from intentflow.lake.reader import CorruptFileError

    try:
        yield
    except CorruptFileError as exc:
        console.print(f"[red]error:[/] {exc}\n(--skip-corrupt leaves them out)")
        raise typer.Exit(1) from None


def _finish(
    table: Any, path: str, summary: dict[str, Any], as_json: bool, lake: Lake, as_of: datetime
) -> None:
    """Warn about skipped files and unknown event types (before ``as_of``); print the
    summary."""
    from intentflow.features.build import skipped_files, type_counts, unknown_types

    summary["skipped_files"] = skipped_files(table)
    readable = lake.excluding(set(summary["skipped_files"]))
    summary["unknown_types"] = unknown_types(type_counts(readable, as_of))
    for file in summary["skipped_files"]:
        console.print(f"[yellow]warning:[/] skipped corrupt lake file {file}")
    if summary["unknown_types"]:
        listed = ", ".join(f"{k} ({n:,})" for k, n in summary["unknown_types"].items())
        console.print(
            f"[yellow]note:[/] events of unknown types, counted only by the all-events "
            f"features: {listed}"
        )
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        console.print(
            f"{summary['rows']:,} rows x {summary['features']} features -> {path} "
            f"({summary['seconds']} s)"
        )


@features_app.command("build")
def build(
    as_of: AsOf = None,
    out: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Parquet file to write (default: DATA_DIR/features/as_of_date=...)."),
    ] = None,
    engine: EngineOption = None,
    skip_corrupt: SkipCorrupt = False,
    as_json: AsJson = False,
) -> None:
    """Everyone's features at a cutoff, from events strictly before it."""
    from intentflow.features.build import build_features, default_path, write_table

    settings = Settings()
    moment = parse_as_of(as_of)
    lake = _lake(settings)
    started = time.perf_counter()
    with console.status(f"building features as of {moment.isoformat()}"), _stop_on_corrupt_files():
        table = build_features(
            lake,
            moment,
            engine=make_engine(settings, engine),
            gap_s=settings.features.session_gap_s,
            skip_corrupt=skip_corrupt,
        )
    path = out or default_path(settings.features_dir, moment, catalog_version())
    write_table(table, path)
    summary = {
        "path": path,
        "as_of": moment.isoformat(),
        "people": table.num_rows,
        "rows": table.num_rows,
        "features": table.num_columns - 1,
        "version": catalog_version(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _finish(table, path, summary, as_json, lake, moment)


def cutoffs_from_options(
    cutoff: list[str] | None, start: str | None, end: str | None, every: str
) -> list[datetime]:
    """Distinct UTC cutoffs from ``--cutoff`` (repeated) and rolling ``--from/--to/--every``."""
    from intentflow.features.labels import Within, parse_horizon
    from intentflow.features.training import rolling_cutoffs
    from intentflow.lake.reader import as_utc

    try:
        step = parse_horizon(every)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    moments = [parse_as_of(c) for c in cutoff or []]
    if start or end:
        if not (start and end) or not isinstance(step, Within):
            raise typer.BadParameter("rolling cutoffs need --from, --to and a span for --every")
        first, last = parse_as_of(start), parse_as_of(end)
        if first > last:
            raise typer.BadParameter(f"--from {start} is after --to {end}")
        moments += rolling_cutoffs(first, last, step.span)
    if not moments:
        raise typer.BadParameter("give --cutoff, or --from and --to")
    return sorted({as_utc(m) for m in moments})


@features_app.command("training-set")
def training(
    out: Annotated[str, typer.Option(help="Parquet file to write.")],
    cutoff: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--cutoff", help="A cutoff, ISO 8601 (repeat for several)."),
    ] = None,
    start: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--from", help="First rolling cutoff, ISO 8601."),
    ] = None,
    end: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--to", help="Last rolling cutoff, ISO 8601."),
    ] = None,
    every: Annotated[str, typer.Option(help="Step between rolling cutoffs (1h, 1d...).")] = "1d",
    horizon: Annotated[
        str, typer.Option(help="session (the rest of it), or a span: 30m, 24h...")
    ] = "24h",
    label: Annotated[str, typer.Option(help="What the label is: purchase, add_to_cart.")] = (
        "purchase"
    ),
    engine: EngineOption = None,
    skip_corrupt: SkipCorrupt = False,
    as_json: AsJson = False,
) -> None:
    """Rows of (person, cutoff, features, label) over one or more cutoffs: features from
    events strictly before each cutoff, the label from the horizon after it."""
    from intentflow.features.build import write_table
    from intentflow.features.labels import LABELS, parse_horizon
    from intentflow.features.training import training_set

    settings = Settings()
    try:
        span = parse_horizon(horizon)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if label not in LABELS:
        raise typer.BadParameter(f"unknown label {label!r}: {', '.join(LABELS)}")
    distinct = cutoffs_from_options(cutoff, start, end, every)
    lake = _lake(settings)
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress, _stop_on_corrupt_files():
        task = progress.add_task("cutoffs", total=len(distinct))
        table = training_set(
            lake,
            cutoffs=distinct,
            horizon=span,
            label=LABELS[label],
            engine=make_engine(settings, engine),
            gap_s=settings.features.session_gap_s,
            skip_corrupt=skip_corrupt,
            progress=lambda _: progress.advance(task),
        )
    write_table(table, out)
    labels = table["label"].to_pylist()
    summary = {
        "path": out,
        "as_of": ",".join(m.isoformat() for m in distinct),
        "cutoffs": len(distinct),
        "rows": table.num_rows,
        "positives": sum(labels),
        "label": label,
        "horizon": span.name,
        "features": table.num_columns - 3,
        "version": catalog_version(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _finish(table, out, summary, as_json, lake, distinct[-1])


@features_app.command("show")
def show(
    user_id: Annotated[str, typer.Argument(help="A user id (or an anonymous id).")],
    as_of: AsOf = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One person's features at a cutoff, readable."""
    from intentflow.features.build import build_features

    settings = Settings()
    moment = parse_as_of(as_of)
    table = build_features(_lake(settings), moment, gap_s=settings.features.session_gap_s)
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
