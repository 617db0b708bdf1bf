"""Segment's tracking-API messages mapped to intentflow events."""

from __future__ import annotations

from typing import Any

import pytest

from intentflow.collect.segment import TRACK_EVENTS, SegmentMessageError, to_native
from intentflow.events import event_from_dict


def track(name: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "userId": "u1",
        "anonymousId": "a1",
        "messageId": "m1",
        "timestamp": "2026-11-20T10:00:00Z",
        "properties": props,
    }


@pytest.mark.parametrize("name", sorted(TRACK_EVENTS))
def test_every_spec_event_maps_to_a_valid_typed_event(name: str) -> None:
    props = {
        "product_id": "p1",
        "category": "shoes",
        "price": 10.0,
        "quantity": 2,
        "query": "red shoes",
        "order_id": "o1",
        "revenue": 20.0,
        "currency": "EUR",
        "products": [{"product_id": "p1", "price": 10.0, "quantity": 2}],
        "campaign_id": "c1",
        "link_url": "https://x",
    }
    event = event_from_dict(to_native(track(name, **props)))
    assert event.__struct_config__.tag == TRACK_EVENTS[name]
    assert event.message_id == "m1" and event.user_id == "u1" and event.anonymous_id == "a1"
    assert event.properties["product_id"] == "p1"


def test_order_completed_carries_its_products() -> None:
    native = to_native(
        track(
            "Order Completed",
            order_id=50314,
            total=27.5,
            products=[
                {"sku": "45790-32", "price": 19, "quantity": 1, "category": "Games"},
                {"product_id": 507, "price": 3, "quantity": 2},
            ],
        )
    )
    assert native["order_id"] == "50314" and native["revenue"] == 27.5
    assert native["line_items"] == [
        {"item_id": "45790-32", "category": "Games", "price": 19, "quantity": 1},
        {"item_id": "507", "price": 3, "quantity": 2},
    ]


def test_other_calls() -> None:
    page = to_native(
        {
            "type": "page",
            "name": "Home",
            "anonymousId": "a",
            "context": {
                "page": {"url": "https://s/", "referrer": "https://g/"},
                "userAgent": "UA",
                "ip": "1.2.3.4",
                "locale": "de-DE",
            },
        }
    )
    assert page["type"] == "page_view" and page["name"] == "Home"
    assert page["context"] == {
        "page_url": "https://s/",
        "referrer": "https://g/",
        "user_agent": "UA",
        "ip": "1.2.3.4",
        "locale": "de-DE",
    }
    screen = to_native({"type": "screen", "name": "Feed", "userId": "u"})
    assert screen["type"] == "page_view" and screen["channel"] == "mobile"
    ident = to_native(
        {"type": "identify", "userId": "u", "anonymousId": "a", "traits": {"email": "x@y.z"}}
    )
    assert ident["type"] == "identify" and ident["traits"] == {"email": "x@y.z"}
    alias = to_native({"type": "alias", "userId": "u", "previousId": "a"})
    assert alias["anonymous_id"] == "a" and alias["type"] == "identify"
    group = to_native({"type": "group", "userId": "u", "groupId": "g", "traits": {"n": 1}})
    assert group["name"] == "group" and group["properties"]["group_id"] == "g"
    custom = to_native(track("Coupon Applied", coupon="X"))
    assert custom["type"] == "custom" and custom["name"] == "Coupon Applied"


def test_channel_comes_from_the_message_or_its_device() -> None:
    assert to_native({"type": "page", "userId": "u", "channel": "server"})["channel"] == "server"
    app = to_native({"type": "page", "userId": "u", "context": {"app": {"name": "shop"}}})
    assert app["channel"] == "mobile"
    assert "channel" not in to_native({"type": "page", "userId": "u"})


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([], "expected a JSON object"),
        ({"type": "track", "userId": "u"}, "needs an `event` name"),
        ({"type": "flush", "userId": "u"}, "unknown Segment call type 'flush'"),
    ],
)
def test_unreadable_messages(message: Any, reason: str) -> None:
    with pytest.raises(SegmentMessageError, match=reason):
        to_native(message)
