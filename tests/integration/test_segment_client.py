"""The real Segment and RudderStack Python SDKs against the collector running as a subprocess.

No mocks: ``segment-analytics-python`` and ``rudder-sdk-python`` send real HTTP (``POST /v1/batch``,
write key as the Basic username and as ``writeKey`` in the body, gzip or not) to ``intentflow
serve``; SIGTERM flushes the log and the lake is read back through DuckDB. The checks cover how each
Segment call maps to an intentflow event, that ``messageId`` is the stored ``message_id``, that a
retried message lands once, and that a wrong write key is reported to the SDK and stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient  # type: ignore[import-untyped]
from segment.analytics.request import APIError  # type: ignore[import-untyped]
from segment.analytics.request import post as segment_post

from intentflow.lake.reader import Lake
from tests.conftest import WRITE_KEY
from tests.integration.conftest import ServerProcess

Message = dict[str, Any]
Row = dict[str, Any]
Errors = list[tuple[Exception, list[Message]]]

USER = "u-1"
ANON = "anon-1"
WEB_CONTEXT: Message = {
    "ip": "203.0.113.9",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
    "locale": "en-US",
    "page": {"url": "https://shop.example/p/sku-1", "referrer": "https://search.example/"},
}


# ---- helpers -------------------------------------------------------------------------------------


def _segment(
    server: ServerProcess, errors: Errors, *, sync: bool, gzip: bool, key: str = WRITE_KEY
) -> Any:
    """A Segment client aimed at the server; upload failures are collected in ``errors``."""

    def on_error(exc: Exception, batch: list[Message]) -> None:
        errors.append((exc, batch))

    return SegmentClient(
        key,
        host=server.url,
        sync_mode=sync,
        gzip=gzip,
        on_error=on_error,
        max_retries=1,
        upload_interval=0.05,
    )


def _drain(client: Any, *, sync: bool) -> None:
    """Wait until a background client has uploaded its queue, then stop its consumer thread."""
    if not sync:
        client.flush()
        client.join()


def _kept(result: tuple[bool, Message]) -> Message:
    """The message a client call returned, after checking it was sent or queued."""
    ok, message = result
    assert ok is True, f"the client did not take {message!r}"
    return message


def _lake_rows(server: ServerProcess) -> dict[str, Row]:
    """Every event in the server's lake, by message id (asserting no id is stored twice)."""
    lake = Lake(str(server.data_dir / "lake"))
    con = lake.connect()
    try:
        relation = lake.events(con)
        columns = relation.columns
        rows = [dict(zip(columns, values, strict=True)) for values in relation.fetchall()]
    finally:
        con.close()
    by_id = {row["message_id"]: row for row in rows}
    assert len(by_id) == len(rows), "a message id is stored more than once"
    return by_id


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _send_catalogue(client: Any) -> dict[str, Message]:
    """One call of every kind the collector maps; the messages as the client sent them, by label."""
    sent: dict[str, Message] = {}
    sent["viewed"] = _kept(
        client.track(
            USER,
            "Product Viewed",
            {
                "product_id": "sku-1",
                "price": 19.99,
                "category": "shoes",
                "quantity": 1,
                "session_id": "s-1",
            },
            context=dict(WEB_CONTEXT),
        )
    )
    sent["clicked"] = _kept(
        client.track(
            event="Product Clicked",
            anonymous_id=ANON,
            properties={"product_id": "sku-2", "position": 3},
        )
    )
    sent["added"] = _kept(
        client.track(
            USER,
            "Product Added",
            {"product_id": "sku-1", "price": 19.99, "quantity": 2},
        )
    )
    sent["removed"] = _kept(
        client.track(
            USER,
            "Product Removed",
            {"sku": "sku-1", "price": 19.99, "quantity": 1},
        )
    )
    sent["wishlist"] = _kept(
        client.track(
            USER,
            "Product Added to Wishlist",
            {"product_id": 42, "price": 5.0, "quantity": 3},
        )
    )
    sent["order"] = _kept(
        client.track(
            USER,
            "Order Completed",
            {
                "order_id": "o-100",
                "revenue": 44.97,
                "currency": "EUR",
                "products": [
                    {"product_id": "sku-1", "price": 19.99, "quantity": 2, "category": "shoes"},
                    {"sku": "sku-3", "price": 4.99},
                ],
            },
        )
    )
    sent["searched"] = _kept(client.track(USER, "Products Searched", {"query": "running shoes"}))
    sent["opened"] = _kept(client.track(USER, "Email Opened", {"campaign_id": "c-7"}))
    sent["link"] = _kept(
        client.track(
            USER,
            "Email Link Clicked",
            {"campaign_id": "c-7", "link_url": "https://shop.example/sale"},
        )
    )
    sent["custom"] = _kept(client.track(USER, "Coupon Applied", {"coupon": "SAVE10"}))
    sent["page"] = _kept(
        client.page(
            USER,
            category="Docs",
            name="Pricing",
            properties={"url": "https://shop.example/pricing", "referrer": "https://blog.example/"},
        )
    )
    # Name and category only in the properties: the SDK still sends `"name": null` at the top.
    sent["page_props"] = _kept(
        client.page(
            anonymous_id=ANON,
            properties={"name": "Checkout", "category": "Shop"},
        )
    )
    sent["screen"] = _kept(client.screen(USER, name="Home", properties={"tab": "deals"}))
    sent["identify"] = _kept(
        client.identify(
            USER,
            {"email": "ada@example.com", "plan": "pro", "logins": 3},
            anonymous_id=ANON,
        )
    )
    # Traits only in context.traits: the SDK still sends `"traits": {}` at the top.
    sent["identify_context"] = _kept(
        client.identify(
            anonymous_id="anon-2",
            context={"traits": {"plan": "trial"}},
        )
    )
    sent["alias"] = _kept(client.alias(ANON, USER))
    sent["group"] = _kept(client.group(USER, "g-1", {"name": "Acme", "employees": 40}))
    return sent


