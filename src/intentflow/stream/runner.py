"""The processor's loop: take a batch from the source, apply it, let the source move on.

A batch that fails to apply (the state store is unreachable, say) is tried again with growing
pauses, 0.5 s up to 30 s, until it applies: nothing moved before the failure (see
:class:`~intentflow.stream.processor.Processor`), so the retry counts each event once, and the
source is not told to move on before then. The runner keeps counts and the freshness of what it
applied: the time from an event's acceptance by the collector to the write of its person's state.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from intentflow.features.kinds import MICROS
from intentflow.stream.processor import Processor
from intentflow.stream.source import Event, Source

log = logging.getLogger(__name__)

FRESHNESS_SAMPLES = 200_000
"""The runner keeps the freshness of this many recent events."""

HISTOGRAM_EDGES_MS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000)
"""The edges of the freshness histogram's bins, in milliseconds (the last bin is open)."""


@dataclass
class StreamStats:
    """What the runner has done since it started."""

    batches: int = 0
    events: int = 0
    """Events applied to people's state."""
    late: int = 0
    repeated: int = 0
    scored: int = 0
    failures: int = 0
    """Batches that failed to apply (and were tried again)."""
    last_error: str | None = None
    freshness_ms: deque[float] = field(default_factory=lambda: deque(maxlen=FRESHNESS_SAMPLES))

    def freshness(self, last: int | None = None) -> dict[str, Any]:
        """The time from acceptance to state written, in milliseconds, over the ``last`` events
        applied (default: all those kept): p50, p99, max, and a histogram (the events per bin
        of :data:`HISTOGRAM_EDGES_MS`)."""
        samples = np.fromiter(self.freshness_ms, float)
        if last is not None:
            samples = samples[-last:]
        edges = list(HISTOGRAM_EDGES_MS)
        counts = np.histogram(samples, bins=[*edges, np.inf])[0]
        histogram = {"edges_ms": edges, "counts": [int(c) for c in counts]}
        if not samples.size:
            return {"p50": None, "p99": None, "max": None, "histogram": histogram}
        p50, p99 = np.percentile(samples, [50, 99])
        return {
            "p50": round(float(p50), 2),
            "p99": round(float(p99), 2),
            "max": round(float(samples.max()), 2),
            "histogram": histogram,
        }


class StreamRunner:
    """Runs a :class:`Processor` over a :class:`~intentflow.stream.source.Source` in a thread."""

    def __init__(self, processor: Processor, source: Source, *, poll_s: float = 0.5):
        self.processor = processor
        self.source = source
        self.poll_s = poll_s
        self.stats = StreamStats()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        processor.resume(source.applied())
        source.on_assign(processor.reload)

    def start(self) -> None:
        """Start the loop in a daemon thread (and :func:`relax_gc`)."""
        relax_gc()
        self._thread = threading.Thread(target=self.run, name="stream", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the loop runs."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Poll and apply until :meth:`stop`."""
        while not self._stopping.is_set():
            events = self.source.poll(self.poll_s)
            if events:
                self.apply(events)

    def apply(self, events: list[Event]) -> bool:
        """Apply one batch, trying again until it applies or the runner stops; True if it did."""
        pause = 0.5
        while True:
            try:
                applied = self.processor.process(events)
                break
            except Exception as exc:  # the source keeps the batch: try it again
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.error("stream batch failed (%s); trying again in %.1f s", exc, pause)
                if self._stopping.wait(pause):
                    return False
                pause = min(pause * 2, 30.0)
        self.source.commit(self.processor.positions)
        written_us = time.time() * MICROS
        self.stats.freshness_ms.extend(
            (written_us - event["accepted_us"]) / 1_000 for event in events
        )
        self.stats.batches += 1
        self.stats.events += applied.events
        self.stats.late += applied.late
        self.stats.repeated += applied.repeated
        self.stats.scored += applied.scored
        self.stats.last_error = None
        return True

    def stop(self) -> None:
        """Finish the batch in hand, stop, and close the source."""
        self._stopping.set()
        self.source.wake()
        if self._thread is not None:
            self._thread.join()
        self.source.close()

    def status(self, last: int | None = None) -> dict[str, Any]:
        """The counts, the last error and the freshness percentiles (over the ``last``
        events)."""
        stats = self.stats
        return {
            "running": self.alive,
            "batches": stats.batches,
            "events": stats.events,
            "late": stats.late,
            "repeated": stats.repeated,
            "scored": stats.scored,
            "failures": stats.failures,
            "last_error": stats.last_error,
            "freshness_ms": stats.freshness(last),
        }


GC_THRESHOLDS = (20_000, 50, 1_000)
"""The collector's thresholds while a processor runs (Python's defaults: 700, 10, 10)."""


def relax_gc() -> None:
    """Collect garbage less often. People's states are many small, long-lived objects, which
    hold no cycles; with the default thresholds the cyclic collector walks them all again and
    again, which took about a third of the processor's time. The thresholds are the process's:
    a server that runs a processor runs them for everything."""
    gc.set_threshold(*GC_THRESHOLDS)
