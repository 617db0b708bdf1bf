"""Freshness of the stream inside a running ``intentflow serve``: from an event's acceptance by
the collector to its person's state (features, intent score) written, through the log or Kafka.

The server runs in its own process with a trained champion. Events go to it over HTTP at a fixed
rate, in batches, from this process; then its ``/v1/stream/status`` gives the percentiles over
exactly those events (a warm-up event, sent first and waited for, is left out).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from _common import bench_env, start_serve, wait_json

from intentflow.collect.server import free_port

BATCH = 50
KEY = "bench-write-key"


def freshness(
    work: Path,
    events: list[dict[str, Any]],
    models: Path,
    *,
    rate: int,
    kafka: str | None = None,
) -> dict[str, Any]:
    """Send ``events`` at ``rate`` per second to a fresh server; the freshness percentiles."""
    data = work / ("kafka" if kafka else "log")
    extra = {"INTENTFLOW_WRITE_KEYS": KEY, "INTENTFLOW_MODELS__REGISTRY_URL": str(models)}
    if kafka:
        extra |= {"INTENTFLOW_KAFKA_BOOTSTRAP": kafka, "INTENTFLOW_STREAM__PARTITIONS": "4"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_serve(work / f"serve-{data.name}.log", port, bench_env(data, **extra))
    encoder = msgspec.json.Encoder()
    try:
        wait_json(url + "/readyz", 60, lambda _: True)
        with httpx.Client(auth=(KEY, ""), timeout=30) as http:

            def send(chunk: list[dict[str, Any]]) -> None:
                body = b'{"events":' + encoder.encode(chunk) + b"}"
                reply = http.post(
                    url + "/v1/events", content=body, headers={"content-type": "application/json"}
                )
                reply.raise_for_status()

            send(events[:1])  # the warm-up: a Kafka consumer first joins its group
            wait_json(url + "/v1/stream/status", 60, lambda s: s.get("events", 0) >= 1)
            started = time.perf_counter()
            for n, at in enumerate(range(1, len(events), BATCH)):
                pause = started + n * BATCH / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                send(events[at : at + BATCH])
            sent_s = time.perf_counter() - started
        total = len(events)
        status = wait_json(
            f"{url}/v1/stream/status?last={total - 1}",
            120,
            lambda s: s["events"] + s["late"] + s["repeated"] >= total,
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {
        "events": total - 1,
        "rate": round((total - 1) / sent_s),
        "p50_ms": status["freshness_ms"]["p50"],
        "p99_ms": status["freshness_ms"]["p99"],
        "histogram": status["freshness_ms"]["histogram"],
        "scored": status["scored"],
    }
