"""Accepted events as the stream processor takes them: the log's lake lines, decoded.

Both transports carry the same bytes, the NDJSON lake lines the collector makes durable (see
:func:`intentflow.events.lake_lines`): the log holds records of many lines, a Kafka message holds
one. Each event becomes a mapping of the lake's columns plus what the processor needs: ``us``
(event time in epoch microseconds), ``accepted_us`` (when the collector received it), and the
``partition`` and ``offset`` it came from.

>>> line = (b'{"message_id":"m1","type":"product_view","user_id":"ada","item_id":"7",'
...         b'"timestamp":"2026-01-05T10:00:00Z","received_at":"2026-01-05T10:00:01.5Z"}\\n')
>>> [event] = decode(line, "log", first_offset=40)
>>> event["us"], event["accepted_us"] - event["us"], event["offset"]
(1767607200000000, 1500000, 40)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

_lines = msgspec.json.Decoder(dict[str, Any])


def micros(text: str) -> int:
    """Epoch microseconds of an ISO 8601 time with a zone."""
    return (datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def decode(payload: bytes, partition: str, first_offset: int) -> list[dict[str, Any]]:
    """The events of ``payload`` (lake lines); the ``i``-th gets offset ``first_offset + i``."""
    events = _lines.decode_lines(payload)
    for index, event in enumerate(events):
        event["us"] = micros(event["timestamp"])
        received = event.get("received_at")
        event["accepted_us"] = event["us"] if received is None else micros(received)
        event["partition"] = partition
        event["offset"] = first_offset + index
    return events
