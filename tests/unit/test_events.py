"""The event model: one definition, validated in one pass, with a JSON Schema and lake columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intentflow.events import (
    EVENT_TYPES,
    LAKE_SCHEMA,
    AddToCart,
    Purchase,
    decode_event,
    event_from_dict,
    event_json_schema,
    from_lake_row,
    lake_lines,
)
from intentflow.lake.writer import table_from_lines

MINIMAL: dict[str, dict[str, Any]] = {
    "page_view": {},
    "product_view": {"item_id": "sku-1"},
    "click": {},
    "scroll": {"depth_percent": 50},
    "add_to_cart": {"item_id": "sku-1"},
    "remove_from_cart": {"item_id": "sku-1"},
    "add_to_wishlist": {"item_id": "sku-1"},
    "purchase": {},
    "search": {"query": "shoes"},
    "email_open": {},
    "email_click": {},
    "identify": {},
    "custom": {"name": "coupon_applied"},
}


def test_every_type_has_a_minimal_example() -> None:
    assert set(MINIMAL) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_minimal_event_of_each_type_decodes(kind: str) -> None:
    event = event_from_dict({"type": kind, "anonymous_id": "a1", **MINIMAL[kind]})
    assert type(event) is EVENT_TYPES[kind]
    assert event.channel == ("email" if kind.startswith("email") else "web")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"type": "product_view", "user_id": "u"}, "missing required field `item_id`"),
        ({"type": "scroll", "user_id": "u", "depth_percent": 140}, "<= 100"),
        ({"type": "add_to_cart", "user_id": "u", "item_id": "x", "quantity": 0}, ">= 1"),
        ({"type": "product_view", "user_id": "u", "item_id": "x", "price": -1}, ">= 0"),
        ({"type": "purchase", "user_id": "u", "currency": "dollars"}, "matching regex"),
        ({"type": "search", "user_id": "u"}, "missing required field `query`"),
        ({"type": "page_view"}, "needs a user_id or an anonymous_id"),
        ({"type": "page_view", "user_id": ""}, "length >= 1"),
        ({"type": "page_view", "user_id": 5}, "Expected `str | null`, got `int`"),
        ({"type": "page_view", "user_id": "u", "channel": "fax"}, "Invalid enum value 'fax'"),
        ({"type": "page_view", "user_id": "u", "timestamp": "2026-01-05T10:00:00"}, "timezone"),
    ],
)
def test_bad_events_are_refused_with_the_reason(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=reason):
        decode_event(msgspec.json.encode(payload))


def test_timestamps_are_normalized_to_utc() -> None:
    event = decode_event(
        b'{"type":"page_view","user_id":"u","timestamp":"2026-01-05T10:00:00-05:00"}'
    )
    assert event.timestamp == datetime(2026, 1, 5, 15, tzinfo=UTC)
    assert event.timestamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_purchase_revenue_defaults_to_its_line_items() -> None:
    event = event_from_dict(
        {
            "type": "purchase",
            "user_id": "u",
            "order_id": "o1",
            "line_items": [
                {"item_id": "a", "price": 2.5, "quantity": 2},
                {"item_id": "b", "price": 1},
            ],
        }
    )
    assert isinstance(event, Purchase)
    assert event.revenue == 6.0
    assert event.currency == "USD"


def test_cart_quantity_defaults_to_one() -> None:
    event = event_from_dict({"type": "add_to_cart", "user_id": "u", "item_id": "a"})
    assert isinstance(event, AddToCart) and event.quantity == 1


def test_json_schema_covers_every_type_and_the_batch() -> None:
    schema = event_json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(EVENT_TYPES)
    assert schema["x-batch"] == {"$ref": "#/$defs/EventBatch"}
    product = schema["$defs"]["ProductView"]
    assert "item_id" in product["required"]


def test_lake_schema_has_a_column_for_every_field() -> None:
    names = set(LAKE_SCHEMA.names)
    for cls in EVENT_TYPES.values():
        assert set(cls.__struct_fields__) <= names
    assert LAKE_SCHEMA.field("timestamp").type.tz == "UTC"


def test_events_survive_the_lake_round_trip() -> None:
    events = [
        event_from_dict(
            {
                "type": kind,
                "anonymous_id": "a",
                "user_id": "u",
                "message_id": kind,
                "timestamp": "2026-01-05T10:00:00Z",
                "properties": {"k": [1, {"x": "y"}]},
                "context": {"page_url": "https://x/p", "user_agent": "UA"},
                **extra,
            }
        )
        for kind, extra in MINIMAL.items()
    ]
    table = table_from_lines(lake_lines(events))
    assert table.schema == LAKE_SCHEMA
    back = [from_lake_row(row) for row in table.to_pylist()]
    assert back == events


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "user_id",
                "anonymous_id",
                "item_id",
                "timestamp",
                "price",
                "quantity",
                "query",
                "depth_percent",
                "properties",
                "name",
                "x",
            ]
        ),
        json_values | st.sampled_from(list(EVENT_TYPES)),
    )
)
def test_any_json_object_either_decodes_or_is_refused_cleanly(data: dict[str, Any]) -> None:
    try:
        event = decode_event(msgspec.json.encode(data))
    except msgspec.ValidationError as exc:
        assert str(exc)
    else:
        assert event.user_id is not None or event.anonymous_id is not None
