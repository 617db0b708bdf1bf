"""Where simulated events go: a JSON-lines file, or a running collector over HTTP."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec

_encoder = msgspec.json.Encoder()


def batched(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive lists of ``size`` events (the last may be shorter)."""
    batch: list[dict[str, Any]] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_jsonl(
    events: Iterable[dict[str, Any]], out: str, progress: Callable[[int], None] | None = None
) -> int:
    """Write events as JSON lines to ``out`` (``-`` for standard output); returns the count."""
    count = 0
    stream = sys.stdout.buffer if out == "-" else open(Path(out), "wb")  # noqa: SIM115
    try:
        for batch in batched(events, 10_000):
            stream.write(_encoder.encode_lines(batch))
            count += len(batch)
            if progress is not None:
                progress(len(batch))
    finally:
        if out != "-":
            stream.close()
        else:
            stream.flush()
    return count


def send_http(
    events: Iterable[dict[str, Any]],
    url: str,
    write_key: str,
    *,
    batch_size: int = 100,
    speedup: float | None = None,
    progress: Callable[[int], None] | None = None,
    retries: int = 5,
) -> dict[str, int]:
    """POST events to a collector's ``/v1/events`` in batches, optionally paced to event time
    (``speedup`` times faster than real time). Retries a failed batch with backoff; the
    collector drops the retried duplicates by message id."""
    totals = {"sent": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    endpoint = url.rstrip("/") + "/v1/events"
    first_event: float | None = None
    started = time.monotonic()
    with httpx.Client(headers={"Authorization": f"Bearer {write_key}"}, timeout=30) as client:
        for batch in batched(events, batch_size):
            if speedup:
                t = batch[0]["timestamp"].timestamp()
                first_event = first_event if first_event is not None else t
                wait = (t - first_event) / speedup - (time.monotonic() - started)
                if wait > 0:
                    time.sleep(wait)
            body = _encoder.encode({"events": batch})
            reply = _post(client, endpoint, body, retries)
            totals["sent"] += len(batch)
            totals["accepted"] += reply.get("accepted", 0)
            totals["duplicates"] += reply.get("duplicates", 0)
            totals["rejected"] += len(reply.get("rejected", []))
            if progress is not None:
                progress(len(batch))
    return totals


def _post(client: httpx.Client, endpoint: str, body: bytes, retries: int) -> dict[str, Any]:
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            response = client.post(
                endpoint, content=body, headers={"Content-Type": "application/json"}
            )
            if response.status_code < 500 and response.status_code != 429:
                if response.status_code >= 400 and response.status_code != 400:
                    response.raise_for_status()
                reply: dict[str, Any] = response.json()
                return reply
        except httpx.TransportError:
            if attempt == retries:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise RuntimeError(f"collector kept failing at {endpoint}")
