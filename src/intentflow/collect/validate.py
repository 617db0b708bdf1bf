"""Per-event validation: one path for the HTTP collector, the Segment API, imports and replays.

:meth:`Validator.validate` takes one event (its raw JSON, or a mapping already decoded) and returns
either a ready :class:`~intentflow.events.Event` (ids, timestamps and source filled in) or the exact
reason it was refused. A bad event never affects its neighbours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from intentflow.config import CollectSettings
from intentflow.events import (
    EVENT_TYPES,
    AnyEvent,
    Event,
    Identify,
    decode_event,
)

_TYPE_ERROR = "Invalid value"
_BLOCK = 512


class Validator:
    """Applies the event model and the collector's policy (size, skew, age, nesting)."""

    def __init__(self, settings: CollectSettings):
        self.settings = settings

    def validate(
        self,
        raw: bytes | msgspec.Raw | dict[str, Any],
        *,
        received_at: datetime,
        source: str,
        size: int | None = None,
    ) -> Event | str:
        """An accepted event, or the reason it was refused."""
        if isinstance(raw, dict):
            if size is not None and size > self.settings.max_event_bytes:
                return f"event is {size} bytes, over the limit of {self.settings.max_event_bytes}"
            latest = received_at + self.settings.max_future_skew
            item = self._convert_one(raw, strict=True)
            return self._finish(item, raw, received_at, latest, source)
        return self.validate_many([raw], received_at=received_at, source=source)[0]

    def validate_many(
        self, raws: Sequence[bytes | msgspec.Raw], *, received_at: datetime, source: str
    ) -> list[Event | str]:
        """Validate a batch of raw JSON events: each an accepted event or its reason."""
        limit = self.settings.max_event_bytes
        latest = received_at + self.settings.max_future_skew
        earliest = self.settings.min_timestamp
        out: list[Event | str] = []
        append = out.append
        for raw in raws:
            if len(raw) > limit:
                append(f"event is {len(raw)} bytes, over the limit of {limit}")
                continue
            try:
                event = decode_event(raw)
            except msgspec.ValidationError as exc:
                append(_explain(str(exc)))
                continue
            except msgspec.DecodeError as exc:
                append(f"not valid JSON: {exc}")
                continue
            except UnicodeDecodeError as exc:
                append(f"not valid UTF-8: {exc.reason} at byte {exc.start}")
                continue
            except RecursionError:
                append(f"nested deeper than {self.settings.max_properties_depth} levels")
                continue
            reason = self._policy(event, received_at, latest, earliest)
            append(reason if reason is not None else _complete(event, raw, received_at, source))
        return out

    def validate_rows(
        self, rows: list[dict[str, Any]], *, received_at: datetime, source: str
    ) -> list[Event | str]:
        """Validate many mappings (an import's rows) at once; same rules as :meth:`validate`.

        Rows are converted in blocks, leniently (``"12"`` may become ``12``, epoch seconds a
        timestamp), since files carry weaker types than JSON; a block with a bad row is redone
        row by row so that each bad row gets its own reason.
        """
        latest = received_at + self.settings.max_future_skew
        out: list[Event | str] = []
        for start in range(0, len(rows), _BLOCK):
            block = rows[start : start + _BLOCK]
            try:
                events: list[Event] = msgspec.convert(block, list[AnyEvent], strict=False)
                checked: list[Event | str] = list(events)
            except (msgspec.ValidationError, RecursionError):
                checked = [self._convert_one(row, strict=False) for row in block]
            for row, item in zip(block, checked, strict=True):
                out.append(self._finish(item, row, received_at, latest, source))
        return out

    def _convert_one(self, row: dict[str, Any], *, strict: bool) -> Event | str:
        try:
            return msgspec.convert(row, AnyEvent, strict=strict)  # type: ignore[no-any-return]
        except msgspec.ValidationError as exc:
            return _explain(str(exc))
        except RecursionError:
            return f"nested deeper than {self.settings.max_properties_depth} levels"

    def _finish(
        self, item: Event | str, raw: Any, received_at: datetime, latest: datetime, source: str
    ) -> Event | str:
        if isinstance(item, str):
            return item
        reason = self._policy(item, received_at, latest, self.settings.min_timestamp)
        return reason if reason is not None else _complete(item, raw, received_at, source)

    def _policy(
        self, event: Event, received_at: datetime, latest: datetime, earliest: datetime
    ) -> str | None:
        """The policy part of validation: timestamps and nesting; ``None`` when it passes."""
        ts = event.timestamp
        if ts is not None:
            if ts > latest:
                return (
                    f"timestamp {ts.isoformat()} is more than {self.settings.max_future_skew} "
                    f"ahead of the server clock ({received_at.isoformat()})"
                )
            if ts < earliest:
                return (
                    f"timestamp {ts.isoformat()} is before the oldest accepted "
                    f"({earliest.isoformat()})"
                )
        depth = self.settings.max_properties_depth
        if event.properties and _depth(event.properties) > depth:
            return f"properties are nested deeper than {depth} levels"
        if isinstance(event, Identify) and event.traits and _depth(event.traits) > depth:
            return f"traits are nested deeper than {depth} levels"
        return None


def _complete(event: Event, raw: Any, received_at: datetime, source: str) -> Event:
    """Fill what the server sets: a missing id or time, the receive time, the source."""
    if event.message_id is None:
        event.message_id = content_id(raw)
    if event.timestamp is None:
        event.timestamp = received_at
    event.received_at = received_at
    event.source = source
    return event


def content_id(raw: bytes | msgspec.Raw | dict[str, Any]) -> str:
    """A message id derived from the event's content, so identical retries share it."""
    data = msgspec.json.encode(raw, order="sorted") if isinstance(raw, dict) else raw
    return "h-" + hashlib.blake2b(data, digest_size=16).hexdigest()


def now_utc() -> datetime:
    """The server clock."""
    return datetime.now(UTC)


def _explain(message: str) -> str:
    if message.startswith(_TYPE_ERROR) and message.endswith("`$.type`"):
        value = message[len(_TYPE_ERROR) :].split(" - at ", maxsplit=1)[0].strip()
        return f"unknown event type {value} - at `$.type`; known types: {', '.join(EVENT_TYPES)}"
    if message == "Object missing required field `type`":
        return f"missing required field `type`; known types: {', '.join(EVENT_TYPES)}"
    return message


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend(
                (child, depth + 1) for child in node.values() if isinstance(child, (dict, list))
            )
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return deepest