EXPECTED: dict[str, Row] = {
    "viewed": {
        "type": "product_view",
        "user_id": USER,
        "anonymous_id": None,
        "session_id": "s-1",
        "item_id": "sku-1",
        "price": 19.99,
        "category": "shoes",
        "quantity": None,
        "channel": "web",
        "context": {
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "ip": "203.0.113.9",
            "page_url": "https://shop.example/p/sku-1",
            "referrer": "https://search.example/",
            "locale": "en-US",
        },
    },
    "clicked": {
        "type": "click",
        "user_id": None,
        "anonymous_id": ANON,
        "item_id": "sku-2",
        "channel": "web",
    },
    "added": {
        "type": "add_to_cart",
        "user_id": USER,
        "item_id": "sku-1",
        "price": 19.99,
        "quantity": 2,
    },
    "removed": {
        "type": "remove_from_cart",
        "user_id": USER,
        "item_id": "sku-1",
        "price": 19.99,
        "quantity": 1,
    },
    "wishlist": {
        "type": "add_to_wishlist",
        "user_id": USER,
        "item_id": "42",
        "price": 5.0,
        "quantity": None,
    },
    "order": {
        "type": "purchase",
        "user_id": USER,
        "order_id": "o-100",
        "revenue": 44.97,
        "currency": "EUR",
        "line_items": [
            {"item_id": "sku-1", "category": "shoes", "price": 19.99, "quantity": 2},
            {"item_id": "sku-3", "category": None, "price": 4.99, "quantity": 1},
        ],
    },
    "searched": {"type": "search", "user_id": USER, "query": "running shoes"},
    "opened": {"type": "email_open", "user_id": USER, "campaign_id": "c-7", "channel": "email"},
    "link": {
        "type": "email_click",
        "user_id": USER,
        "campaign_id": "c-7",
        "url": "https://shop.example/sale",
        "channel": "email",
    },
    "custom": {"type": "custom", "user_id": USER, "name": "Coupon Applied", "channel": "web"},
    "page": {
        "type": "page_view",
        "user_id": USER,
        "name": "Pricing",
        "category": "Docs",
        "channel": "web",
        "context": {
            "user_agent": None,
            "ip": None,
            "page_url": "https://shop.example/pricing",
            "referrer": "https://blog.example/",
            "locale": None,
        },
    },
    "page_props": {
        "type": "page_view",
        "user_id": None,
        "anonymous_id": ANON,
        "name": "Checkout",
        "category": "Shop",
        "channel": "web",
    },
    "screen": {"type": "page_view", "user_id": USER, "name": "Home", "channel": "mobile"},
    "identify": {"type": "identify", "user_id": USER, "anonymous_id": ANON, "channel": "web"},
    "identify_context": {"type": "identify", "user_id": None, "anonymous_id": "anon-2"},
    "alias": {"type": "identify", "user_id": USER, "anonymous_id": ANON},
    "group": {"type": "custom", "user_id": USER, "name": "group"},
}
"""Lake columns each catalogue call must end up with (columns not named are not checked here)."""

