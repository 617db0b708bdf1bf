"""``intentflow demo``: the whole embedded pipeline on one laptop, in one command.

It starts the collector in this process, sends events to it over HTTP (simulated, or a real file),
waits for the background flusher to move them into the lake, and prints what the lake holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from intentflow.collect.server import BackgroundServer
from intentflow.config import Settings
from intentflow.lake.reader import Lake
from intentflow.lake.stats import lake_stats, stats_table


def run_demo(
    settings: Settings,
    *,
    console: Console,
    users: int = 500,
    days: int = 7,
    seed: int = 42,
    data: Path | None = None,
    data_format: str | None = None,
) -> dict[str, Any]:
    """Run the demo; returns the lake statistics it printed."""
    from intentflow.simulate.sinks import send_http

    events: Iterable[dict[str, Any]]
    if data is not None:
        from intentflow.ingest.importer import native_rows
        from intentflow.ingest.presets import PRESETS

        preset = data_format if data_format in PRESETS else None
        fmt = None if preset else data_format
        events = native_rows(data, fmt=fmt, preset=preset)  # type: ignore[arg-type]
        label = f"sending {data.name}"
    else:
        from intentflow.simulate.clickstream import SimulationConfig, simulate

        events = simulate(SimulationConfig(users=users, days=days, seed=seed))
        label = f"sending {users:,} simulated people x {days} days"
    key = settings.write_keys[0]
    console.rule("intentflow demo")
    console.print(f"data dir: {Path(settings.data_dir).resolve()}")
    with BackgroundServer(settings) as server:
        console.print(f"collector listening on {server.url}")
        with Progress(
            TextColumn(label),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("send", total=None)
            totals = send_http(
                events,
                server.url,
                key,
                batch_size=500,
                progress=lambda n: progress.advance(task, n),
            )
        console.print(
            f"collector: {totals['accepted']:,} accepted, {totals['duplicates']:,} duplicates, "
            f"{totals['rejected']:,} rejected"
        )
        waited = _wait_for_flush(server.url, settings.flush.max_age_s + 10)
        console.print(f"flusher moved the log into the lake in {waited:.1f}s")
    stats = lake_stats(Lake(settings.lake_dir, settings.lake.storage_options))
    Console().print(stats_table(stats))
    return stats


def _wait_for_flush(url: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = httpx.get(url + "/readyz").json()
        if state.get("backlog_bytes", 1) == 0:
            break
        time.sleep(0.2)
    return time.monotonic() - started
