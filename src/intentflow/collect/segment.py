"""Segment's tracking-API messages, mapped to intentflow events.

Track calls named by Segment's e-commerce and email specs become typed events; any other track call
becomes a ``custom`` event. ``page`` and ``screen`` become page views, ``identify`` and ``alias``
become identify events, ``group`` a custom event. The original properties are kept.

>>> event = to_native({"type": "track", "event": "Product Viewed", "userId": "u1",
...                    "properties": {"product_id": "sku-9", "price": 12.5}})
>>> event["type"], event["item_id"], event["price"]
('product_view', 'sku-9', 12.5)
"""

from __future__ import annotations

from typing import Any

TRACK_EVENTS: dict[str, str] = {
    "Product Viewed": "product_view",
    "Product Clicked": "click",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Product Added to Wishlist": "add_to_wishlist",
    "Order Completed": "purchase",
    "Products Searched": "search",
    "Email Opened": "email_open",
    "Email Link Clicked": "email_click",
}
"""Segment spec event names and the intentflow type each becomes."""

_CHANNELS = {
    "browser": "web",
    "client": "web",
    "web": "web",
    "server": "server",
    "mobile": "mobile",
    "email": "email",
}
_MOBILE_OS = {"ios", "android", "ipados"}


class SegmentMessageError(ValueError):
    """The message cannot be read as a Segment call at all."""


def to_native(message: Any) -> dict[str, Any]:
    """One Segment message as a native event mapping, ready for validation."""
    if not isinstance(message, dict):
        raise SegmentMessageError(f"expected a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    props = message.get("properties")
    props = props if isinstance(props, dict) else {}
    event: dict[str, Any] = _common(message, props)
    if kind == "track":
        name = message.get("event")
        if not isinstance(name, str) or not name:
            raise SegmentMessageError("a track call needs an `event` name")
        event_type = TRACK_EVENTS.get(name, "custom")
        event["type"] = event_type
        if event_type == "custom":
            event["name"] = name
        else:
            _spec_fields(event, event_type, props)
    elif kind in ("page", "screen"):
        event["type"] = "page_view"
        for field in ("name", "category"):
            value = message.get(field)
            if value is None:  # the SDKs send an explicit null when the call names none
                value = props.get(field)
            if value is not None:
                event[field] = value
        if kind == "screen" and "channel" not in event:
            event["channel"] = "mobile"
    elif kind == "identify":
        event["type"] = "identify"
        traits = message.get("traits")
        context = message.get("context")
        if not traits and isinstance(context, dict):  # Segment's SDKs send `{}` for no traits
            traits = context.get("traits")
        if traits is not None:
            event["traits"] = traits
    elif kind == "alias":
        event["type"] = "identify"
        previous = message.get("previousId")
        if previous is not None:
            event.setdefault("anonymous_id", previous)
            event["properties"] = {**props, "previous_id": previous}
    elif kind == "group":
        event["type"] = "custom"
        event["name"] = "group"
        event["properties"] = {
            **props,
            "group_id": message.get("groupId"),
            "traits": message.get("traits") or {},
        }
    else:
        raise SegmentMessageError(
            f"unknown Segment call type {kind!r}; expected track, page, screen, identify, "
            "alias or group"
        )
    if "timestamp" not in event and message.get("originalTimestamp") is not None:
        event["timestamp"] = message["originalTimestamp"]
    return event


def _common(message: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for src, dst in (
        ("messageId", "message_id"),
        ("userId", "user_id"),
        ("anonymousId", "anonymous_id"),
        ("timestamp", "timestamp"),
    ):
        value = message.get(src)
        if value is not None:
            event[dst] = value if dst == "timestamp" else _text(value)
    context = message.get("context")
    context = context if isinstance(context, dict) else {}
    session = props.get("session_id", context.get("sessionId", context.get("session_id")))
    if session is not None:
        event["session_id"] = _text(session)
    channel = _channel(message, context)
    if channel is not None:
        event["channel"] = channel
    native_context = _context(context, props)
    if native_context:
        event["context"] = native_context
    if props:
        event["properties"] = props
    return event


def _text(value: Any) -> Any:
    """Segment ids may arrive as numbers; intentflow ids are strings."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _channel(message: dict[str, Any], context: dict[str, Any]) -> str | None:
    channel = message.get("channel")
    if isinstance(channel, str) and channel.lower() in _CHANNELS:
        return _CHANNELS[channel.lower()]
    device = context.get("device")
    os_info = context.get("os")
    kind = device.get("type") if isinstance(device, dict) else None
    if context.get("app") or (isinstance(kind, str) and kind.lower() in _MOBILE_OS):
        return "mobile"
    if isinstance(os_info, dict) and str(os_info.get("name", "")).lower() in _MOBILE_OS:
        return "mobile"
    return None


def _context(context: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    page = context.get("page")
    page = page if isinstance(page, dict) else {}
    out = {
        "user_agent": context.get("userAgent"),
        "ip": context.get("ip"),
        "page_url": page.get("url", props.get("url")),
        "referrer": page.get("referrer", props.get("referrer")),
        "locale": context.get("locale"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _spec_fields(event: dict[str, Any], event_type: str, props: dict[str, Any]) -> None:
    if event_type == "purchase":
        for src, dst in (("order_id", "order_id"), ("currency", "currency")):
            if props.get(src) is not None:
                event[dst] = _text(props[src])
        revenue = props.get("revenue", props.get("total"))
        if revenue is not None:
            event["revenue"] = revenue
        products = props.get("products")
        if isinstance(products, list):
            event["line_items"] = [_line_item(p) for p in products]
        return
    if event_type == "search":
        if props.get("query") is not None:
            event["query"] = props["query"]
        return
    if event_type in ("email_open", "email_click"):
        if props.get("campaign_id") is not None:
            event["campaign_id"] = _text(props["campaign_id"])
        if event_type == "email_click" and props.get("link_url") is not None:
            event["url"] = props["link_url"]
        return
    event.update(_product(props))
    if event_type in ("product_view", "add_to_wishlist"):
        event.pop("quantity", None)


def _product(props: dict[str, Any]) -> dict[str, Any]:
    """Segment's product fields (``product_id``, or ``sku``, or ``id``; category, price,
    quantity) under intentflow's names."""
    out: dict[str, Any] = {}
    item_id = props.get("product_id", props.get("sku", props.get("id")))
    if item_id is not None:
        out["item_id"] = _text(item_id)
    for field in ("category", "price", "quantity"):
        if props.get(field) is not None:
            out[field] = _text(props[field]) if field == "category" else props[field]
    return out


def _line_item(product: Any) -> Any:
    return _product(product) if isinstance(product, dict) else product
