"""Per-event validation: one path for the HTTP collector, the Segment API, imports and replays.

:meth:`Validator.validate` takes one event (its raw JSON, or a mapping already decoded) and returns
either a ready :class:`~intentflow.events.Event` (ids, timestamps and source filled in) or the exact
reason it was refused. A bad event never affects its neighbours.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from intentflow.config import CollectSettings
from intentflow.events import EVENT_TYPES, AnyEvent, Event, decode_event, event_from_dict

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
        if not isinstance(raw, dict):
            size = len(raw)
        if size is not None and size > self.settings.max_event_bytes:
            return f"event is {size} bytes, over the limit of {self.settings.max_event_bytes}"
        try:
            event = event_from_dict(raw) if isinstance(raw, dict) else decode_event(raw)
        except msgspec.ValidationError as exc:
            return _explain(str(exc))
        except msgspec.DecodeError as exc:
            return f"not valid JSON: {exc}"
        except UnicodeDecodeError as exc:
            return f"not valid UTF-8: {exc.reason} at byte {exc.start}"
        except RecursionError:
            return f"nested deeper than {self.settings.max_properties_depth} levels"
        return self._finish(event, raw, received_at, source)

    def validate_rows(
        self, rows: list[dict[str, Any]], *, received_at: datetime, source: str
    ) -> list[Event | str]:
        """Validate many mappings (an import's rows) at once; same rules as :meth:`validate`.

        Rows are converted in blocks, leniently (``"12"`` may become ``12``, epoch seconds a
        timestamp), since files carry weaker types than JSON; a block with a bad row is redone
        row by row so that each bad row gets its own reason.
        """
        out: list[Event | str] = []
        for start in range(0, len(rows), _BLOCK):
            block = rows[start : start + _BLOCK]
            try:
                events: list[Event] = msgspec.convert(block, list[AnyEvent], strict=False)
                checked: list[Event | str] = list(events)
            except (msgspec.ValidationError, RecursionError):
                checked = [self._convert_one(row) for row in block]
            for row, item in zip(block, checked, strict=True):
                out.append(self._finish(item, row, received_at, source))
        return out

    def _convert_one(self, row: dict[str, Any]) -> Event | str:
        try:
            return msgspec.convert(row, AnyEvent, strict=False)  # type: ignore[no-any-return]
        except msgspec.ValidationError as exc:
            return _explain(str(exc))
        except RecursionError:
            return f"nested deeper than {self.settings.max_properties_depth} levels"

    def _finish(
        self, item: Event | str, raw: Any, received_at: datetime, source: str
    ) -> Event | str:
        if isinstance(item, str):
            return item
        reason = self.check(item, received_at)
        if reason is not None:
            return reason
        if item.message_id is None:
            item.message_id = content_id(raw)
        if item.timestamp is None:
            item.timestamp = received_at
        item.received_at = received_at
        item.source = source
        return item

    def check(self, event: Event, received_at: datetime) -> str | None:
        """The policy part of validation: timestamps and nesting. ``None`` when the event passes."""
        settings = self.settings
        ts = event.timestamp
        if ts is not None:
            if ts - received_at > settings.max_future_skew:
                return (
                    f"timestamp {ts.isoformat()} is more than {settings.max_future_skew} "
                    f"ahead of the server clock ({received_at.isoformat()})"
                )
            if ts < settings.min_timestamp:
                return (
                    f"timestamp {ts.isoformat()} is before the oldest accepted "
                    f"({settings.min_timestamp.isoformat()})"
                )
        for name in ("properties", "traits"):
            value = getattr(event, name, None)
            if value and _depth(value) > settings.max_properties_depth:
                return f"{name} are nested deeper than {settings.max_properties_depth} levels"
        return None


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
