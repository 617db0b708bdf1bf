"""A request body in, a validation outcome out: pure, so it runs in the event loop or in a worker.

:func:`validate_body` decodes the envelope of one write call, validates every event with the
:class:`~intentflow.collect.validate.Validator`, and returns an :class:`Outcome`: the accepted
events as ready lake lines with their message ids, and each refused event with its index, reason
and raw bytes. It keeps no state; de-duplication, quarantine and the log happen afterwards in the
collector, in one place.

>>> from datetime import UTC, datetime
>>> from intentflow.config import CollectSettings
>>> body = b'{"events": [{"type": "page_view", "user_id": "u", "message_id": "m1"}, {"type": "x"}]}'
>>> out = validate_body(Validator(CollectSettings()), body, "events",
...                     received_at=datetime(2026, 1, 5, tzinfo=UTC), max_events=100)
>>> out.ids, [(i, reason[:20]) for i, reason, _ in out.rejected]
(['m1'], [(1, "unknown event type '")])
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

import msgspec

from intentflow.collect.segment import SegmentMessageError, to_native
from intentflow.collect.validate import Validator
from intentflow.events import Event, lake_line

log = logging.getLogger(__name__)

Kind = Literal["events", "batch", "track", "page", "screen", "identify", "alias", "group"]
"""``events`` (native batch), ``batch`` (Segment batch), or a single Segment call."""

SOURCES: dict[str, str] = {"events": "api"}
"""The ``source`` recorded for each kind (Segment calls record ``segment``)."""


class Outcome(msgspec.Struct, array_like=True):
    """The result of validating one request body."""

    status: int = 200
    """400 or 413 when the body as a whole is refused (``error`` says why)."""
    error: str | None = None
    write_key: str | None = None
    """A ``writeKey`` found in a Segment body."""
    ids: list[str] = []
    lines: list[bytes] = []
    """One lake line per accepted event, in order, beside its id in ``ids``."""
    rejected: list[tuple[int, str, bytes]] = []
    """``(index, reason, raw bytes)`` per refused event."""


class _NativeBody(msgspec.Struct):
    events: list[msgspec.Raw]


class _SegmentBatch(msgspec.Struct):
    batch: list[msgspec.Raw]
    writeKey: str | None = None  # noqa: N815 - Segment's wire name


_native = msgspec.json.Decoder(_NativeBody)
_segment_batch = msgspec.json.Decoder(_SegmentBatch)
_object = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


class BodyError(Exception):
    """The body cannot be read as the call's envelope."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def source_of(kind: Kind) -> str:
    """The ``source`` stored with events of this kind of call."""
    return SOURCES.get(kind, "segment")


def validate_body(
    validator: Validator, body: bytes, kind: Kind, *, received_at: datetime, max_events: int
) -> Outcome:
    """Validate every event of one request body."""
    try:
        return _validate_body(validator, body, kind, received_at, max_events)
    except BodyError as exc:
        return Outcome(status=exc.status, error=exc.reason)


def _validate_body(
    validator: Validator, body: bytes, kind: Kind, received_at: datetime, max_events: int
) -> Outcome:
    source = source_of(kind)
    outcome = Outcome(ids=[], lines=[], rejected=[])
    if kind == "events":
        items: list[Any] = _decode(_native, body, 'an object with an "events" list').events
        _check_size(len(items), max_events)
        checked = validator.validate_many(items, received_at=received_at, source=source)
    elif kind == "batch":
        envelope = _decode(_segment_batch, body, 'an object with a "batch" list')
        outcome.write_key = envelope.writeKey
        items = envelope.batch
        _check_size(len(items), max_events)
        checked = [_segment_event(validator, raw, None, received_at) for raw in items]
    else:
        message = _decode(_object, body, "a JSON object")
        key = message.pop("writeKey", None)
        outcome.write_key = key if isinstance(key, str) else None
        message.setdefault("type", kind)
        items = [_encoder.encode(message)]
        checked = [_segment_event(validator, items[0], message, received_at)]
    for index, item in enumerate(checked):
        if isinstance(item, str):
            outcome.rejected.append((index, item, bytes(items[index])))
        else:
            outcome.ids.append(item.message_id)  # type: ignore[arg-type]
            outcome.lines.append(lake_line(item))
    return outcome


def _segment_event(
    validator: Validator, raw: Any, message: Any, received_at: datetime
) -> Event | str:
    try:
        native = to_native(message if message is not None else msgspec.json.decode(raw))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return f"not valid JSON: {exc}"
    except RecursionError:
        return "nested too deeply"
    except SegmentMessageError as exc:
        return str(exc)
    except Exception as exc:  # a message shaped in a way the mapping did not foresee
        log.exception("could not map a Segment message")
        return f"could not read this Segment message: {type(exc).__name__}: {exc}"
    return validator.validate(native, received_at=received_at, source="segment", size=len(raw))


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes, shape: str) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BodyError(400, f"body must be {shape}: {exc}") from None
    except msgspec.DecodeError as exc:
        reason = str(exc).removeprefix("JSON is malformed: ")
        raise BodyError(400, f"malformed JSON: {reason}") from None
    except RecursionError:
        raise BodyError(400, "malformed JSON: nested too deeply") from None


def _check_size(count: int, limit: int) -> None:
    if count > limit:
        raise BodyError(413, f"batch of {count} events is over the limit of {limit}")
