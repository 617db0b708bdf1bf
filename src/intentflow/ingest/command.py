"""The ``intentflow ingest`` command: a mapping from flags, a progress bar, a report."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from intentflow.config import Settings
from intentflow.ingest.importer import import_file
from intentflow.ingest.presets import PRESETS, CsvOptions, Format, Mapping, Preset, TimeUnit


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, target = value.partition("=")
        if not sep or not key or not target:
            raise ValueError(f"{what} must look like KEY=VALUE, got {value!r}")
        out[key.strip()] = target.strip()
    return out


def run_import(
    path: Path,
    settings: Settings,
    *,
    fmt: str | None,
    preset: str | None,
    fields: list[str],
    type_column: str | None,
    type_map: list[str],
    event_type: str | None,
    timestamp: str | None,
    time_unit: str,
    delimiter: str,
    workers: int | None,
    console: Console,
) -> dict[str, Any]:
    """Import ``path`` with a preset or a mapping built from flags; print and return the report."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    mapping = None
    if fields or type_column or event_type:
        mapping = Mapping(
            fields=_pairs(fields, "--map"),
            type_column=type_column,
            type_values=_pairs(type_map, "--type-map"),
            type=event_type,
            timestamp=timestamp,
            time_unit=cast(TimeUnit, time_unit),
        )
        if preset is None and delimiter != ",":
            PRESETS["_flags"] = Preset("_flags", "csv", mapping, CsvOptions(delimiter=delimiter))
            preset = "_flags"
    size = path.stat().st_size
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        console=console,
    ) as progress:
        task = progress.add_task("import", total=size, rows=0)
        report = import_file(
            path,
            settings,
            fmt=cast(Format | None, fmt),
            preset=preset,
            mapping=mapping,
            workers=workers,
            progress=lambda done, rows: progress.update(task, completed=done, rows=rows),
        )
        progress.update(task, completed=size)
    console.print(
        f"read {report.rows:,} rows: {report.accepted:,} accepted, "
        f"{report.quarantined:,} quarantined, {report.duplicates:,} duplicates, "
        f"{report.files} files, {report.seconds:.1f}s ({report.events_per_s:,.0f} events/s)"
    )
    for reason, count in report.reasons.items():
        console.print(f"  {count:,} x {reason}")
    data = asdict(report)
    data["events_per_s"] = round(report.events_per_s)
    return data
