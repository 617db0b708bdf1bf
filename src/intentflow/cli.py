"""The ``intentflow`` command. Thin: every command calls into a stage package."""

from __future__ import annotations

import json
import os
import runpy
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from intentflow.config import Settings
from intentflow.features.command import features_app
from intentflow.feedback import command as feedback_command  # noqa: F401 (its report command)
from intentflow.items.command import items_app
from intentflow.models.command import models_app, report_app
from intentflow.models.intent.command import score, train_app
from intentflow.models.segments.command import segment
from intentflow.recommend.command import evaluate_app
from intentflow.stream.command import stream_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
lake_app = typer.Typer(no_args_is_help=True, help="Inspect and maintain the event lake.")
quarantine_app = typer.Typer(no_args_is_help=True, help="Rejected events: list and replay.")
app.add_typer(lake_app, name="lake")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(features_app, name="features")
app.add_typer(train_app, name="train")
app.add_typer(models_app, name="models")
app.add_typer(report_app, name="report")
app.add_typer(stream_app, name="stream")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(items_app, name="items")
app.command("score")(score)
app.command("segment")(segment)
console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on the last line.")]


def _settings() -> Settings:
    return Settings()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def _progress(total: int | None, label: str) -> Progress:
    columns: list[Any] = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    return Progress(
        *columns,
        console=console,
        transient=False,
        disable=not console.is_terminal and total is None,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
) -> None:
    """Run the collector, the stream processor and the read API until SIGTERM."""
    from intentflow.collect.server import serve as run

    run(_settings(), host, port)


@app.command()
def schema() -> None:
    """Print the JSON Schema of an event."""
    from intentflow.events import event_json_schema

    _print_json(event_json_schema())


@app.command()
def simulate(
    users: Annotated[int, typer.Option(help="Simulated people.")] = 1000,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 7,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same events.")
    ] = 42,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD, UTC); default: DAYS ago.")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Write JSON lines here ('-' for stdout).")] = None,
    to: Annotated[
        str | None, typer.Option(help="Send to the collector at this URL instead.")
    ] = None,
    write_key: Annotated[Optional[str], typer.Option(help="Write key for --to.")] = None,  # noqa: UP045
    speedup: Annotated[Optional[float], typer.Option(help="Replay at X times real time.")] = None,  # noqa: UP045
    batch: Annotated[int, typer.Option(help="Events per HTTP request.")] = 100,
) -> None:
    """Generate a realistic synthetic clickstream."""
    from intentflow.simulate.clickstream import SimulationConfig
    from intentflow.simulate.clickstream import simulate as generate
    from intentflow.simulate.sinks import send_http, write_jsonl

    if (out is None) == (to is None):
        raise typer.BadParameter("give exactly one of --out PATH or --to URL")
    first = datetime.fromisoformat(start).replace(tzinfo=UTC) if start else None
    events = generate(SimulationConfig(users=users, days=days, seed=seed, start=first))
    with _progress(None, "simulating") as progress:
        task = progress.add_task("events", total=None)
        step = lambda n: progress.advance(task, n)  # noqa: E731
        if out is not None:
            count = write_jsonl(events, out, progress=step)
            console.print(f"wrote {count:,} events to {out}")
        else:
            key = write_key or _settings().write_keys[0]
            totals = send_http(
                events, to or "", key, batch_size=batch, speedup=speedup, progress=step
            )
            console.print(f"sent {totals['sent']:,} events: {totals}")


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to import.")],
    format: Annotated[str | None, typer.Option("--format", help="csv, jsonl or parquet.")] = None,
    preset: Annotated[
        str | None, typer.Option(help="taobao, yoochoose, diginetica or movielens.")
    ] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="FIELD=COLUMN, repeatable.")
    ] = None,
    type_column: Annotated[str | None, typer.Option(help="Column holding the event type.")] = None,
    type_map: Annotated[Optional[list[str]], typer.Option(help="VALUE=TYPE, repeatable.")] = None,  # noqa: UP045
    event_type: Annotated[
        str | None, typer.Option("--type", help="One type for every row.")
    ] = None,
    timestamp: Annotated[Optional[str], typer.Option(help="Column holding the event time.")] = None,  # noqa: UP045
    time_unit: Annotated[str, typer.Option(help="s, ms, us or iso.")] = "s",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: cores).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a CSV, JSON-lines or Parquet file into the lake, validating every row."""
    from intentflow.ingest.command import run_import

    report = run_import(
        path,
        _settings(),
        fmt=format,
        preset=preset,
        fields=map_ or [],
        type_column=type_column,
        type_map=type_map or [],
        event_type=event_type,
        timestamp=timestamp,
        time_unit=time_unit,
        delimiter=delimiter,
        workers=workers,
        console=console,
    )
    if as_json:
        _print_json(report)


@lake_app.command("stats")
def lake_stats(as_json: JsonFlag = False) -> None:
    """Events by day and type, people, items, files."""
    from intentflow.lake.reader import Lake
    from intentflow.lake.stats import lake_stats as compute
    from intentflow.lake.stats import stats_table

    settings = _settings()
    stats = compute(Lake(settings.lake_dir, settings.lake.storage_options))
    if as_json:
        _print_json(stats)
        return
    Console().print(stats_table(stats))


@lake_app.command("compact")
def lake_compact(
    date: Annotated[Optional[str], typer.Option(help="Only this partition (YYYY-MM-DD).")] = None,  # noqa: UP045
    as_json: JsonFlag = False,
) -> None:
    """Merge each partition's small files into larger ones, without loss or duplicates."""
    from intentflow.lake.compact import compact
    from intentflow.lake.reader import Lake

    settings = _settings()
    lake = Lake(settings.lake_dir, settings.lake.storage_options)
    before = len(lake.files())
    reports = compact(
        lake,
        target_bytes=settings.lake.compact_target_bytes,
        compression=settings.lake.compression,
        date=date,
    )
    after = len(lake.files())
    summary = {"files_before": before, "files_after": after, "merges": reports}
    if as_json:
        _print_json(summary)
    else:
        console.print(f"compacted {len(reports)} groups: {before} files -> {after}")


