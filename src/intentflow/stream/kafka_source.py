"""The scaled-out transport's processor end: a member of the events topic's consumer group.

The group shares the topic's partitions among the processors, and with them the people (the
messages are keyed by person). An event's position is its place in the collector's log, carried
in the message headers, under the name ``topic/partition/log``: within one Kafka partition a
log's places only grow, so an event the forwarder sent twice after a crash is at or before the
stored position and counts once. The consumer's offsets are committed after the processor has
written the states and positions; a restarted or added processor resumes from them, and the
stored positions skip whatever it is given again. When partitions move to this processor, the
positions are read again from the store (:meth:`~intentflow.stream.processor.Processor.reload`):
with Redis, the previous owner's writes are there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from intentflow.config import Settings
from intentflow.stream.kafka import LOG_HEADER, OFFSET_HEADER, client_config
from intentflow.stream.records import decode
from intentflow.stream.source import Backlog, Event

log = logging.getLogger(__name__)


def consumer_config(settings: Settings, group: str) -> dict[str, Any]:
    """The processors' consumer settings (``stream.kafka_config`` overrides them)."""
    return {
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 50,
        "session.timeout.ms": 10_000,
        "max.poll.interval.ms": 30_000,
        **client_config(settings),
    }


class KafkaSource:
    """Consumes the events topic in the processors' group (see the module's doc)."""

    def __init__(self, settings: Settings, *, group: str | None = None, max_events: int = 5_000):
        self.topic = settings.stream.topic
        self.group = group or settings.stream.group
        self.max_events = max_events
        self.consumer = Consumer(consumer_config(settings, self.group))
        self._assigned: set[int] = set()
        self._next: dict[int, int] = {}
        """The Kafka offset after the last message handed out, per partition."""
        self._assign_callbacks: list[Callable[[], None]] = []
        self._behind = 0
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {p.partition for p in partitions}
        log.info("stream partitions now %s", sorted(self._assigned))
        for callback in self._assign_callbacks:
            callback()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            self._assigned.discard(p.partition)
            self._next.pop(p.partition, None)

    @property
    def assigned(self) -> list[int]:
        """The partitions this processor holds now."""
        return sorted(self._assigned)

    def poll(self, timeout_s: float) -> list[Event]:
        """Up to ``max_events`` messages of the partitions held, decoded."""
        events: list[Event] = []
        for message in self.consumer.consume(self.max_events, timeout_s):
            error = message.error()
            if error is not None:
                log.warning("kafka: %s", error)
                continue
            partition = message.partition()
            if partition not in self._assigned:  # fetched before a revocation
                continue
            headers = dict(message.headers() or [])
            origin, offset = headers.get(LOG_HEADER), headers.get(OFFSET_HEADER)
            if not isinstance(origin, bytes) or not isinstance(offset, bytes):
                log.warning("skipping a message without intentflow's headers at %s", message)
            else:
                name = f"{self.topic}/{partition}/{origin.decode()}"
                events.extend(decode(bytes(message.value() or b""), name, int(offset)))
            self._next[partition] = int(message.offset() or 0) + 1
        self._measure_lag()
        return events

    def commit(self, positions: Mapping[str, int]) -> None:
        """Commit the consumer's offsets after what was handed out (the states hold it)."""
        offsets = [
            TopicPartition(self.topic, p, o) for p, o in self._next.items() if p in self._assigned
        ]
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # a rebalance: the next owner skips by the positions
            log.warning("cannot commit offsets (%s); the stored positions still hold", exc)

    def applied(self) -> dict[str, int]:
        """Kafka keeps no positions of its own: the store's count."""
        return {}

    def on_assign(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever partitions are assigned to this processor."""
        self._assign_callbacks.append(callback)

    def backlog(self) -> Backlog:
        """Messages of the partitions held past the last one handed out, as of the last poll
        (by the end offsets of the latest fetches: the consumer answers only its own thread)."""
        return Backlog(self._behind, None)

    def _measure_lag(self) -> None:
        behind = 0
        for partition in self.assigned:
            ends = self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), cached=True
            )
            if ends is not None and ends[1] >= 0 and partition in self._next:
                behind += max(0, ends[1] - self._next[partition])
        self._behind = behind

    def wake(self) -> None:
        """A poll returns within its timeout anyway."""

    def close(self) -> None:
        """Leave the group."""
        self.consumer.close()


def group_lag(consumer: Consumer, topic: str) -> int:
    """Messages of ``topic`` past the committed offsets of ``consumer``'s group (a partition
    without a commit counts from its low watermark)."""
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]
    behind = 0
    for committed in consumer.committed(partitions, timeout=10):
        low, high = consumer.get_watermark_offsets(committed, timeout=10)
        start = committed.offset if committed.offset >= 0 else low
        behind += max(0, high - start)
    return behind
