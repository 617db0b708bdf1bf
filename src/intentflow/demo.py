"""``intentflow demo``: the whole embedded pipeline on one laptop, in one command.

It starts the collector in this process, sends events to it over HTTP (simulated, or a real file),
waits for the background flusher to move them into the lake, and prints what the lake holds. Then
it builds everyone's features, trains the intent model on the lake's history (its test scores
beside logistic regression and the add-to-cart rule), prints the reasons behind two people's
scores and writes the model's report. Then it segments everyone by behavior, prints the
segments with their sizes and names, and writes the segments report. Last, it replays a fresh
day of events into the running server, ``speedup`` times faster than real time, and prints, as
the stream processor keeps up, the people whose intent crosses the model's threshold (with their
reasons) and what is trending; and it ends by asking the running API for the recommendations of
a person of high intent, a casual one and a new one, printed with their strategies and reasons
(``keep_serving`` leaves the API up afterwards, until Ctrl-C).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

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
    live_users: int = 300,
    speedup: float = 2_880.0,
    keep_serving: bool = False,
) -> dict[str, Any]:
    """Run the demo; returns the lake statistics it printed, with what each step found."""
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
    lake = Lake(settings.lake_dir, settings.lake.storage_options)
    stats = lake_stats(lake)
    Console().print(stats_table(stats))
    stats["features"] = _features(settings, lake, stats["last_event"], console)
    stats["intent"] = _intent(settings, stats["features"], console)
    stats["segments"] = _segments(settings, stats["features"], console)
    if live_users:
        stats["live"] = _live(
            settings,
            console,
            users=live_users,
            speedup=speedup,
            seed=seed,
            keep_serving=keep_serving,
        )
    return stats


SHOWN: Final = (
    "events_24h",
    "sessions_30d",
    "orders_90d",
    "revenue_90d",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "top_category_1",
)
"""The features the demo prints for its most active people."""


def _features(
    settings: Settings, lake: Lake, last_event: str | None, console: Console
) -> dict[str, Any]:
    """Build everyone's features just after the last event and print the most active people."""
    from datetime import datetime, timedelta

    from rich.table import Table

    from intentflow.features.build import build_features, default_path, write_table
    from intentflow.features.catalog import catalog_version

    if last_event is None:
        return {"people": 0}
    as_of = datetime.fromisoformat(last_event) + timedelta(seconds=1)
    started = time.monotonic()
    table = build_features(lake, as_of, gap_s=settings.features.session_gap_s)
    path = default_path(settings.features_dir, as_of, catalog_version())
    write_table(table, path)
    console.print(
        f"features: {table.num_rows:,} people x {table.num_columns - 1} features as of "
        f"{as_of.isoformat()} in {time.monotonic() - started:.1f}s -> {path}"
    )
    rows = sorted(table.to_pylist(), key=lambda r: (-r["events_30d"], r["user_id"]))[:5]
    shown = Table(title="most active people (intentflow features show USER_ID for all)")
    for column in ("user_id", *SHOWN):
        shown.add_column(column)
    for row in rows:
        values = [row[c] for c in ("user_id", *SHOWN)]
        shown.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in values))
    Console().print(shown)
    return {"people": table.num_rows, "path": path, "as_of": as_of.isoformat()}


