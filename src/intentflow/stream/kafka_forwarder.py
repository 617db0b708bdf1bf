"""The collector's end of the Kafka transport: accepted events, once durable in the log, go to
the events topic.

The forwarder reads the log behind the collector's writer exactly as the in-process source does
(its own hold keeps the log's segments until they are sent), produces each event with the
person as the key and its log place in the headers, waits until the broker has acknowledged the
whole batch, and only then moves its hold. A crash before that sends the batch again; the
processors skip what they have already counted by the log place. The producer is idempotent,
so a partition's events keep their order through retries.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import msgspec
from confluent_kafka import KafkaError, Message, Producer

from intentflow.config import Settings
from intentflow.stream.kafka import LOG_HEADER, OFFSET_HEADER, client_config, ensure_topic
from intentflow.stream.log_source import LogSource, log_offset

log = logging.getLogger(__name__)

HOLD_NAME = "kafka"


class _Person(msgspec.Struct):
    user_id: str | None = None
    anonymous_id: str | None = None


_people = msgspec.json.Decoder(_Person)


class KafkaForwarder:
    """Produces the log's events to the topic from a thread (see the module's doc)."""

    def __init__(self, settings: Settings, reader: LogSource, *, poll_s: float = 0.5):
        self.settings = settings
        self.reader = reader
        self.poll_s = poll_s
        self.topic = settings.stream.topic
        self.producer = Producer(
            {
                **client_config(settings),
                "enable.idempotence": True,
                "linger.ms": 5,
                "compression.type": "lz4",
            }
        )
        self.forwarded = 0
        self.failures = 0
        self.last_error: str | None = None
        self._errors: list[KafkaError] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> KafkaForwarder:
        """Make sure the topic exists, then forward in a daemon thread."""
        ensure_topic(self.settings)
        self._thread = threading.Thread(target=self._run, name="kafka-forwarder", daemon=True)
        self._thread.start()
        return self

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._errors.append(error)

    def _run(self) -> None:
        while not self._stopping.is_set():
            records = self.reader.records(self.poll_s)
            if records:
                self._send(records)

    def _send(self, records: list[tuple[Any, bytes]]) -> None:
        """Produce a batch until the broker has all of it (or the forwarder stops)."""
        name = self.reader.partition.encode()
        pause = 0.5
        while not self._stopping.is_set():
            self._errors.clear()
            sent = 0
            for position, payload in records:
                base = log_offset(position, 0)
                for index, line in enumerate(payload.splitlines()):
                    if base + index <= self.reader.applied_offset:  # sent before a restart
                        continue
                    person = _people.decode(line)
                    key = person.user_id or person.anonymous_id
                    headers: list[tuple[str, str | bytes | None]] = [
                        (LOG_HEADER, name),
                        (OFFSET_HEADER, str(base + index).encode()),
                    ]
                    self._produce(line, key, headers)
                    sent += 1
            left = self.producer.flush(30)
            if left == 0 and not self._errors:
                self.reader.commit_read()
                self.forwarded += sent
                self.last_error = None
                return
            self.failures += 1
            self.last_error = str(self._errors[0]) if self._errors else f"{left} unacknowledged"
            log.error("forwarding to Kafka failed (%s); again in %.1f s", self.last_error, pause)
            self._stopping.wait(pause)
            pause = min(pause * 2, 30.0)

    def _produce(
        self, value: bytes, key: str | None, headers: list[tuple[str, str | bytes | None]]
    ) -> None:
        while True:
            try:
                self.producer.produce(
                    self.topic, value, key, headers=headers, on_delivery=self._delivered
                )
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.1)

    def stop(self, *, drain_s: float = 10.0) -> None:
        """Send what the log holds (for up to ``drain_s``), then stop; whatever was not sent
        stays behind the hold for the next start."""
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and not self.reader.done:
            if self._thread is None or not self._thread.is_alive():
                break
            time.sleep(0.02)
        self._stopping.set()
        self.reader.wake()
        if self._thread is not None:
            self._thread.join()
        self.reader.close()
        self.producer.flush(10)