EXPECTED_JSON: dict[str, dict[str, Any]] = {
    "viewed": {
        "properties": {
            "product_id": "sku-1",
            "price": 19.99,
            "category": "shoes",
            "quantity": 1,
            "session_id": "s-1",
        }
    },
    "custom": {"properties": {"coupon": "SAVE10"}},
    "screen": {"properties": {"tab": "deals"}},
    "identify": {"traits": {"email": "ada@example.com", "plan": "pro", "logins": 3}},
    "identify_context": {"traits": {"plan": "trial"}},
    "alias": {"properties": {"previous_id": ANON}},
    "group": {"properties": {"group_id": "g-1", "traits": {"name": "Acme", "employees": 40}}},
}
"""The JSON-text columns (``properties``, ``traits``) each call must end up with, decoded."""


def _check_catalogue(rows: dict[str, Row], sent: dict[str, Message]) -> None:
    for label, message in sent.items():
        row = rows[message["messageId"]]
        got = {column: row[column] for column in EXPECTED[label]}
        assert got == EXPECTED[label], label
        for column, value in EXPECTED_JSON.get(label, {}).items():
            assert _json(row[column]) == value, (label, column)
        assert row["source"] == "segment", label
        assert row["timestamp"] == datetime.fromisoformat(message["timestamp"]), label
        assert row["received_at"] is not None, label


# ---- Segment SDK ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "background"])
def test_segment_calls_land_in_the_lake_as_intentflow_events(
    server: ServerProcess, sync: bool, gzip: bool
) -> None:
    errors: Errors = []
    client = _segment(server, errors, sync=sync, gzip=gzip)
    sent = _send_catalogue(client)
    _drain(client, sync=sync)
    assert errors == []
    assert server.terminate() == 0

    rows = _lake_rows(server)
    assert len(rows) == len(sent) == len(EXPECTED)
    assert set(rows) == {message["messageId"] for message in sent.values()}
    _check_catalogue(rows, sent)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "background"])
def test_a_message_sent_twice_lands_once(server: ServerProcess, sync: bool) -> None:
    errors: Errors = []
    client = _segment(server, errors, sync=sync, gzip=True)
    stamp = datetime.now(UTC) - timedelta(minutes=5)
    first = [
        _kept(
            client.track(
                USER,
                "Product Viewed",
                {"product_id": f"sku-{i}"},
                timestamp=stamp,
                message_id=f"retry-{sync}-{i}",
            )
        )
        for i in range(3)
    ]
    # The same calls again, as an app that retries on its own would make them (a background client
    # may put both copies into one batch: the collector drops the repeat within the batch too).
    again = [
        _kept(
            client.track(
                USER,
                "Product Viewed",
                {"product_id": f"sku-{i}"},
                timestamp=stamp,
                message_id=f"retry-{sync}-{i}",
            )
        )
        for i in range(3)
    ]
    _drain(client, sync=sync)
    assert errors == []
    assert [m["messageId"] for m in again] == [m["messageId"] for m in first]

    # The SDK's own retry path: the very same batch posted again, with X-Retry-Count set.
    reply = segment_post(WRITE_KEY, server.url, gzip=True, retry_count=1, batch=first)
    assert reply.json() == {"accepted": 0, "duplicates": 3, "rejected": [], "success": True}

    assert server.terminate() == 0
    rows = _lake_rows(server)
    assert sorted(rows) == sorted(m["messageId"] for m in first)
    assert {row["item_id"] for row in rows.values()} == {"sku-0", "sku-1", "sku-2"}