def _intent(settings: Settings, features: dict[str, Any], console: Console) -> dict[str, Any]:
    """Train the intent model on the lake (a 24-hour purchase label at daily cutoffs),
    print its test scores, two people's reasons, and write its report."""
    from datetime import timedelta

    import pandas as pd

    from intentflow.features.labels import Within
    from intentflow.models.intent import KIND
    from intentflow.models.intent.champion import train_and_register
    from intentflow.models.intent.command import summary_table
    from intentflow.models.intent.lake import RULE_COLUMN, lake_table
    from intentflow.models.intent.model import IntentModel
    from intentflow.models.intent.report import write_report
    from intentflow.models.intent.table import TableError
    from intentflow.models.intent.train import TrainOptions, default_split
    from intentflow.models.registry import Registry

    if not features.get("people"):
        return {}
    started = time.monotonic()
    try:
        with console.status("intent model: training set"):
            table = lake_table(
                settings, horizon=Within(timedelta(hours=24)), every=timedelta(hours=24)
            )
        options = TrainOptions(trials=10, split=default_split(table), rule=RULE_COLUMN)
        with console.status(f"intent model: {options.trials} trials on {len(table.labels):,} rows"):
            result = train_and_register(
                Registry(settings.models_dir),
                table,
                options,
                metric=settings.models.promote_metric,
                margin=settings.models.promote_margin,
            )
    except (TableError, ValueError) as exc:
        console.print(f"intent model: not trained ({exc})")
        return {}
    console.print(
        f"intent model {result['model_version']}: {len(table.labels):,} rows "
        f"({table.positives:,} bought within 24h), {options.split} split, "
        f"{time.monotonic() - started:.1f}s"
    )
    Console().print(summary_table(result))
    registry = Registry(settings.models_dir)
    info = registry.info(KIND)
    model = IntentModel.load(info.path)
    people = pd.read_parquet(features["path"])
    scored = model.explain(people)
    order = sorted(range(len(scored)), key=lambda i: -scored[i].probability)
    for i in (order[0], order[len(order) // 2]):
        person = scored[i]
        kind = "high intent" if person.high_intent else "casual"
        why = "because" if person.reasons else "no feature moves this score much"
        console.print(
            f"{people['user_id'].iloc[i]}: intent {person.probability:.2f} ({kind}), {why}"
        )
        for reason in person.reasons:
            console.print(f"  - {reason.words()}")
    report = write_report(info.path, Path(settings.data_dir) / "reports" / f"intent-{info.version}")
    console.print(f"intent report: {report}")
    return {**result, "report": str(report)}


def _segments(settings: Settings, features: dict[str, Any], console: Console) -> dict[str, Any]:
    """Segment everyone on their features (k chosen by silhouette), print the segments with
    their sizes and names, and write the segments report."""
    import pyarrow.parquet as pq

    from intentflow.models.registry import Registry
    from intentflow.models.segments.build import register, segment, summary
    from intentflow.models.segments.command import segments_table
    from intentflow.models.segments.inputs import SegmentError, from_features
    from intentflow.models.segments.model import KIND
    from intentflow.models.segments.report import write_report

    if not features.get("people"):
        return {}
    try:
        with console.status("segments: choosing k and clustering") as status:
            people = from_features(pq.read_table(features["path"]))
            result = segment(people, on_step=status.update)
            registry = Registry(settings.models_dir)
            version = register(registry, result)
    except SegmentError as exc:
        console.print(f"segments: not built ({exc})")
        return {}
    out = summary(result, version)
    Console().print(segments_table(out, result.profiles))
    folder = registry.info(KIND, version).path
    report = write_report(folder, Path(settings.data_dir) / "reports" / f"segments-{version}")
    console.print(f"segments report: {report}")
    return {**out, "report": str(report)}


def _live(
    settings: Settings,
    console: Console,
    *,
    users: int,
    speedup: float,
    seed: int,
    keep_serving: bool = False,
) -> dict[str, Any]:
    """Replay a fresh simulated day into a running server at ``speedup`` times real time; print
    intent crossings and the trending items as the stream applies the events."""
    import threading
    from datetime import UTC, datetime

    from intentflow.features.kinds import MICROS
    from intentflow.simulate.clickstream import SimulationConfig, simulate
    from intentflow.simulate.sinks import send_http

    events = list(simulate(SimulationConfig(users=users, days=1, seed=seed + 1)))
    console.rule(f"live: {len(events):,} events of a day, replayed {speedup:,.0f}x")
    sent: dict[str, int] = {}
    with BackgroundServer(settings) as server:
        stream = server.runtime.stream
        if stream is None:
            console.print("live: the stream is disabled (INTENTFLOW_STREAM__ENABLED=false)")
            return {}

        def replay() -> None:
            sent.update(send_http(events, server.url, settings.write_keys[0], speedup=speedup))

        sender = threading.Thread(target=replay, name="replay", daemon=True)
        sender.start()
        scorer, processor, runner = stream.scorer, stream.processor, stream.runner
        seen, shown, trending = 0, 0, []
        next_trend = time.monotonic() + 3
        while sender.is_alive() or runner.stats.events + runner.stats.late < sent.get(
            "accepted", 0
        ):
            time.sleep(0.2)
            fresh = min(scorer.crossed - seen, len(scorer.crossings))
            for person, score in list(scorer.crossings)[len(scorer.crossings) - fresh :]:
                if shown < 12:
                    console.print(f"[bold]{person}[/] crossed into high intent: {score.score:.2f}")
                    for reason in score.words()[:3]:
                        console.print(f"    {reason}")
                shown += 1
            seen = scorer.crossed
            if time.monotonic() >= next_trend and processor.latest_us is not None:
                next_trend = time.monotonic() + 3
                trending = stream.trending.top("1h", 5, processor.latest_us)
                at = datetime.fromtimestamp(processor.latest_us / MICROS, UTC)
                items = ", ".join(f"{item} ({score:.0f})" for item, score in trending)
                console.print(f"trending at {at:%a %H:%M} (last hour): {items or 'nothing yet'}")
        stats = runner.stats
        console.print(
            f"live: {stats.events:,} events applied ({stats.late:,} late), {stats.scored:,} "
            f"scores, {seen:,} people crossed into high intent; freshness p99 "
            f"{stats.freshness()['p99']} ms"
        )
        shown_recs = _recommendations(settings, server, events, console)
        if keep_serving:
            console.print(
                f"the API stays up at {server.url} (Ctrl-C ends it): curl -H 'Authorization: "
                f"Bearer {settings.api_keys[0]}' {server.url}/v1/recommendations/USER_ID"
            )
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return {
        "events": stats.events,
        "late": stats.late,
        "scored": stats.scored,
        "crossings": seen,
        "trending": trending,
        "recommendations": shown_recs,
    }


def _recommendations(
    settings: Settings, server: BackgroundServer, events: list[dict[str, Any]], console: Console
) -> dict[str, Any]:
    """Ask the running API for the recommendations of a person of high intent, a casual one and
    a new one (on the page of a trending item), and print each with its strategy and reasons."""
    runtime = server.runtime
    recommender, people = runtime.recommender, runtime.people
    if recommender is None or people is None:
        return {}
    recommender.learner.wait(60)
    now_us = recommender.now_us()
    high: str | None = None
    casual: str | None = None
    for person in dict.fromkeys(str(e.get("user_id") or e.get("anonymous_id")) for e in events):
        state = people.get(person)
        if state is None or state.intent is None or state.trail is None:
            continue
        if state.intent.high_intent and high is None:
            high = person
        elif not state.intent.high_intent and casual is None:
            values = state.values(now_us)
            if (values.get("events_30d") or 0) >= recommender.policy.min_events:
                casual = person
        if high and casual:
            break
    trending = recommender.trends.top("1h", now_us)
    page = trending[0][0] if trending else None
    asked: dict[str, str | None] = {
        "high intent": high,
        "casual": casual,
        "new": "first-time-visitor",
    }
    console.rule("recommendations from the running API")
    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {settings.api_keys[0]}"}
    for kind, who in asked.items():
        if who is None:
            console.print(f"{kind}: no such who in this replay")
            continue
        params: dict[str, Any] = {"n": 5}
        if kind == "new" and page is not None:
            params["context_item"] = page
        reply = httpx.get(
            f"{server.url}/v1/recommendations/{who}", params=params, headers=headers
        ).json()
        out[kind] = reply
        where = f" on the page of {page}" if "context_item" in params else ""
        console.print(
            f"[bold]{kind}[/] {who}{where}: strategy [bold]{reply['strategy']}[/] "
            f"({'; '.join(reply['reasons'])})"
        )
        for item in reply["items"]:
            console.print(f"    {item['item_id']:>12}  {item['score']:.3f}  {item['reason']}")
        if reply.get("fallback") or reply.get("detail"):
            console.print(f"    {reply.get('fallback') or reply.get('detail')}")
    return out


def _wait_for_flush(url: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = httpx.get(url + "/readyz").json()
        if state.get("backlog_bytes", 1) == 0:
            break
        time.sleep(0.2)
    return time.monotonic() - started
