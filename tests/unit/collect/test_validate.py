"""One validation path: single events, rows from files, and the collector policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from intentflow.collect.validate import Validator, content_id
from intentflow.config import CollectSettings
from intentflow.events import Event

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
validator = Validator(CollectSettings())


def test_accepted_event_is_completed() -> None:
    event = validator.validate(
        b'{"type":"page_view","anonymous_id":"a"}', received_at=NOW, source="api"
    )
    assert isinstance(event, Event)
    assert event.timestamp == NOW and event.received_at == NOW and event.source == "api"
    assert event.message_id == content_id(b'{"type":"page_view","anonymous_id":"a"}')


def test_future_skew_and_min_timestamp_follow_configuration() -> None:
    late = NOW + timedelta(minutes=30)
    row = {"type": "page_view", "user_id": "u", "timestamp": late.isoformat()}
    assert "ahead of the server clock" in str(validator.validate(row, received_at=NOW, source="x"))
    lenient = Validator(CollectSettings(max_future_skew=timedelta(hours=1)))
    assert isinstance(lenient.validate(row, received_at=NOW, source="x"), Event)
    old = {"type": "page_view", "user_id": "u", "timestamp": "1989-12-31T23:59:59Z"}
    assert "before the oldest" in str(validator.validate(old, received_at=NOW, source="x"))


def test_rows_are_validated_in_blocks_with_each_bad_row_reported() -> None:
    rows: list[dict[str, Any]] = [
        {"type": "product_view", "user_id": str(i), "item_id": str(i), "timestamp": 1.7e9 + i}
        for i in range(1500)
    ]
    rows[7] = {"type": "product_view", "user_id": "u"}
    rows[1203] = {"type": "nope", "user_id": "u"}
    out = validator.validate_rows(rows, received_at=NOW, source="import:test")
    assert len(out) == 1500
    bad = {i: r for i, r in enumerate(out) if isinstance(r, str)}
    assert set(bad) == {7, 1203}
    assert "item_id" in bad[7] and "unknown event type" in bad[1203]
    good = out[8]
    assert isinstance(good, Event) and good.timestamp == datetime.fromtimestamp(1.7e9 + 8, UTC)


def test_rows_and_json_give_the_same_event() -> None:
    row = {
        "type": "add_to_cart",
        "user_id": "u",
        "item_id": "x",
        "price": 2.5,
        "timestamp": "2026-01-05T10:00:00+01:00",
        "message_id": "m",
    }
    from_row = validator.validate_rows([row], received_at=NOW, source="s")[0]
    from_json = validator.validate(msgspec.json.encode(row), received_at=NOW, source="s")
    assert from_row == from_json


def test_size_limit_counts_the_raw_bytes() -> None:
    small = Validator(CollectSettings(max_event_bytes=100))
    raw = msgspec.json.encode(
        {"type": "custom", "name": "n", "user_id": "u", "properties": {"x": "y" * 100}}
    )
    assert "over the limit of 100" in str(small.validate(raw, received_at=NOW, source="s"))
