"""The event model every stage shares, its JSON Schema, and its columns in the lake.

An event is one of the tagged types below; the ``type`` field names it. Every event carries the
common fields of :class:`Event`; each type adds the fields it needs (a product view needs an
``item_id``, a search a ``query``). Decoding validates in one pass:

>>> decode_event(b'{"type":"product_view","user_id":"u1","item_id":"sku-1",'
...              b'"timestamp":"2026-01-05T10:00:00+01:00"}').timestamp.isoformat()
'2026-01-05T09:00:00+00:00'
>>> decode_event(b'{"type":"product_view","item_id":"sku-1"}')
Traceback (most recent call last):
msgspec.ValidationError: an event needs a user_id or an anonymous_id
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, Literal

import msgspec
import pyarrow as pa

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Text = Annotated[str, msgspec.Meta(max_length=2048)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Money = Annotated[float, msgspec.Meta(ge=0, le=1e12)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Channel = Literal["web", "mobile", "email", "server"]


class Context(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """Where an event happened: the device and page it came from."""

    user_agent: Text | None = None
    ip: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    page_url: Text | None = None
    referrer: Text | None = None
    locale: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class LineItem(msgspec.Struct, kw_only=True, gc=False):
    """One product line of a purchase."""

    item_id: Id
    category: Id | None = None
    price: Money | None = None
    quantity: Quantity = 1


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="type", gc=False):
    """Fields every event carries. Use one of the concrete types below, never this base."""

    message_id: Id | None = None
    """Idempotency key: a retried delivery with the same id lands once. Filled from a hash of the
    event's bytes when missing."""
    user_id: Id | None = None
    anonymous_id: Id | None = None
    session_id: Id | None = None
    timestamp: AwareTime | None = None
    """When the event happened, with a timezone. Defaults to ``received_at``."""
    received_at: AwareTime | None = None
    """When intentflow received it; set by the server."""
    channel: Channel | None = None
    """``web``, ``mobile``, ``email`` or ``server``; defaults to ``web`` (``email`` for email
    events)."""
    source: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """How the event entered intentflow (``api``, ``segment``, ``import:taobao``...); set by
    intentflow."""
    context: Context | None = None
    properties: dict[str, Any] = {}
    """Free-form properties, stored as JSON in the lake."""

    default_channel: ClassVar[str] = "web"
    """The channel of an event that names none (kept out of the field default so that the
    compact encoding, which omits defaults, still writes it)."""

    def __post_init__(self) -> None:
        if self.user_id is None and self.anonymous_id is None:
            raise ValueError("an event needs a user_id or an anonymous_id")
        if self.channel is None:
            self.channel = self.default_channel  # type: ignore[assignment]
        ts = self.timestamp
        if ts is not None and ts.tzinfo is not UTC and ts.utcoffset():
            self.timestamp = ts.astimezone(UTC)
        ts = self.received_at
        if ts is not None and ts.tzinfo is not UTC and ts.utcoffset():
            self.received_at = ts.astimezone(UTC)


class PageView(Event, tag="page_view"):
    """A page was shown."""

    name: Text | None = None
    category: Id | None = None


class _ItemEvent(Event):
    """Fields of events about one product (not an event type itself)."""

    item_id: Id
    category: Id | None = None
    price: Money | None = None


class _CartChange(_ItemEvent):
    """Fields of a change to the cart (not an event type itself)."""

    quantity: Quantity | None = None
    """How many; 1 when missing."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.quantity is None:
            self.quantity = 1


class ProductView(_ItemEvent, tag="product_view"):
    """A product detail page was shown."""


class Click(Event, tag="click"):
    """Something was clicked: a product tile, a link, a button."""

    item_id: Id | None = None
    category: Id | None = None
    target: Text | None = None


class Scroll(Event, tag="scroll"):
    """The reader reached a scroll depth on the page."""

    depth_percent: Percent


class AddToCart(_CartChange, tag="add_to_cart"):
    """A product went into the cart."""


class RemoveFromCart(_CartChange, tag="remove_from_cart"):
    """A product left the cart."""


class AddToWishlist(_ItemEvent, tag="add_to_wishlist"):
    """A product was saved for later."""


class Purchase(Event, tag="purchase"):
    """An order was completed. ``revenue`` defaults to the sum of the priced line items."""

    order_id: Id | None = None
    revenue: Money | None = None
    currency: Currency | None = None
    """ISO 4217 code; ``USD`` when missing."""
    line_items: list[LineItem] = []
    item_id: Id | None = None
    category: Id | None = None
    price: Money | None = None
    quantity: Quantity | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.currency is None:
            self.currency = "USD"
        if self.revenue is None and self.line_items:
            if all(li.price is not None for li in self.line_items):
                self.revenue = float(sum((li.price or 0.0) * li.quantity for li in self.line_items))
        elif self.revenue is None and self.price is not None:
            self.revenue = self.price * (self.quantity or 1)


class Search(Event, tag="search"):
    """A search was run."""

    query: Annotated[str, msgspec.Meta(max_length=1024)]


class EmailOpen(Event, tag="email_open"):
    """A marketing email was opened."""

    default_channel: ClassVar[str] = "email"

    campaign_id: Id | None = None


class EmailClick(Event, tag="email_click"):
    """A link in a marketing email was clicked."""

    default_channel: ClassVar[str] = "email"

    campaign_id: Id | None = None
    url: Text | None = None


class Identify(Event, tag="identify"):
    """Who the person is: links ``anonymous_id`` to ``user_id`` and carries traits."""

    traits: dict[str, Any] = {}


class Custom(Event, tag="custom"):
    """Any other named event."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


