"""What the Kafka transport's two ends share: client settings, the topic, the message headers.

Each message is one accepted event: its lake line as the value, the person (user id, else
anonymous id) as the key, so that a person's events stay in order in one partition and one
processor of the group holds their state. Two headers say where the event sits in the
collector's log it was forwarded from; the processor counts by that place (see
:mod:`intentflow.stream.kafka_source`), so an event forwarded twice after a crash counts once.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from intentflow.config import Settings

LOG_HEADER = "intentflow-log"
"""The log the event was forwarded from (``log-<id>``)."""
OFFSET_HEADER = "intentflow-offset"
"""The event's offset in that log (see :func:`intentflow.stream.log_source.log_offset`)."""


def client_config(settings: Settings) -> dict[str, Any]:
    """librdkafka settings every client of the deployment uses."""
    if not settings.kafka_bootstrap:
        raise ValueError("set INTENTFLOW_KAFKA_BOOTSTRAP to use the Kafka transport")
    return {"bootstrap.servers": settings.kafka_bootstrap, **settings.stream.kafka_config}


def ensure_topic(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create the events topic with ``stream.partitions`` partitions unless it exists."""
    admin = AdminClient(client_config(settings))
    topic = NewTopic(settings.stream.topic, num_partitions=settings.stream.partitions)
    future = admin.create_topics([topic], operation_timeout=timeout_s)[settings.stream.topic]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