@quarantine_app.command("list")
def quarantine_list(
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    reason: Annotated[str | None, typer.Option(help="Only reasons containing this text.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Rejected events with their reasons."""
    import msgspec

    from intentflow.collect.quarantine import QuarantineStore

    records = [
        r
        for r in QuarantineStore(_settings().quarantine_dir).records()
        if reason is None or reason in r.reason
    ]
    if as_json:
        _print_json(
            {"total": len(records), "records": [msgspec.to_builtins(r) for r in records[:limit]]}
        )
        return
    table = Table("id", "when", "source", "index", "reason", "payload")
    for r in records[:limit]:
        table.add_row(
            r.id[:12],
            r.quarantined_at.isoformat(timespec="seconds"),
            r.source,
            str(r.index),
            r.reason,
            r.raw[:60],
        )
    Console().print(table)
    console.print(f"{len(records):,} quarantined event(s)")


@quarantine_app.command("replay")
def quarantine_replay(
    ids: Annotated[Optional[list[str]], typer.Argument(help="Record ids (or id prefixes).")] = None,  # noqa: UP045
    all_: Annotated[bool, typer.Option("--all", help="Replay every record.")] = False,
    patch: Annotated[
        str | None, typer.Option(help="JSON merge patch applied to each payload.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate quarantined events again; those that pass go to the lake."""
    from dataclasses import asdict

    from intentflow.collect.quarantine import QuarantineStore
    from intentflow.collect.replay import replay

    settings = _settings()
    if not ids and not all_:
        raise typer.BadParameter("name record ids or pass --all")
    selected = None
    if ids:
        known = [r.id for r in QuarantineStore(settings.quarantine_dir).records()]
        selected = [k for k in known if any(k.startswith(prefix) for prefix in ids)]
    report = replay(settings, selected, patch=json.loads(patch) if patch else None)
    if as_json:
        _print_json(asdict(report))
    else:
        console.print(
            f"replayed {report.replayed}, already in lake {report.already_in_lake}, "
            f"still rejected {report.still_rejected}"
        )


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="Simulated people.")] = 500,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    data: Annotated[Optional[Path], typer.Option(help="Send this real file instead.")] = None,  # noqa: UP045
    format: Annotated[
        str | None, typer.Option("--format", help="Its format or preset (taobao, ...).")
    ] = None,
    live_users: Annotated[
        int, typer.Option(help="Simulated people of the live replay (0: no replay).")
    ] = 300,
    speedup: Annotated[
        float, typer.Option(help="How much faster than real time the live day is replayed.")
    ] = 2_880.0,
    keep_serving: Annotated[
        bool, typer.Option(help="Leave the API running at the end, until Ctrl-C.")
    ] = False,
) -> None:
    """The whole pipeline on this machine: collect, lake, features, intent model, segments, then
    a live replay through the stream processor with intent crossings and trending items, and
    the running API's recommendations for a person of high intent, a casual one and a new one."""
    from intentflow.demo import run_demo

    run_demo(
        _settings(),
        console=console,
        users=users,
        days=days,
        seed=seed,
        data=data,
        data_format=format,
        live_users=live_users,
        speedup=speedup,
        keep_serving=keep_serving,
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Benchmark name (a script in benchmarks/).")],
) -> None:
    """Run one benchmark; it prints a summary and one JSON object on its last line."""
    folder = Path(os.environ.get("INTENTFLOW_BENCHMARKS", Path(__file__).parents[2] / "benchmarks"))
    script = folder / f"{name}.py"
    if not script.exists():
        names = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
        raise typer.BadParameter(f"no benchmark {name!r}; known: {', '.join(names)}")
    sys.argv = [str(script), *ctx.args]
    sys.path.insert(0, str(folder))
    runpy.run_path(str(script), run_name="__main__")


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