AnyEvent = (
    PageView
    | ProductView
    | Click
    | Scroll
    | AddToCart
    | RemoveFromCart
    | AddToWishlist
    | Purchase
    | Search
    | EmailOpen
    | EmailClick
    | Identify
    | Custom
)
"""Any concrete event; decoding picks the class by ``type``."""

EVENT_TYPES: Final[dict[str, type[Event]]] = {
    cls.__struct_config__.tag: cls for cls in AnyEvent.__args__
}
"""Event type name to its class, in declaration order."""

_decoder = msgspec.json.Decoder(AnyEvent)
_encoder = msgspec.json.Encoder()


def decode_event(data: bytes | str | msgspec.Raw) -> Event:
    """Decode and validate one event from JSON; raises :class:`msgspec.ValidationError`."""
    return _decoder.decode(data)  # type: ignore[no-any-return]


def event_from_dict(data: dict[str, Any]) -> Event:
    """Validate one event given as a Python mapping (the path imports and the simulator take)."""
    return msgspec.convert(data, AnyEvent)  # type: ignore[no-any-return]


def encode_event(event: Event) -> bytes:
    """The event as JSON, in the native wire format."""
    return _encoder.encode(event)


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one event and of the ``POST /v1/events`` body."""
    (event_ref, batch_ref), components = msgspec.json.schema_components(
        [AnyEvent, EventBatch], ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "intentflow event",
        **event_ref,
        "$defs": components,
        "x-batch": batch_ref,
    }


class EventBatch(msgspec.Struct):
    """The body of ``POST /v1/events``."""

    events: list[AnyEvent]


# ---- lake columns -------------------------------------------------------------------------------

JSON_COLUMNS: Final = ("properties", "traits")
"""Free-form mappings, stored as JSON text."""


def _arrow_type(info: msgspec.inspect.Type) -> pa.DataType:
    import msgspec.inspect as mi

    if isinstance(info, mi.UnionType):
        (inner,) = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return _arrow_type(inner)
    if isinstance(info, (mi.StrType, mi.LiteralType)):
        return pa.string()
    if isinstance(info, mi.FloatType):
        return pa.float64()
    if isinstance(info, mi.IntType):
        return pa.int64()
    if isinstance(info, mi.DateTimeType):
        return pa.timestamp("us", tz="UTC")
    if isinstance(info, mi.DictType):
        return pa.string()
    if isinstance(info, mi.ListType):
        return pa.list_(_arrow_type(info.item_type))
    if isinstance(info, mi.StructType):
        return pa.struct([pa.field(f.encode_name, _arrow_type(f.type)) for f in info.fields])
    raise TypeError(f"no lake column type for {info!r}")


def _lake_schema() -> pa.Schema:
    import msgspec.inspect as mi

    fields: dict[str, pa.Field] = {"type": pa.field("type", pa.string(), nullable=False)}
    for cls in EVENT_TYPES.values():
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        for f in info.fields:
            if f.encode_name not in fields:
                fields[f.encode_name] = pa.field(f.encode_name, _arrow_type(f.type))
    ordered = [fields.pop(name) for name in _COLUMN_ORDER if name in fields]
    return pa.schema(ordered + list(fields.values()))


_COLUMN_ORDER: Final = [
    "message_id",
    "type",
    "user_id",
    "anonymous_id",
    "session_id",
    "timestamp",
    "received_at",
    "channel",
    "source",
    "item_id",
    "category",
    "price",
    "quantity",
    "order_id",
    "revenue",
    "currency",
    "line_items",
    "query",
    "depth_percent",
    "name",
    "target",
    "url",
    "campaign_id",
    "context",
    "properties",
    "traits",
]


LAKE_SCHEMA: Final[pa.Schema] = _lake_schema()
"""Columns of the lake's event files, derived from the event classes (the partition column
``event_date`` lives in the path)."""


def _lake_row(event: Event) -> Event:
    """The event with its free-form mappings turned into JSON text, as the lake stores them."""
    changes = {
        name: _encoder.encode(value).decode()
        for name in JSON_COLUMNS
        if (value := getattr(event, name, None))
    }
    return msgspec.structs.replace(event, **changes) if changes else event


def lake_line(event: Event) -> bytes:
    """One event as an NDJSON lake line (with its newline)."""
    return _encoder.encode(_lake_row(event)) + b"\n"


def lake_lines(events: list[Event]) -> bytes:
    """Many events as NDJSON lake lines, one per event."""
    return _encoder.encode_lines([_lake_row(event) for event in events])


def from_lake_row(row: dict[str, Any]) -> Event:
    """Rebuild an event from a row read back from the lake."""
    data = {k: v for k, v in row.items() if v is not None and k != "event_date"}
    for name in JSON_COLUMNS:
        if isinstance(data.get(name), str):
            data[name] = msgspec.json.decode(data[name])
    if data.get("line_items") == []:
        data.pop("line_items")
    return event_from_dict(data)