def test_a_wrong_write_key_reaches_on_error_and_stores_nothing(server: ServerProcess) -> None:
    errors: Errors = []
    bad = _segment(server, errors, sync=False, gzip=True, key="not-a-write-key")
    refused = [
        _kept(bad.track(USER, "Product Viewed", {"product_id": "sku-x"})),
        _kept(bad.identify(USER, {"plan": "free"})),
    ]
    _drain(bad, sync=False)

    assert len(errors) == 1
    exc, batch = errors[0]
    assert isinstance(exc, APIError)
    assert exc.status == 401
    assert [m["messageId"] for m in batch] == [m["messageId"] for m in refused]

    # A sync client has no on_error path: the same refusal is raised from the call itself.
    sync_bad = _segment(server, errors, sync=True, gzip=False, key="not-a-write-key")
    with pytest.raises(APIError) as raised:
        sync_bad.track(USER, "Product Viewed", {"product_id": "sku-y"})
    assert raised.value.status == 401
    assert len(errors) == 1

    good = _segment(server, errors, sync=True, gzip=False)
    kept = _kept(good.track(USER, "Product Viewed", {"product_id": "sku-ok"}))
    assert server.terminate() == 0
    rows = _lake_rows(server)
    assert list(rows) == [kept["messageId"]]


# ---- RudderStack SDK -----------------------------------------------------------------------------


@pytest.fixture
def rudder(server: ServerProcess) -> Iterator[tuple[Any, Errors]]:
    """A RudderStack client (background thread, gzip on by default) whose data plane is the
    server; its consumer thread is stopped afterwards."""
    errors: Errors = []

    def on_error(exc: Exception, batch: list[Message]) -> None:
        errors.append((exc, batch))

    client = RudderClient(
        WRITE_KEY, host=server.url, on_error=on_error, max_retries=1, upload_interval=0.05
    )
    assert client.gzip is True
    yield client, errors
    client.join()


def test_rudderstack_calls_land_with_their_types(
    server: ServerProcess, rudder: tuple[Any, Errors]
) -> None:
    client, errors = rudder
    viewed = _kept(client.track(USER, "Product Viewed", {"product_id": "sku-1", "price": 9.5}))
    order = _kept(
        client.track(
            USER,
            "Order Completed",
            {"order_id": "o-7", "products": [{"product_id": "sku-1", "price": 9.5, "quantity": 2}]},
        )
    )
    custom = _kept(
        client.track(anonymous_id=ANON, event="Newsletter Joined", properties={"list": "weekly"})
    )
    # RudderStack puts identify traits into context.traits, not at the top of the message.
    identify = _kept(client.identify(USER, {"email": "ada@example.com"}, anonymous_id=ANON))
    assert "traits" not in identify
    assert identify["context"]["traits"] == {"email": "ada@example.com"}
    client.flush()
    assert errors == []
    assert server.terminate() == 0

    rows = _lake_rows(server)
    sent = {"viewed": viewed, "order": order, "custom": custom, "identify": identify}
    assert set(rows) == {message["messageId"] for message in sent.values()}
    got = {label: rows[message["messageId"]] for label, message in sent.items()}
    assert {label: row["type"] for label, row in got.items()} == {
        "viewed": "product_view",
        "order": "purchase",
        "custom": "custom",
        "identify": "identify",
    }
    assert (got["viewed"]["item_id"], got["viewed"]["price"]) == ("sku-1", 9.5)
    # No revenue in the message: the purchase's revenue is the sum of its line items.
    assert (got["order"]["order_id"], got["order"]["revenue"]) == ("o-7", 19.0)
    assert (got["custom"]["name"], got["custom"]["anonymous_id"]) == ("Newsletter Joined", ANON)
    assert _json(got["identify"]["traits"]) == {"email": "ada@example.com"}
    assert (got["identify"]["user_id"], got["identify"]["anonymous_id"]) == (USER, ANON)
    for label, row in got.items():
        assert row["source"] == "segment", label
        # RudderStack stamps every message with "channel": "server"; it is kept as given.
        assert row["channel"] == "server", label
        assert row["timestamp"] == datetime.fromisoformat(sent[label]["timestamp"]), label
