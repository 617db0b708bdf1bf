"""``intentflow stream``: run a processor on its own (a Kafka consumer-group member), and see how
far behind the processors are."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Annotated, Any

import typer
from rich.console import Console

from intentflow.config import Settings
from intentflow.features.kinds import MICROS
from intentflow.models.command import fail
from intentflow.stream.log_source import HOLD_NAME, backlog

stream_app = typer.Typer(
    help="The stream processor: online features, intent scores and trending as events arrive."
)
console = Console(stderr=True)


def status_of(settings: Settings) -> dict[str, Any]:
    """The transport, the backlog (events accepted and not applied, the oldest one's age) and
    the state backend. With Kafka, the backlog is the group's lag on the topic plus what the
    forwarder has not sent from this machine's log."""
    now_us = time.time() * MICROS
    found: dict[str, Any] = {"transport": "kafka" if settings.kafka_bootstrap else "log"}
    hold = HOLD_NAME
    if settings.kafka_bootstrap:
        from confluent_kafka import Consumer

        from intentflow.stream.kafka_forwarder import HOLD_NAME as FORWARDER_HOLD
        from intentflow.stream.kafka_source import consumer_config, group_lag

        hold = FORWARDER_HOLD
        consumer = Consumer(consumer_config(settings, settings.stream.group))
        try:
            found["kafka_lag"] = group_lag(consumer, settings.stream.topic)
        finally:
            consumer.close()
    waiting = backlog(settings.wal_dir, hold)
    found["events_behind"] = waiting.events + found.get("kafka_lag", 0)
    found["log_events_behind"] = waiting.events
    found["oldest_unprocessed_age_s"] = waiting.oldest_age_s(now_us)
    found["state"] = settings.state
    return found


@stream_app.callback(invoke_without_command=True)
def stream(
    ctx: typer.Context,
    every_s: Annotated[float, typer.Option(help="Seconds between progress lines.")] = 10.0,
) -> None:
    """Run a stream processor until Ctrl-C or SIGTERM: one more member of the Kafka consumer
    group (``intentflow serve`` runs one too), sharing the topic's partitions."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    if not settings.kafka_bootstrap:
        raise fail(
            "without Kafka the processor runs inside `intentflow serve`, reading its log; "
            "set INTENTFLOW_KAFKA_BOOTSTRAP to run processors on their own",
            2,
        )
    from intentflow.stream.kafka_source import KafkaSource
    from intentflow.stream.service import Stream

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    source = KafkaSource(settings, max_events=settings.stream.max_batch_events)
    running = Stream(settings, source).start()
    console.print(
        f"stream: group {settings.stream.group} on {settings.stream.topic} "
        f"({settings.kafka_bootstrap}), state {settings.state}"
    )
    last = 0
    while not stop.wait(every_s):
        done = running.runner.stats
        console.print(
            f"partitions {source.assigned}: {done.events:,} events applied "
            f"({(done.events - last) / every_s:,.0f}/s), {done.late:,} late, "
            f"{done.scored:,} scored" + (f", error: {done.last_error}" if done.last_error else "")
        )
        last = done.events
    running.close()
    console.print(f"stream stopped after {running.runner.stats.events:,} events")


@stream_app.command("status")
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on the last line.")
    ] = False,
) -> None:
    """How far behind the processor is: events accepted and not yet applied to the online state,
    and how long ago the oldest of them was accepted."""
    found = status_of(Settings())
    if as_json:
        sys.stdout.write(json.dumps(found) + "\n")
        return
    age = found["oldest_unprocessed_age_s"]
    console.print(
        f"transport {found['transport']}, state {found['state']}: "
        f"{found['events_behind']:,} events behind"
        + ("" if age is None else f", the oldest accepted {age:.1f} s ago")
    )
