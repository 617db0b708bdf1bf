"""Where the stream processor's events come from: one small contract, two transports.

- :class:`~intentflow.stream.log_source.LogSource` (the embedded default) reads the collector's
  write-ahead log in the same process, woken each time a group commit makes records durable.
- :class:`~intentflow.stream.kafka_source.KafkaSource` consumes the events topic in a consumer
  group, so that several processors share the people between them.

A source hands out batches of decoded events (see :mod:`intentflow.stream.records`), each with
its partition and offset. The processor applies a batch and writes the states with the positions
they include; then the runner tells the source, which may now let go of what lies behind: the log
releases its segments, Kafka gets the consumer's offsets. The state's positions, not the
source's, decide what counts: a source may deliver a batch again and nothing counts twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from intentflow.features.kinds import MICROS

Event = dict[str, Any]


@dataclass(frozen=True)
class Backlog:
    """Accepted events the processor has not applied yet."""

    events: int
    oldest_accepted_us: int | None
    """When the oldest of them was accepted (``None``: no backlog)."""

    def oldest_age_s(self, now_us: float) -> float | None:
        """How long ago, at ``now_us``, the oldest of them was accepted (``None``: no backlog)."""
        if self.oldest_accepted_us is None:
            return None
        return round((now_us - self.oldest_accepted_us) / MICROS, 3)


class Source(Protocol):
    """A transport the processor reads (see the module's doc)."""

    def poll(self, timeout_s: float) -> list[Event]:
        """The next batch, waiting up to ``timeout_s`` for one (empty when none came)."""
        ...

    def commit(self, positions: Mapping[str, int]) -> None:
        """The states now include every event up to ``positions`` (per partition), durably."""
        ...

    def applied(self) -> dict[str, int]:
        """Positions the source itself remembers as applied (the store may remember more)."""
        ...

    def on_assign(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when this processor takes over partitions, before their first
        events (their positions may have moved in a shared store)."""
        ...

    def backlog(self) -> Backlog:
        """How far behind the processor is."""
        ...

    def wake(self) -> None:
        """Make a waiting :meth:`poll` return soon (from another thread)."""
        ...

    def close(self) -> None:
        """Release the transport (from the thread that polls, once it stopped polling)."""
        ...
